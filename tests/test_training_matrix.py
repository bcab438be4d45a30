"""Authorization matrix of the training actions (SPEC §6, issue 14), the reading doors: every
door × every persona, on the row of "own" and on the "other" one. The writing doors are in
tests/test_training_matrix_writes.py; the world is tests/support/training_world.py's.

The world (built through portal/training_actions' write path, removed at the end): the action
OFFERED (active) with a session FUTURE (in a fortnight) where BENEF (ACME, beneficiary right
only) and GLOBEX_BENEF (Globex) each have a request « demandée » (own_f, other_f), a session
PAST (last week, Monday and Tuesday) where each has a request retained, convoked, noted
present, closed « présente » and with its attestation (own_p, other_p: the stored
convocation and attestation PDFs), a session OPEN (no request); the action WITHDRAWN
(inactive) with its session LATER. Personas: the cfa_admin, a CFA conseiller, a training
manager (resp.info: formation_responsable, not in CFA_ROLES), ACME's référent, BENEF, a member
of ACME with the employer right (DECIDER), a plain approved member of ACME (PLAIN), Globex's
référent, an apprentice, an account with no role, nobody.

How to read the tables: one row per persona, one column per door; one pytest case per cell.
"own" and "other" are the requests of ACME's beneficiary and of Globex's (the request tables),
or the offered action and the withdrawn one with their sessions (the catalogue's and the
sessions' tables). SEE / HIDE: the row is in the list or not; 200: the page or the PDF; 404:
answered exactly like an id that does not exist, nothing of the row in the body; 403: not a
screen of theirs; NIL: Flask-Admin's 302 back to the list (a door the view does not offer that
person); LOGIN: 302 to the login page. A page that lists or shows nothing of the row shows
none of its data (name, e-mail, motivation; title and place of a withdrawn action).

Policy (issue 14): the CFA sees all; a structure's référent and the members with the employer
right see their structure's requests; a beneficiary only their own; apprentices, training
managers and accounts with no role have no part (403); another structure's request answers
like a missing one (404); the catalogue is read by employers' staff (its active actions) and
written by the CFA only. Defensible choices documented by the tables: a structure's deciders
do not download its requests' stored convocation and attestation (404: the CFA and the
person only — the convocation e-mail reaches them in copy); the émargement, the conventions
and the attendance grid are the CFA's (403 to employers, who see the session itself); the
request list's exports are the CFA's (302 back to the list for the others). There is no screen
for the request limits (RegleInscription): they are data the cfa_admin changes in the database.
"""
from __future__ import annotations

import csv
import io
import json
import re

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from portal.extensions import db
from portal.models import Document, Inscription, RegleInscription, StructureMembership, User
from portal.policy import decider_structure_ids
from tests.support.training_world import (  # noqa: F401 - fixtures
    ADMIN, ALICE, ANON, BENEF, CONSEIL, DECIDER, F403, HIDE, LABEL, LOGIN, MISSING, MOTIVATION,
    N404, NIL, OK, OUTSIDER, PERSONAS, PLAIN, REFERENT, RESP_INFO, RH_GLOBEX, SEE, as_,
    assert_back_to, assert_like_missing, assert_login, assert_no_trace, secrets_of, sessions,
    text_of, world)

SEL, ACT = "vers_sélection", "vers_action"  # a session's details: 302 to one of these pages
_EMPLOYERS = (REFERENT, BENEF, DECIDER, PLAIN, RH_GLOBEX)



