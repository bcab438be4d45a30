"""Authorization matrix of the training actions (SPEC §6, issue 14), the writing doors: every
door × every persona, on the row of "own" and on the "other" one. The world, the personas and
how to read the tables are those of tests/test_training_matrix.py (its docstring); the world
is tests/support/training_world.py's.

A refused write leaves the training tables exactly as they were — the actions, the sessions,
the requests, their history, the attendance marks, and the documents and outbox e-mails from
the world's first one on — read in a fresh session. An allowed one (W) shows its change, and
nothing on the bystander's side; then everything is put back as it was. R422: the French
refusal on the page; NIL: Flask-Admin's 302 back to the list (a door the view does not offer
that person), nothing written.

Each step door is tried from a state where it is possible (the row is put there first through
the write path: accepted by its employer for « retenir », accepted and retained for the
convocation), so a refusal is the person's, not the state's. Which step every role may take
from every state is the step × state × role matrix's (not this file); one step per actor kind
here: « accepter » (the employer's), « retenir » (the CFA's), « annuler » (the beneficiary's,
also the employer's and the CFA's).
"""
from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import ActionFormation, Inscription, SessionFormation, User
from portal.training_actions import service
from tests.support.training_world import (  # noqa: F401 - fixtures
    ADMIN, ALICE, ANON, BENEF, CONSEIL, DECIDER, F403, LABEL, LOGIN, MISSING, N404, NIL,
    OUTSIDER, PERSONAS, PLAIN, R422, REFERENT, RESP_INFO, RH_GLOBEX, W, as_, assert_back_to,
    assert_login, assert_no_trace, diff, observe, post, restore, secrets_of, sessions, text_of,
    weekday_from, world)

_EMPLOYERS = (REFERENT, BENEF, DECIDER, PLAIN, RH_GLOBEX)
CATALOGUE, SESSIONS, REQUESTS = ("/admin/action-formation/", "/admin/session-formation/",
                                 "/admin/inscription/")

# --- 1. the catalogue and the sessions: own = the offered action / FUTURE, other = the withdrawn
# action / LATER; the deletion aims at a throwaway action or session of the same kind ----------
# (suppression_liste: the list's bulk action « Supprimer » on the row)
PLAN_DOORS = ["action_modification", "action_suppression", "action_suppression_liste",
              "session_modification", "session_suppression", "session_suppression_liste"]
PLAN = [
    # persona     action: edit delete bulk   session: edit delete bulk
    (ADMIN,       W, W, W,                   W, W, W),
    (CONSEIL,     W, NIL, NIL,               W, NIL, NIL),   # deleting is the cfa_admin's
    (RESP_INFO,   *(F403,) * 6),
    *[(p, *(NIL,) * 6) for p in _EMPLOYERS],  # read-only views for them
    (ALICE,       *(F403,) * 6),
    (OUTSIDER,    *(F403,) * 6),
    (ANON,        *(LOGIN,) * 6),
]
PLAN_OWN = PLAN_OTHER = PLAN  # the same for the offered action and the withdrawn one

# --- 2. the doors with no row: the creation forms posted, the attendance of PAST posted --------
ROWLESS_DOORS = ["action_creation", "session_creation", "inscription_creation",
                 "presences"]
ROWLESS = [
    # persona     action  session  inscription  presences (PAST)
    # PAST is closed: its marks no longer change, even the CFA's (the door writing marks of an
    # open session: tests/test_training_documents_http.py)
    (ADMIN,       W,      W,       NIL,         R422),
    (CONSEIL,     W,      W,       NIL,         R422),
    (RESP_INFO,   *(F403,) * 4),
    *[(p, NIL, NIL, NIL, F403) for p in _EMPLOYERS],
    (ALICE,       *(F403,) * 4),
    (OUTSIDER,    *(F403,) * 4),
    (ANON,        *(LOGIN,) * 4),
]