# --- 1. the catalogue /admin/action-formation/: own = the offered action, other = withdrawn ----
CATALOGUE_DOORS = ["liste", "recherche", "filtre_proposee", "details", "modification_get"]
CATALOGUE_OWN = [
    # persona     liste  recherche filtre  details modification_get
    (ADMIN,       SEE,   SEE,      SEE,    OK,     OK),
    (CONSEIL,     SEE,   SEE,      SEE,    OK,     OK),
    (RESP_INFO,   F403,  F403,     F403,   F403,   F403),
    (REFERENT,    SEE,   SEE,      SEE,    OK,     NIL),
    (BENEF,       SEE,   SEE,      SEE,    OK,     NIL),
    (DECIDER,     SEE,   SEE,      SEE,    OK,     NIL),
    (PLAIN,       SEE,   SEE,      SEE,    OK,     NIL),
    (RH_GLOBEX,   SEE,   SEE,      SEE,    OK,     NIL),
    (ALICE,       F403,  F403,     F403,   F403,   F403),
    (OUTSIDER,    F403,  F403,     F403,   F403,   F403),
    (ANON,        LOGIN, LOGIN,    LOGIN,  LOGIN,  LOGIN),
]
CATALOGUE_OTHER = [
    (ADMIN,       SEE,   SEE,      SEE,    OK,     OK),
    (CONSEIL,     SEE,   SEE,      SEE,    OK,     OK),
    (RESP_INFO,   F403,  F403,     F403,   F403,   F403),
    (REFERENT,    HIDE,  HIDE,     HIDE,   N404,   NIL),
    (BENEF,       HIDE,  HIDE,     HIDE,   N404,   NIL),
    (DECIDER,     HIDE,  HIDE,     HIDE,   N404,   NIL),
    (PLAIN,       HIDE,  HIDE,     HIDE,   N404,   NIL),
    (RH_GLOBEX,   HIDE,  HIDE,     HIDE,   N404,   NIL),
    (ALICE,       F403,  F403,     F403,   F403,   F403),
    (OUTSIDER,    F403,  F403,     F403,   F403,   F403),
    (ANON,        LOGIN, LOGIN,    LOGIN,  LOGIN,  LOGIN),
]

# --- 2. the sessions /admin/session-formation/: own = FUTURE (offered), other = LATER ----------
SESSION_DOORS = ["liste", "filtre_action", "details", "modification_get", "selection"]
SESSION_OWN = [
    # persona     liste  filtre_action details modification_get selection
    (ADMIN,       SEE,   SEE,          SEL,    OK,              OK),
    (CONSEIL,     SEE,   SEE,          SEL,    OK,              OK),
    (RESP_INFO,   F403,  F403,         F403,   F403,            F403),
    (REFERENT,    SEE,   SEE,          ACT,    NIL,             F403),
    (BENEF,       SEE,   SEE,          ACT,    NIL,             F403),
    (DECIDER,     SEE,   SEE,          ACT,    NIL,             F403),
    (PLAIN,       SEE,   SEE,          ACT,    NIL,             F403),
    (RH_GLOBEX,   SEE,   SEE,          ACT,    NIL,             F403),
    (ALICE,       F403,  F403,         F403,   F403,            F403),
    (OUTSIDER,    F403,  F403,         F403,   F403,            F403),
    (ANON,        LOGIN, LOGIN,        LOGIN,  LOGIN,           LOGIN),
]
SESSION_OTHER = [
    (ADMIN,       SEE,   SEE,          SEL,    OK,              OK),
    (CONSEIL,     SEE,   SEE,          SEL,    OK,              OK),
    (RESP_INFO,   F403,  F403,         F403,   F403,            F403),
    (REFERENT,    HIDE,  HIDE,         N404,   NIL,             N404),
    (BENEF,       HIDE,  HIDE,         N404,   NIL,             N404),
    (DECIDER,     HIDE,  HIDE,         N404,   NIL,             N404),
    (PLAIN,       HIDE,  HIDE,         N404,   NIL,             N404),
    (RH_GLOBEX,   HIDE,  HIDE,         N404,   NIL,             N404),
    (ALICE,       F403,  F403,         F403,   F403,            F403),
    (OUTSIDER,    F403,  F403,         F403,   F403,            F403),
    (ANON,        LOGIN, LOGIN,        LOGIN,  LOGIN,           LOGIN),
]

# --- 3. doors with no row: the creation forms, the catalogue's and the sessions' exports -------
ROWLESS_DOORS = ["action_creation_get", "action_export", "session_creation_get",
                 "session_export", "inscription_creation_get"]
_EMPLOYER_ROWLESS = (NIL, NIL, NIL, NIL, NIL)
ROWLESS = [
    # persona     action: new export   session: new export   inscription: new
    (ADMIN,       OK, NIL,             OK, NIL,              NIL),
    (CONSEIL,     OK, NIL,             OK, NIL,              NIL),
    (RESP_INFO,   *(F403,) * 5),
    (REFERENT,    *_EMPLOYER_ROWLESS),
    (BENEF,       *_EMPLOYER_ROWLESS),
    (DECIDER,     *_EMPLOYER_ROWLESS),
    (PLAIN,       *_EMPLOYER_ROWLESS),
    (RH_GLOBEX,   *_EMPLOYER_ROWLESS),
    (ALICE,       *(F403,) * 5),
    (OUTSIDER,    *(F403,) * 5),
    (ANON,        *(LOGIN,) * 5),
]

# --- 4. the session PAST's documents (the CFA's doors) -----------------------------------------
SESSION_DOC_DOORS = ["emargement", "presences_get", "convention_acme", "convention_globex"]
SESSION_DOCS = [
    # persona     emargement presences convention_acme convention_globex
    (ADMIN,       OK,        OK,       OK,             OK),
    (CONSEIL,     OK,        OK,       OK,             OK),
    *[(p, F403, F403, F403, F403) for p in (RESP_INFO, *_EMPLOYERS, ALICE, OUTSIDER)],
    (ANON,        LOGIN,     LOGIN,    LOGIN,          LOGIN),
]

# --- 5. the requests /admin/inscription/: own = BENEF's (ACME), other = GLOBEX_BENEF's ----------
LIST_DOORS = ["liste", "recherche", "filtre_etat", "filtre_action", "filtre_session",
              "filtre_structure"]
LIST_SCOPE = [
    # persona     own    other
    (ADMIN,       SEE,   SEE),
    (CONSEIL,     SEE,   SEE),
    (RESP_INFO,   F403,  F403),
    (REFERENT,    SEE,   HIDE),
    (BENEF,       SEE,   HIDE),   # their own
    (DECIDER,     SEE,   HIDE),   # the employer right of ACME
    (PLAIN,       HIDE,  HIDE),   # a member with no right: an empty list
    (RH_GLOBEX,   HIDE,  SEE),
    (ALICE,       F403,  F403),
    (OUTSIDER,    F403,  F403),
    (ANON,        LOGIN, LOGIN),
]
EXPORT_DOORS = ["export_csv", "export_xlsx"]
EXPORT_SCOPE = [
    # persona     own    other   (the export is the CFA's: 302 back to the list for others)
    (ADMIN,       SEE,   SEE),
    (CONSEIL,     SEE,   SEE),
    (RESP_INFO,   F403,  F403),
    *[(p, NIL, NIL) for p in _EMPLOYERS],
    (ALICE,       F403,  F403),
    (OUTSIDER,    F403,  F403),
    (ANON,        LOGIN, LOGIN),
]
# details: the request of FUTURE; its generic edit page answers 404 to all who open the list.
REQUEST_DOORS = ["details", "details_passee", "modification_get", "convocation_pdf",
                 "attestation_pdf"]
REQUEST_OWN = [
    # persona     details details_passee modification_get convocation_pdf attestation_pdf
    (ADMIN,       OK,     OK,            N404,            OK,             OK),
    (CONSEIL,     OK,     OK,            N404,            OK,             OK),
    (RESP_INFO,   F403,   F403,          F403,            F403,           F403),
    (REFERENT,    OK,     OK,            N404,            N404,           N404),  # CFA + person
    (BENEF,       OK,     OK,            N404,            OK,             OK),
    (DECIDER,     OK,     OK,            N404,            N404,           N404),
    (PLAIN,       N404,   N404,          N404,            N404,           N404),
    (RH_GLOBEX,   N404,   N404,          N404,            N404,           N404),
    (ALICE,       F403,   F403,          F403,            F403,           F403),
    (OUTSIDER,    F403,   F403,          F403,            F403,           F403),
    (ANON,        LOGIN,  LOGIN,         LOGIN,           LOGIN,          LOGIN),
]
REQUEST_OTHER = [
    (ADMIN,       OK,     OK,            N404,            OK,             OK),
    (CONSEIL,     OK,     OK,            N404,            OK,             OK),
    (RESP_INFO,   F403,   F403,          F403,            F403,           F403),
    (REFERENT,    N404,   N404,          N404,            N404,           N404),
    (BENEF,       N404,   N404,          N404,            N404,           N404),
    (DECIDER,     N404,   N404,          N404,            N404,           N404),
    (PLAIN,       N404,   N404,          N404,            N404,           N404),
    (RH_GLOBEX,   OK,     OK,            N404,            N404,           N404),
    (ALICE,       F403,   F403,          F403,            F403,           F403),
    (OUTSIDER,    F403,   F403,          F403,            F403,           F403),
    (ANON,        LOGIN,  LOGIN,         LOGIN,           LOGIN,          LOGIN),
]