# --- 3. « Demander une inscription » for oneself: the session OPEN for ACME, for Globex; the
# withdrawn action's session LATER for the person's own structure (ACME when they have none) --
ASK_DOORS = ["pour_acme", "pour_globex", "session_retiree"]
ASK = [
    # persona     pour_acme pour_globex session_retiree
    (ADMIN,       R422,     R422,       R422),   # no structure: « pas le droit de demander »
    (CONSEIL,     R422,     R422,       R422),
    (RESP_INFO,   F403,     F403,       F403),
    (REFERENT,    W,        R422,       N404),   # a référent is a beneficiary of its structure
    (BENEF,       W,        R422,       N404),
    (DECIDER,     R422,     R422,       N404),   # the employer right is not the beneficiary's
    (PLAIN,       R422,     R422,       N404),
    (RH_GLOBEX,   R422,     W,          N404),
    (ALICE,       F403,     F403,       F403),
    (OUTSIDER,    F403,     F403,       F403),
    (ANON,        LOGIN,    LOGIN,      LOGIN),
]

# --- 4. the request's doors: own = BENEF's (ACME), other = GLOBEX_BENEF's ----------------------
# accepter / retenir / annuler / convocation on the request of FUTURE, the attestation on the
# one of PAST (présente); modification, suppression and the list's bulk « Supprimer » are
# Flask-Admin's generic doors (the request moves by its steps only).
REQUEST_DOORS = ["accepter", "retenir", "annuler", "convocation", "attestation",
                 "modification", "suppression", "suppression_liste"]
_CFA = (R422, W, W, W, W, N404, NIL, NIL)
_DECIDES = (W, R422, W, F403, F403, N404, NIL, NIL)
_ASKED = (R422, R422, W, F403, F403, N404, NIL, NIL)
_STRANGER = (N404,) * 6 + (NIL, NIL)   # a list of theirs, this row not in it
_NONE = (F403,) * 8
REQUEST_OWN = [
    # persona     accepter retenir annuler convocation attestation modification suppression
    (ADMIN,       *_CFA),
    (CONSEIL,     *_CFA),
    (RESP_INFO,   *_NONE),
    (REFERENT,    *_DECIDES),
    (BENEF,       *_ASKED),
    (DECIDER,     *_DECIDES),
    (PLAIN,       *_STRANGER),
    (RH_GLOBEX,   *_STRANGER),
    (ALICE,       *_NONE),
    (OUTSIDER,    *_NONE),
    (ANON,        *(LOGIN,) * 8),
]
REQUEST_OTHER = [
    (ADMIN,       *_CFA),
    (CONSEIL,     *_CFA),
    (RESP_INFO,   *_NONE),
    (REFERENT,    *_STRANGER),
    (BENEF,       *_STRANGER),
    (DECIDER,     *_STRANGER),
    (PLAIN,       *_STRANGER),
    (RH_GLOBEX,   *_DECIDES),
    (ALICE,       *_NONE),
    (OUTSIDER,    *_NONE),
    (ANON,        *(LOGIN,) * 8),
]


def test_every_table_covers_every_persona_and_door():
    for table, doors in ((PLAN, PLAN_DOORS), (ROWLESS, ROWLESS_DOORS), (ASK, ASK_DOORS),
                         (REQUEST_OWN, REQUEST_DOORS), (REQUEST_OTHER, REQUEST_DOORS)):
        assert [row[0] for row in table] == PERSONAS
        assert all(len(row) == len(doors) + 1 for row in table)


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


def _refusal(response, expected, back, secrets=()) -> None:
    """The answer of a refused write (the database was compared by the caller)."""
    if expected == LOGIN:
        return assert_login(response)
    if expected == NIL:
        return assert_back_to(response, back)
    assert response.status_code == int(expected), response.status_code
    assert_no_trace(text_of(response), secrets)


def _one(model, **where):
    return db.session.execute(sa.select(model).filter_by(**where)).scalar_one()


# ================================================================================================
# 1. The catalogue and the sessions
# ================================================================================================

def _action_form(app, pk, **changes) -> dict:
    with app.app_context():
        action = db.session.get(ActionFormation, pk)
        form = {"cfa": str(action.cfa_id), "intitule": action.intitule,
                "objectifs": action.objectifs or "", "description": action.description or "",
                "public_vise": action.public_vise or "", "duree_heures": str(action.duree_heures),
                "prix": str(action.prix)}
        if action.active:
            form["active"] = "y"
    return dict(form, **changes)