# --- 6. the home page's « Actions de formation » block ------------------------------------------
# bloc: the block is on the page (HIDE: not at all); a_decider: the count of the requests to
# accept or refuse, exactly those « demandée » of the structures the person decides for;
# a_selectionner: the CFA's count of the requests accepted by their employer (all of them);
# mes_demandes: the table of the person's own requests, exactly theirs.
DASHBOARD_DOORS = ["bloc", "a_decider", "a_selectionner", "mes_demandes"]
DASHBOARD = [
    # persona     bloc   a_decider a_selectionner mes_demandes
    (ADMIN,       OK,    HIDE,     SEE,           HIDE),
    (CONSEIL,     OK,    HIDE,     SEE,           HIDE),
    (RESP_INFO,   HIDE,  HIDE,     HIDE,          HIDE),
    (REFERENT,    OK,    SEE,      HIDE,          SEE),   # the référent's own demo requests
    (BENEF,       OK,    HIDE,     HIDE,          SEE),
    (DECIDER,     OK,    SEE,      HIDE,          HIDE),
    (PLAIN,       OK,    HIDE,     HIDE,          HIDE),  # the catalogue's link only
    (RH_GLOBEX,   OK,    SEE,      HIDE,          SEE),
    (ALICE,       HIDE,  HIDE,     HIDE,          HIDE),
    (OUTSIDER,    HIDE,  HIDE,     HIDE,          HIDE),
    (ANON,        LOGIN, LOGIN,    LOGIN,         LOGIN),
]

CATALOGUE, SESSIONS, REQUESTS = ("/admin/action-formation/", "/admin/session-formation/",
                                 "/admin/inscription/")


# ================================================================================================
# 0. The tables cover every persona and door; the world is what they assume
# ================================================================================================

def test_every_table_covers_every_persona_and_door():
    for table, doors in ((CATALOGUE_OWN, CATALOGUE_DOORS), (CATALOGUE_OTHER, CATALOGUE_DOORS),
                         (SESSION_OWN, SESSION_DOORS), (SESSION_OTHER, SESSION_DOORS),
                         (ROWLESS, ROWLESS_DOORS), (SESSION_DOCS, SESSION_DOC_DOORS),
                         (LIST_SCOPE, ["own", "other"]), (EXPORT_SCOPE, ["own", "other"]),
                         (REQUEST_OWN, REQUEST_DOORS), (REQUEST_OTHER, REQUEST_DOORS),
                         (DASHBOARD, DASHBOARD_DOORS)):
        assert [row[0] for row in table] == PERSONAS
        assert all(len(row) == len(doors) + 1 for row in table)


def test_the_world_is_what_the_tables_assume(app, world):
    from portal.models import CFA_ROLES
    with app.app_context():
        rows = {k: db.session.get(Inscription, pk) for k, pk in world.rows.items()}
        assert {k: r.state for k, r in rows.items()} == {
            "own_f": "demandee", "other_f": "demandee", "own_p": "presente",
            "other_p": "presente"}
        assert {k: r.structure_id for k, r in rows.items()} == {
            "own_f": world.acme, "own_p": world.acme, "other_f": world.globex,
            "other_p": world.globex}
        for key in ("own_p", "other_p"):
            assert rows[key].convocation_document_id and rows[key].attestation_document_id
        assert rows["own_f"].user.email == BENEF
        rights = {email: (employer, beneficiary) for email, employer, beneficiary in
                  db.session.execute(
                      sa.select(User.email, StructureMembership.droit_contact_employeur,
                                StructureMembership.droit_beneficiaire)
                      .join(StructureMembership, StructureMembership.user_id == User.id)
                      .where(User.email.in_([BENEF, DECIDER, PLAIN]),
                             StructureMembership.structure_id == world.acme))}
        assert rights == {BENEF: (False, True), DECIDER: (True, False), PLAIN: (False, False)}
        trainer = db.session.execute(sa.select(User).where(User.email == RESP_INFO)).scalar_one()
        assert trainer.role_codes == {"formation_responsable"}
        assert not trainer.has_role(*CFA_ROLES)  # resp.info has no part in training actions
        assert not db.session.execute(sa.select(User).where(User.email == OUTSIDER)
                                      ).scalar_one().role_codes


def test_the_request_limits_have_no_screen(app, world, as_):
    """RegleInscription is in the policy (the cfa_admin's) but no view shows it: a URL that
    would be its list answers 404 to the cfa_admin too."""
    admin = next(a for a in app.extensions["admin"] if a.name == "Sillon")
    assert RegleInscription not in {getattr(v, "model", None) for v in admin._views}
    client, _ = as_(ADMIN)
    for url in ("/admin/regleinscription/", "/admin/regle-inscription/",
                "/admin/regles-inscription/"):
        assert client.get(url).status_code == 404


# ================================================================================================
# Helpers
# ================================================================================================

def _ids(text, base) -> set[int]:
    return {int(i) for i in re.findall(re.escape(base) + r"details/\?id=(\d+)", text)}


def _cases(table_own, table_other, doors):
    for which, table in (("own", table_own), ("other", table_other)):
        for persona, *cells in table:
            for door, expected in zip(doors, cells):
                yield pytest.param(persona, door, which, expected,
                                   id=f"{LABEL[persona]}-{door}-{which}-{expected}")


def _flat_cases(table, doors):
    for persona, *cells in table:
        for door, expected in zip(doors, cells):
            yield pytest.param(persona, door, expected, id=f"{LABEL[persona]}-{door}-{expected}")


def _refused(response, expected, secrets, client=None, missing_url=None) -> bool:
    """Check a LOGIN / 403 / 404 / NIL answer; False when ``expected`` is none of these."""
    if expected == LOGIN:
        assert_login(response)
    elif expected == F403:
        assert response.status_code == 403, response.status_code
        assert_no_trace(text_of(response), secrets)
    elif expected == N404:
        assert response.status_code == 404, response.status_code
        if missing_url:
            assert_like_missing(client, response, missing_url, secrets)
        assert_no_trace(text_of(response), secrets)
    else:
        return False
    return True


# ================================================================================================
# 1. The catalogue
# ================================================================================================

def _action(world, which):
    if which == "own":
        return world.offered, world.offered_title, [world.offered_title]
    return world.withdrawn, world.withdrawn_title, [world.withdrawn_title,
                                                    world.withdrawn_public]


@pytest.mark.parametrize("persona,door,which,expected",
                         list(_cases(CATALOGUE_OWN, CATALOGUE_OTHER, CATALOGUE_DOORS)))
def test_catalogue_door(world, as_, persona, door, which, expected):
    client, _ = as_(persona)
    pk, title, secrets = _action(world, which)
    typed = None
    if door == "details":
        response = client.get(f"{CATALOGUE}details/?id={pk}")
    elif door == "modification_get":
        response = client.get(f"{CATALOGUE}edit/?id={pk}")
    else:
        args = {"page_size": 100}
        if door == "recherche":
            args["search"] = typed = title
        elif door == "filtre_proposee":
            arg = world.filter_args["action_formation"]["Proposée au catalogue"]
            args[f"flt0_{arg}"] = "1" if which == "own" else "0"
        response = client.get(CATALOGUE, query_string=args)
    if _refused(response, expected, secrets, client, f"{CATALOGUE}details/?id={MISSING}"):
        return
    if expected == NIL:
        return assert_back_to(response, CATALOGUE)
    assert response.status_code == 200, response.status_code
    page = text_of(response)
    if door in ("details", "modification_get"):
        assert title in page
        return
    assert "Filtre ignoré" not in page
    if expected == SEE:
        assert pk in _ids(page, CATALOGUE)
    else:
        assert pk not in _ids(page, CATALOGUE)
        assert_no_trace(page, secrets, typed=typed)


# ================================================================================================
# 2. The sessions
# ================================================================================================

def _session(world, which):
    if which == "own":
        return world.future, world.offered, [f"details/?id={world.future}"]
    return world.later, world.withdrawn, [world.later_place, world.withdrawn_title]


@pytest.mark.parametrize("persona,door,which,expected",
                         list(_cases(SESSION_OWN, SESSION_OTHER, SESSION_DOORS)))