def _session_form(app, pk, **changes) -> dict:
    with app.app_context():
        s = db.session.get(SessionFormation, pk)
        form = {"action": str(s.action_id), "date_debut": s.date_debut.isoformat(),
                "date_fin": s.date_fin.isoformat(), "heure_debut": "09:00",
                "heure_fin": "17:00", "lieu": s.lieu, "capacite": str(s.capacite),
                "date_limite_inscription": s.date_limite_inscription.isoformat(),
                "organisateur": "__None"}
    return dict(form, **changes)


def _throwaway(app, world, kind, which) -> int:
    """What a deletion aims at: an action (or a session) of the same kind, used by nothing."""
    with app.app_context():
        action_id = world.offered if which == "own" else world.withdrawn
        if kind == "action":
            source = db.session.get(ActionFormation, action_id)
            row = ActionFormation(cfa_id=source.cfa_id, intitule=f"Jetable {world.tag}",
                                  active=source.active)
        else:
            start = weekday_from(date.today() + timedelta(40))
            row = SessionFormation(action_id=action_id, date_debut=start, date_fin=start,
                                   capacite=3, lieu=f"Jetable {world.tag}")
        db.session.add(row)
        db.session.commit()
        return row.id


@pytest.mark.parametrize("persona,door,which,expected",
                         list(_cases(PLAN_OWN, PLAN_OTHER, PLAN_DOORS)))
def test_plan_door(app, world, as_, persona, door, which, expected):
    client, token = as_(persona)
    base = observe(app, world)
    try:
        tag = uuid.uuid4().hex[:6]
        kind, verb = door.split("_", 1)
        pk = ((world.offered if which == "own" else world.withdrawn) if kind == "action"
              else (world.future if which == "own" else world.later))
        table = "actions_formation" if kind == "action" else "sessions_formation"
        back = CATALOGUE if kind == "action" else SESSIONS
        if verb.startswith("suppression"):
            pk = _throwaway(app, world, kind, which)
        before = observe(app, world)
        if verb == "suppression":
            response = post(client, token, f"{back}delete/", {"id": str(pk)})
        elif verb == "suppression_liste":
            response = post(client, token, f"{back}action/",
                            {"action": "delete", "rowid": [str(pk)]})
        elif kind == "action":
            response = post(client, token, f"{CATALOGUE}edit/?id={pk}",
                            _action_form(app, pk, intitule=f"Changé {tag}"))
        else:
            response = post(client, token, f"{SESSIONS}edit/?id={pk}",
                            _session_form(app, pk, lieu=f"Changé {tag}"))
        after = observe(app, world)
        if expected == W:
            assert_back_to(response, back)
            if verb.startswith("suppression"):
                assert pk not in after[table]
            else:
                changed = after[table][pk]["intitule" if kind == "action" else "lieu"]
                assert changed == f"Changé {tag}", diff(before, after)
            assert set(diff(before, after)) == {table}, diff(before, after)
            return
        assert after == before, diff(before, after)
        _refusal(response, expected, back)
    finally:
        restore(app, world, base)


# ================================================================================================
# 2. The doors with no row
# ================================================================================================

def _rowless_knock(app, world, client, token, door, tag):
    """(response, wrote(before, after) -> bool, the list it falls back to)."""
    if door == "action_creation":
        title = f"Créée par la matrice {tag}"
        response = post(client, token, f"{CATALOGUE}new/", {
            "cfa": str(world.cfa), "intitule": title, "duree_heures": "7", "prix": "10",
            "active": "y"})
        return response, lambda b, a: [r["intitule"] for pk, r in a["actions_formation"].items()
                                       if pk not in b["actions_formation"]] == [title], CATALOGUE
    if door == "session_creation":
        place = f"Créée par la matrice {tag}"
        start = weekday_from(date.today() + timedelta(50)).isoformat()
        response = post(client, token, f"{SESSIONS}new/", {
            "action": str(world.offered), "date_debut": start, "date_fin": start,
            "heure_debut": "09:00", "heure_fin": "12:00", "lieu": place, "capacite": "5",
            "date_limite_inscription": start, "organisateur": "__None"})
        return response, lambda b, a: [r["lieu"] for pk, r in a["sessions_formation"].items()
                                       if pk not in b["sessions_formation"]] == [place], SESSIONS
    if door == "inscription_creation":
        with app.app_context():
            benef = _one(User, email=BENEF).id
        response = post(client, token, f"{REQUESTS}new/", {
            "session": str(world.open), "user": str(benef), "structure": str(world.acme),
            "motivation": f"Créée par la matrice {tag}", "state": "retenue"})
        return response, None, REQUESTS
    # presences: every half-day of PAST unchecked, i.e. everybody absent
    response = post(client, token, f"{SESSIONS}{world.past}/presences/", {})

    def wrote(b, a):
        mine = [p for p in a["presences"].values()
                if p["inscription_id"] in (world.rows["own_p"], world.rows["other_p"])]
        return len(mine) == 8 and not any(p["present"] for p in mine)
    return response, wrote, SESSIONS