def test_session_door(world, as_, persona, door, which, expected):
    client, _ = as_(persona)
    pk, action, secrets = _session(world, which)
    if which == "own":
        secrets = []  # the offered action's session is read by every employer
    if door == "details":
        response = client.get(f"{SESSIONS}details/?id={pk}")
    elif door == "modification_get":
        response = client.get(f"{SESSIONS}edit/?id={pk}")
    elif door == "selection":
        response = client.get(f"{SESSIONS}{pk}/selection/")
    else:
        args = {"page_size": 100}
        if door == "filtre_action":
            arg = world.filter_args["session_formation"]["Action de formation"]
            args[f"flt0_{arg}"] = str(action)
        response = client.get(SESSIONS, query_string=args)
    missing = (f"{SESSIONS}{MISSING}/selection/" if door == "selection"
               else f"{SESSIONS}details/?id={MISSING}")
    if _refused(response, expected, secrets, client, missing):
        return
    if expected == NIL:
        return assert_back_to(response, SESSIONS)
    if expected == SEL:
        return assert_back_to(response, f"{SESSIONS}{pk}/selection/")
    if expected == ACT:
        assert response.status_code == 302
        assert response.headers["Location"].endswith(
            f"{CATALOGUE}details/?id={action}#session-{pk}")
        return
    assert response.status_code == 200, response.status_code
    page = text_of(response)
    if door == "selection":
        assert "Sélection des participants" in page
        return
    if door == "modification_get":
        assert 'name="capacite"' in page
        return
    assert "Filtre ignoré" not in page
    if expected == SEE:
        assert pk in _ids(page, SESSIONS)
    else:
        assert pk not in _ids(page, SESSIONS)
        assert_no_trace(page, secrets)


# ================================================================================================
# 3. The doors with no row
# ================================================================================================

ROWLESS_URLS = {"action_creation_get": (f"{CATALOGUE}new/", CATALOGUE),
                "action_export": (f"{CATALOGUE}export/csv/", CATALOGUE),
                "session_creation_get": (f"{SESSIONS}new/", SESSIONS),
                "session_export": (f"{SESSIONS}export/csv/", SESSIONS),
                "inscription_creation_get": (f"{REQUESTS}new/", REQUESTS)}


@pytest.mark.parametrize("persona,door,expected", list(_flat_cases(ROWLESS, ROWLESS_DOORS)))
def test_rowless_door(world, as_, persona, door, expected):
    client, _ = as_(persona)
    url, back = ROWLESS_URLS[door]
    response = client.get(url)
    if _refused(response, expected, []):
        return
    if expected == NIL:
        return assert_back_to(response, back)
    assert response.status_code == 200
    assert 'name="intitule"' in text_of(response) or 'name="capacite"' in text_of(response)


# ================================================================================================
# 4. The session's documents
# ================================================================================================

@pytest.mark.parametrize("persona,door,expected",
                         list(_flat_cases(SESSION_DOCS, SESSION_DOC_DOORS)))
def test_session_document_door(world, as_, persona, door, expected):
    client, _ = as_(persona)
    url = {"emargement": f"{SESSIONS}{world.past}/emargement.pdf",
           "presences_get": f"{SESSIONS}{world.past}/presences/",
           "convention_acme": f"{SESSIONS}{world.past}/convention/{world.acme}.pdf",
           "convention_globex": f"{SESSIONS}{world.past}/convention/{world.globex}.pdf"}[door]
    response = client.get(url)
    if _refused(response, expected, [*secrets_of(world, "own"), *secrets_of(world, "other")]):
        return
    assert response.status_code == 200
    if door == "presences_get":
        page = text_of(response)
        assert f'name="p-{world.rows["own_p"]}-' in page
        assert f'name="p-{world.rows["other_p"]}-' in page
        return
    assert response.mimetype == "application/pdf" and response.data.startswith(b"%PDF")


# ================================================================================================
# 5. The requests: list, search, filters, exports, details, stored documents
# ================================================================================================

def _side(world, which) -> dict[str, int]:
    return {"f": world.rows[f"{which}_f"], "p": world.rows[f"{which}_p"]}


def _list_cases():
    for persona, own, other in LIST_SCOPE:
        for door in LIST_DOORS:
            for which, expected in (("own", own), ("other", other)):
                yield pytest.param(persona, door, which, expected,
                                   id=f"{LABEL[persona]}-{door}-{which}-{expected}")


@pytest.mark.parametrize("persona,door,which,expected", list(_list_cases()))
def test_request_list_door(world, as_, persona, door, which, expected):
    client, _ = as_(persona)
    side, secrets = _side(world, which), secrets_of(world, which)
    args, typed = {"page_size": 100}, None
    wanted = set(side.values())
    flt = world.filter_args["inscription"]
    if door == "recherche":
        args["search"] = typed = world.names[which]
    elif door == "filtre_etat":
        args[f"flt0_{flt['État']}"], wanted = "presente", {side["p"]}
    elif door == "filtre_action":
        args[f"flt0_{flt['Action de formation']}"] = str(world.offered)
    elif door == "filtre_session":
        args[f"flt0_{flt['Session']}"], wanted = str(world.past), {side["p"]}
    elif door == "filtre_structure":
        args[f"flt0_{flt['Structure']}"] = str(world.acme if which == "own" else world.globex)
    response = client.get(REQUESTS, query_string=args)
    if _refused(response, expected, secrets):
        return
    assert response.status_code == 200
    page = text_of(response)
    assert "Filtre ignoré" not in page
    ids = _ids(page, REQUESTS)
    if expected == SEE:
        assert wanted <= ids, (wanted, ids)
        assert world.names[which].lower() in page.lower()
        if door in ("filtre_etat", "filtre_session"):
            assert side["f"] not in ids  # the filter did filter
    else:
        assert not set(side.values()) & ids
        assert_no_trace(page, secrets, typed=typed)


def _export_cases():
    for persona, own, other in EXPORT_SCOPE:
        for door in EXPORT_DOORS:
            for which, expected in (("own", own), ("other", other)):
                yield pytest.param(persona, door, which, expected,
                                   id=f"{LABEL[persona]}-{door}-{which}-{expected}")


def _exported(door, response) -> str:
    if door == "export_csv":
        text = response.get_data().decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
        assert rows[0][:2] == ["Personne", "Courriel"]
    else:
        sheet = load_workbook(io.BytesIO(response.get_data()), read_only=True).active
        rows = [[str(v) if v is not None else "" for v in r] for r in sheet.iter_rows(
            values_only=True)]
        assert rows[0][:2] == ["Personne", "Courriel"]
    return "\n".join(";".join(r) for r in rows)


@pytest.mark.parametrize("persona,door,which,expected", list(_export_cases()))
def test_request_export_door(world, as_, persona, door, which, expected):
    client, _ = as_(persona)
    secrets = secrets_of(world, which)
    response = client.get(f"{REQUESTS}export/{door.split('_')[1]}/")
    if _refused(response, expected, secrets):
        return
    if expected == NIL:
        assert_back_to(response, REQUESTS)
        return assert_no_trace(text_of(response), secrets)
    assert response.status_code == 200
    body = _exported(door, response)
    # Both requests of the side, by their e-mail (one line each).
    assert body.count(world.emails[which]) == 2


@pytest.mark.parametrize("persona,door,which,expected",
                         list(_cases(REQUEST_OWN, REQUEST_OTHER, REQUEST_DOORS)))
def test_request_door(app, world, as_, persona, door, which, expected):
    client, _ = as_(persona)
    side, secrets = _side(world, which), secrets_of(world, which)
    pk = side["p"] if door in ("details_passee", "convocation_pdf", "attestation_pdf") \
        else side["f"]
    if door in ("details", "details_passee"):
        url, missing = f"{REQUESTS}details/?id={pk}", f"{REQUESTS}details/?id={MISSING}"
    elif door == "modification_get":
        url, missing = f"{REQUESTS}edit/?id={pk}", f"{REQUESTS}edit/?id={MISSING}"
    else:
        kind = door.split("_")[0]
        url, missing = (f"{REQUESTS}{pk}/document/{kind}/",
                        f"{REQUESTS}{MISSING}/document/{kind}/")
    response = client.get(url)
    if _refused(response, expected, secrets, client, missing):
        return
    assert response.status_code == 200
    if door.endswith("_pdf"):
        with app.app_context():
            row = db.session.get(Inscription, pk)
            stored = db.session.get(Document, getattr(row, f"{door.split('_')[0]}_document_id"))
            assert response.mimetype == "application/pdf" and response.data == stored.data
        return
    page = text_of(response)
    assert f"Demande d'inscription n° {pk}" in page and MOTIVATION[which] in page
    # Each other side's request stays out of this one's page.
    other = "other" if which == "own" else "own"
    assert_no_trace(page, secrets_of(world, other))