@pytest.mark.parametrize("persona,door,expected", list(_flat_cases(ROWLESS, ROWLESS_DOORS)))
def test_rowless_write_door(app, world, as_, persona, door, expected):
    client, token = as_(persona)
    before = observe(app, world)
    try:
        response, wrote, back = _rowless_knock(app, world, client, token, door,
                                               uuid.uuid4().hex[:6])
        after = observe(app, world)
        if expected == W:
            assert response.status_code in (302, 303), response.status_code
            assert wrote(before, after), diff(before, after)
            return
        assert after == before, diff(before, after)
        _refusal(response, expected, back)
    finally:
        restore(app, world, before)


# ================================================================================================
# 3. « Demander une inscription »
# ================================================================================================

@pytest.mark.parametrize("persona,door,expected", list(_flat_cases(ASK, ASK_DOORS)))
def test_ask_door(app, world, as_, persona, door, expected):
    client, token = as_(persona)
    structure = world.globex if door == "pour_globex" or (
        door == "session_retiree" and persona == RH_GLOBEX) else world.acme
    session = world.later if door == "session_retiree" else world.open
    before = observe(app, world)
    try:
        response = post(client, token, f"{CATALOGUE}session/{session}/demande/",
                        {"structure_id": str(structure), "motivation": "Par la matrice."})
        after = observe(app, world)
        if expected == W:
            assert response.status_code == 303, response.status_code
            made = [r for pk, r in after["inscriptions"].items() if pk not in
                    before["inscriptions"]]
            with app.app_context():
                me = _one(User, email=persona).id
            assert [(r["session_id"], r["user_id"], r["structure_id"], r["state"])
                    for r in made] == [(session, me, structure, "demandee")]
            assert response.headers["Location"].endswith(
                f"{REQUESTS}details/?id={made[0]['id']}")
            return
        assert after == before, diff(before, after)
        _refusal(response, expected, CATALOGUE, [world.withdrawn_title, world.later_place]
                 if door == "session_retiree" and expected != R422 else ())
        if expected == R422:  # next to the structure's field when they have one, else on top
            reason = ("Choisissez l'une de vos structures." if persona in _BENEFICIARIES
                      else "Vous n'avez pas le droit de demander une formation")
            assert reason in text_of(response)
    finally:
        restore(app, world, before)


# ================================================================================================
# 4. The request's doors
# ================================================================================================

_BENEFICIARIES = (REFERENT, BENEF, RH_GLOBEX)  # who holds the beneficiary right of a structure
_DECIDER_OF = {"own": REFERENT, "other": RH_GLOBEX}


def _prepare(app, world, door, which) -> int:
    """Put the row where the door may act (through the write path); returns its id."""
    if door in ("attestation",):
        return world.rows[f"{which}_p"]
    pk = world.rows[f"{which}_f"]
    steps = {"retenir": [("accepter", _DECIDER_OF[which])],
             "convocation": [("accepter", _DECIDER_OF[which]), ("retenir", CONSEIL)]}
    with app.app_context():
        for code, email in steps.get(door, ()):
            service.run(code, db.session.get(Inscription, pk), by=_one(User, email=email))
    return pk


_TARGET = {"accepter": "acceptee_employeur", "retenir": "retenue", "annuler": "annulee"}