# ================================================================================================
# 6. The home page's block
# ================================================================================================

def _count(pattern, page):
    found = re.search(pattern + r'[^>]*>\s*<span class="h4 mb-0">(\d+)<', page)
    return int(found.group(1)) if found else None


@pytest.mark.parametrize("persona,door,expected", list(_flat_cases(DASHBOARD, DASHBOARD_DOORS)))
def test_dashboard_door(app, world, as_, persona, door, expected):
    client, _ = as_(persona)
    response = client.get("/admin/")
    if expected == LOGIN:
        return assert_login(response)
    assert response.status_code == 200
    page = text_of(response)
    block = re.search(r'<section id="dashboard-training".*?</section>', page, re.S)
    if door == "bloc":
        assert (block is not None) == (expected == OK)
        return
    block = block.group(0) if block else ""
    with app.app_context():
        me = db.session.execute(sa.select(User).where(User.email == persona)).scalar_one()
        decided = [r[0] for r in db.session.execute(decider_structure_ids(me))]
        to_decide = db.session.scalar(sa.select(sa.func.count(Inscription.id)).where(
            Inscription.state == "demandee", Inscription.structure_id.in_(decided)))
        to_select = db.session.scalar(sa.select(sa.func.count(Inscription.id)).where(
            Inscription.state == "acceptee_employeur"))
        mine = set(db.session.scalars(sa.select(Inscription.id).where(
            Inscription.user_id == me.id)))
    if door == "a_decider":
        shown = _count(r'id="training-to-decide"', block)
        if expected == HIDE:
            assert shown is None
            return
        assert shown == to_decide >= 1
        own_side = "own" if world.acme in decided else "other"
        assert (world.acme in decided) != (world.globex in decided)
        assert f"details/?id={world.rows[own_side + '_f']}" not in block  # a count, no row
    elif door == "a_selectionner":
        shown = _count(r'id="training-to-select"', block)
        if expected == HIDE:
            assert shown is None
            return
        assert shown == to_select
    else:
        listed = {int(i) for i in re.findall(r'<tr data-inscription="(\d+)">', block)}
        if expected == HIDE:
            assert 'id="training-mine"' not in block and not listed
            return
        assert listed == mine and mine
    # Whatever the block shows, nothing of a request that is not the person's to see.
    for which in ("own", "other"):
        if persona not in _SEES[which]:
            assert_no_trace(block, secrets_of(world, which))


_SEES = {"own": {ADMIN, CONSEIL, REFERENT, BENEF, DECIDER},
         "other": {ADMIN, CONSEIL, RH_GLOBEX}}


# ================================================================================================
# 7. The lists' filter options name nothing out of the person's scope
# ================================================================================================

OPTIONS = [
    # persona     structures of the request list    the withdrawn action in the sessions' menu
    (ADMIN,       {"acme", "globex"},               True),
    (CONSEIL,     {"acme", "globex"},               True),
    (REFERENT,    {"acme"},                         False),
    (BENEF,       {"acme"},                         False),
    (DECIDER,     {"acme"},                         False),
    (PLAIN,       set(),                            False),
    (RH_GLOBEX,   {"globex"},                       False),
]


def _groups(page) -> dict:
    return json.loads(re.search(r'<div id="filter-groups-data" class="d-none">(.*?)</div>',
                                page, re.S).group(1))


@pytest.mark.parametrize("persona,structures,withdrawn", OPTIONS,
                         ids=[LABEL[p] for p, *_ in OPTIONS])
def test_filter_options_name_only_the_person_s_scope(world, as_, persona, structures,
                                                     withdrawn):
    client, _ = as_(persona)
    groups = _groups(text_of(client.get(REQUESTS)))
    names = {v for _, v in groups["Structure"][0]["options"]}
    wanted = {"acme": world.acme_name, "globex": world.globex_name}
    assert {k for k, v in wanted.items() if v in names} == structures
    sessions_page = _groups(text_of(client.get(SESSIONS)))
    titles = {v for _, v in sessions_page["Action de formation"][0]["options"]}
    assert world.offered_title in titles
    assert (world.withdrawn_title in titles) == withdrawn