def _request_knock(client, token, door, pk, version):
    if door in _TARGET:
        return post(client, token, f"{REQUESTS}{pk}/etape/{door}/",
                    {"_version": str(version), "comment": "Par la matrice."})
    if door in ("convocation", "attestation"):
        return post(client, token, f"{REQUESTS}{pk}/{door}/")
    if door == "modification":
        return post(client, token, f"{REQUESTS}edit/?id={pk}",
                    {"state": "retenue", "motivation": "Changée par la matrice."})
    if door == "suppression_liste":
        return post(client, token, f"{REQUESTS}action/", {"action": "delete", "rowid": [str(pk)]})
    return post(client, token, f"{REQUESTS}delete/", {"id": str(pk)})


def _request_written(door, pk, before, after) -> bool:
    row, was = after["inscriptions"][pk], before["inscriptions"][pk]
    if door in _TARGET:
        return row["state"] == _TARGET[door] and row["version"] > was["version"]
    column = f"{door}_document_id"
    return row[column] is not None and row[column] != was[column] and \
        row[column] in after["documents"]


@pytest.mark.parametrize("persona,door,which,expected",
                         list(_cases(REQUEST_OWN, REQUEST_OTHER, REQUEST_DOORS)))
def test_request_write_door(app, world, as_, persona, door, which, expected):
    client, token = as_(persona)
    base = observe(app, world)
    try:
        pk = _prepare(app, world, door, which)
        before = observe(app, world)
        bystander = {k: r for k, r in before["inscriptions"].items() if k != pk}
        response = _request_knock(client, token, door, pk,
                                  before["inscriptions"][pk]["version"])
        after = observe(app, world)
        if expected == W:
            assert response.status_code == 303, response.status_code
            assert response.headers["Location"].endswith(f"{REQUESTS}details/?id={pk}")
            assert _request_written(door, pk, before, after), diff(before, after)
            assert {k: r for k, r in after["inscriptions"].items() if k != pk} == bystander
            return
        assert after == before, diff(before, after)
        other = "other" if which == "own" else "own"
        if expected == R422:
            assert response.status_code == 422
            page = text_of(response)
            assert "Vous n'avez pas le droit de faire" in page
            assert f"Demande d'inscription n° {pk}" in page
            return assert_no_trace(page, secrets_of(world, other))
        _refusal(response, expected, REQUESTS,
                 secrets_of(world, which) if expected in (N404, F403) else ())
        if expected == N404:  # the same door on an id that does not exist answers alike
            missing = _request_knock(client, token, door, MISSING, 1)
            assert (missing.status_code, missing.headers.get("Location")) == \
                (response.status_code, response.headers.get("Location"))
            assert observe(app, world) == before
    finally:
        restore(app, world, base)


# ================================================================================================
# 5. A write without its CSRF token, and the world is whole again
# ================================================================================================

@pytest.mark.parametrize("door", ["accepter", "annuler", "convocation", "attestation"])
def test_a_request_post_without_its_csrf_token_writes_nothing(app, world, as_, door):
    persona = REFERENT if door in ("accepter", "annuler") else ADMIN
    client, _ = as_(persona)
    base = observe(app, world)
    try:
        pk = _prepare(app, world, door, "own")
        before = observe(app, world)
        response = _request_knock(client, None, door, pk, before["inscriptions"][pk]["version"])
        assert response.status_code == 400
        assert observe(app, world) == before
    finally:
        restore(app, world, base)


@pytest.mark.parametrize("door", ["action_creation", "session_creation", "presences"])
def test_a_plan_post_without_its_csrf_token_writes_nothing(app, world, as_, door):
    client, _ = as_(ADMIN)
    before = observe(app, world)
    try:
        response, _, _ = _rowless_knock(app, world, client, None, door, uuid.uuid4().hex[:6])
        assert response.status_code == 400
        assert observe(app, world) == before
    finally:
        restore(app, world, before)


def test_the_world_is_whole_after_the_writes(app, world):
    """Every write above was put back: the four requests as built."""
    with app.app_context():
        states = {k: db.session.get(Inscription, pk).state for k, pk in world.rows.items()}
    assert states == {"own_f": "demandee", "other_f": "demandee", "own_p": "presente",
                      "other_p": "presente"}
