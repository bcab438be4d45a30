"""Authorization matrix: every Flask-Admin door, knocked on as every role, on a row the role
owns and on a row another owner owns (SPEC §1; ../shared/design/FLASK_ADMIN_SECURITY.md).

How to read this file
- ``OWN_AND_OTHER`` says, for each demo account, which dossier is "its own" and which belongs
  to someone else. Both are looked up in the demo database at the start of the module.
- ``DOSSIER_MATRIX`` is the specification of the dossier screen: account × door × (own row,
  other owner's row) → ALLOWED / DENIED. One pytest case per cell.
- ``VIEW_ACCESS``, ``OTHER_VIEWS_MATRIX``, ``EDIT_BY_STATE``, ``DELETE_BY_STATE``,
  ``CREATE_IN_FORMATION`` … are the same kind of table for the other doors and screens.

Rules the tests follow
- A change (or its absence) is always checked in the database, in a fresh session
  (``db.session.expire_all()`` then ``db.session.get``), never from the response only.
- Rows changed by an allowed door are restored exactly; destructive doors (delete, bulk
  delete, locked states) work on throwaway dossiers created here and removed afterwards.
- Redirects are never followed automatically and statuses are exact.
- A row the person may not see must answer exactly like a row that does not exist.
"""
from __future__ import annotations

import csv
import io
import json
import re
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace

import lxml.html
import pytest
import sqlalchemy as sa
from markupsafe import escape
from werkzeug.datastructures import MultiDict

from portal import policy
from portal.extensions import db
from portal.models import (AideEmployeur, CodeReference, ConventionCollective, Dossier,
                           Etablissement, Formation, GrilleRemuneration, Opco, Smic, Structure,
                           User, formation_gestionnaires, formation_responsables)
from portal.dossiers.workflow import STATES
from tests.support.web import DEMO_PASSWORD, csrf, csrf_from
from tests.support.web import login as web_login

ALLOWED, DENIED = "autorisé", "refusé"
# Refusals of a locked dossier, with the French message the person must read.
LOCKED = "refusé : dossier verrouillé"
FROZEN = "refusé : validation demandée"
LOCK_MESSAGES = {LOCKED: "Le dossier est verrouillé", FROZEN: "La validation a été demandée"}
NO_ROW = None  # "every dossier is theirs": the role has no other owner's row to knock on

ADMIN = "admin@sillon.demo"
CONSEIL = "conseil@sillon.demo"
RESP_INFO = "resp.info@sillon.demo"
RESP_DROIT = "resp.droit@sillon.demo"
GEST_INFO = "gest.info@sillon.demo"
RH_ACME = "rh@acme.sillon.demo"
RH_GLOBEX = "rh@globex.sillon.demo"
ALICE = "alice@etu.sillon.demo"
BRUNO = "bruno@etu.sillon.demo"
ACCOUNTS = [ADMIN, CONSEIL, RESP_INFO, RESP_DROIT, GEST_INFO, RH_ACME, RH_GLOBEX, ALICE, BRUNO]
PARTIES = (RH_ACME, RH_GLOBEX, ALICE, BRUNO)  # the dossier's employer and apprentice

ENDPOINT_MODELS = {
    "dossier": Dossier, "formation": Formation, "structure": Structure,
    "etablissement": Etablissement, "user": User, "code": CodeReference, "smic": Smic,
    "grille": GrilleRemuneration, "convention": ConventionCollective, "opco": Opco,
    "aide": AideEmployeur,
}
REFERENCE_ENDPOINTS = ["code", "smic", "grille", "convention", "opco", "aide"]

# ------------------------------------------------------------------------------------------------
# Which dossier is "own" and which is "another owner's", per account (looked up in the database).
# Both are taken among dossiers still open to changes by everyone (no lock of any kind), so that
# a missing guard would really let a change through.
# ------------------------------------------------------------------------------------------------

OWN_AND_OTHER = {
    # account: (own dossier d, given the demo facts k;   another owner's dossier)
    ADMIN:      (lambda d, k: True,                       NO_ROW),  # every dossier is theirs
    CONSEIL:    (lambda d, k: True,                       NO_ROW),
    RESP_INFO:  (lambda d, k: d.formation_id in k.info,   lambda d, k: d.formation_id in k.droit),
    RESP_DROIT: (lambda d, k: d.formation_id in k.droit,  lambda d, k: d.formation_id in k.info),
    GEST_INFO:  (lambda d, k: d.formation_id in k.info,   lambda d, k: d.formation_id in k.droit),
    RH_ACME:    (lambda d, k: k.contact(d, RH_ACME) and k.company(d) == k.acme,
                 lambda d, k: k.company(d) == k.globex),
    RH_GLOBEX:  (lambda d, k: k.contact(d, RH_GLOBEX) and k.company(d) == k.globex,
                 lambda d, k: k.company(d) == k.acme),
    ALICE:      (lambda d, k: k.apprentice(d, ALICE),     lambda d, k: k.apprentice(d, BRUNO)),
    BRUNO:      (lambda d, k: k.apprentice(d, BRUNO),     lambda d, k: k.apprentice(d, ALICE)),
}

# ------------------------------------------------------------------------------------------------
# The dossier screen: account × door → (own row, other owner's row).
# ------------------------------------------------------------------------------------------------

DOSSIER_DOORS = ["list", "search", "export_csv", "details", "edit_get", "edit_post", "delete",
                 "bulk_delete", "ajax_update"]
# edit_get: the pencil opens the dossier's own tabs (a redirect); edit_post: Flask-Admin's
# generic form never writes a dossier, for anyone (the writes are the tabs' and other doors',
# all through portal/dossiers/service.py: tests/test_write_matrix.py).

DOSSIER_MATRIX = [
    # account     door           own       other owner's row
    (ADMIN,       "list",        ALLOWED,  NO_ROW),
    (ADMIN,       "search",      ALLOWED,  NO_ROW),
    (ADMIN,       "export_csv",  ALLOWED,  NO_ROW),
    (ADMIN,       "details",     ALLOWED,  NO_ROW),
    (ADMIN,       "edit_get",    ALLOWED,  NO_ROW),
    (ADMIN,       "edit_post",   DENIED ,  NO_ROW),
    (ADMIN,       "delete",      ALLOWED,  NO_ROW),
    (ADMIN,       "bulk_delete", ALLOWED,  NO_ROW),
    (ADMIN,       "ajax_update", DENIED,   NO_ROW),   # no editable list: 404 for everyone

    (CONSEIL,     "list",        ALLOWED,  NO_ROW),
    (CONSEIL,     "search",      ALLOWED,  NO_ROW),
    (CONSEIL,     "export_csv",  ALLOWED,  NO_ROW),
    (CONSEIL,     "details",     ALLOWED,  NO_ROW),
    (CONSEIL,     "edit_get",    ALLOWED,  NO_ROW),
    (CONSEIL,     "edit_post",   DENIED ,  NO_ROW),
    (CONSEIL,     "delete",      DENIED,   NO_ROW),   # only cfa_admin deletes
    (CONSEIL,     "bulk_delete", DENIED,   NO_ROW),
    (CONSEIL,     "ajax_update", DENIED,   NO_ROW),

    (RESP_INFO,   "list",        ALLOWED,  DENIED),
    (RESP_INFO,   "search",      ALLOWED,  DENIED),
    (RESP_INFO,   "export_csv",  ALLOWED,  DENIED),
    (RESP_INFO,   "details",     ALLOWED,  DENIED),
    (RESP_INFO,   "edit_get",    ALLOWED,  DENIED),
    (RESP_INFO,   "edit_post",   DENIED ,  DENIED),
    (RESP_INFO,   "delete",      DENIED,   DENIED),
    (RESP_INFO,   "bulk_delete", DENIED,   DENIED),
    (RESP_INFO,   "ajax_update", DENIED,   DENIED),

    (RESP_DROIT,  "list",        ALLOWED,  DENIED),
    (RESP_DROIT,  "search",      ALLOWED,  DENIED),
    (RESP_DROIT,  "export_csv",  ALLOWED,  DENIED),
    (RESP_DROIT,  "details",     ALLOWED,  DENIED),
    (RESP_DROIT,  "edit_get",    ALLOWED,  DENIED),
    (RESP_DROIT,  "edit_post",   DENIED ,  DENIED),
    (RESP_DROIT,  "delete",      DENIED,   DENIED),
    (RESP_DROIT,  "bulk_delete", DENIED,   DENIED),
    (RESP_DROIT,  "ajax_update", DENIED,   DENIED),

    (GEST_INFO,   "list",        ALLOWED,  DENIED),
    (GEST_INFO,   "search",      ALLOWED,  DENIED),
    (GEST_INFO,   "export_csv",  ALLOWED,  DENIED),
    (GEST_INFO,   "details",     ALLOWED,  DENIED),
    (GEST_INFO,   "edit_get",    ALLOWED,  DENIED),
    (GEST_INFO,   "edit_post",   DENIED ,  DENIED),
    (GEST_INFO,   "delete",      DENIED,   DENIED),
    (GEST_INFO,   "bulk_delete", DENIED,   DENIED),
    (GEST_INFO,   "ajax_update", DENIED,   DENIED),

    (RH_ACME,     "list",        ALLOWED,  DENIED),
    (RH_ACME,     "search",      ALLOWED,  DENIED),
    (RH_ACME,     "export_csv",  ALLOWED,  DENIED),
    (RH_ACME,     "details",     ALLOWED,  DENIED),
    (RH_ACME,     "edit_get",    ALLOWED,  DENIED),
    (RH_ACME,     "edit_post",   DENIED ,  DENIED),
    (RH_ACME,     "delete",      DENIED,   DENIED),
    (RH_ACME,     "bulk_delete", DENIED,   DENIED),
    (RH_ACME,     "ajax_update", DENIED,   DENIED),

    (RH_GLOBEX,   "list",        ALLOWED,  DENIED),
    (RH_GLOBEX,   "search",      ALLOWED,  DENIED),
    (RH_GLOBEX,   "export_csv",  ALLOWED,  DENIED),
    (RH_GLOBEX,   "details",     ALLOWED,  DENIED),
    (RH_GLOBEX,   "edit_get",    ALLOWED,  DENIED),
    (RH_GLOBEX,   "edit_post",   DENIED ,  DENIED),
    (RH_GLOBEX,   "delete",      DENIED,   DENIED),
    (RH_GLOBEX,   "bulk_delete", DENIED,   DENIED),
    (RH_GLOBEX,   "ajax_update", DENIED,   DENIED),

    (ALICE,       "list",        ALLOWED,  DENIED),
    (ALICE,       "search",      ALLOWED,  DENIED),
    (ALICE,       "export_csv",  ALLOWED,  DENIED),
    (ALICE,       "details",     ALLOWED,  DENIED),
    (ALICE,       "edit_get",    ALLOWED,  DENIED),
    (ALICE,       "edit_post",   DENIED ,  DENIED),
    (ALICE,       "delete",      DENIED,   DENIED),
    (ALICE,       "bulk_delete", DENIED,   DENIED),
    (ALICE,       "ajax_update", DENIED,   DENIED),

    (BRUNO,       "list",        ALLOWED,  DENIED),
    (BRUNO,       "search",      ALLOWED,  DENIED),
    (BRUNO,       "export_csv",  ALLOWED,  DENIED),
    (BRUNO,       "details",     ALLOWED,  DENIED),
    (BRUNO,       "edit_get",    ALLOWED,  DENIED),
    (BRUNO,       "edit_post",   DENIED ,  DENIED),
    (BRUNO,       "delete",      DENIED,   DENIED),
    (BRUNO,       "bulk_delete", DENIED,   DENIED),
    (BRUNO,       "ajax_update", DENIED,   DENIED),
]

# ------------------------------------------------------------------------------------------------
# Who may open which screen at all (Y: the list answers 200; n: every door answers 403).
# ------------------------------------------------------------------------------------------------

Y, n = True, False
VIEW_ACCESS = [
    # account     dossier formation structure etablissement user  reference data (code…aide)
    (ADMIN,       Y,      Y,        Y,        Y,            Y,    Y),
    (CONSEIL,     Y,      Y,        Y,        Y,            n,    n),
    (RESP_INFO,   Y,      Y,        n,        n,            n,    n),
    (RESP_DROIT,  Y,      Y,        n,        n,            n,    n),
    (GEST_INFO,   Y,      Y,        n,        n,            n,    n),
    (RH_ACME,     Y,      n,        Y,        Y,            n,    n),
    (RH_GLOBEX,   Y,      n,        Y,        Y,            n,    n),
    (ALICE,       Y,      n,        n,        n,            n,    n),
    (BRUNO,       Y,      n,        n,        n,            n,    n),
]
FORBIDDEN_DOORS = ["list", "details", "edit_get", "create_get", "edit_post", "delete"]

# ------------------------------------------------------------------------------------------------
# The other screens a role may open: account × screen × door → (own row, other owner's row).
# ------------------------------------------------------------------------------------------------

OTHER_VIEWS_MATRIX = [
    # account     screen           door         own       other owner's row
    (ADMIN,       "formation",     "list",      ALLOWED,  NO_ROW),
    (ADMIN,       "formation",     "details",   ALLOWED,  NO_ROW),
    (ADMIN,       "formation",     "edit_get",  ALLOWED,  NO_ROW),
    (ADMIN,       "formation",     "edit_post", ALLOWED,  NO_ROW),
    (ADMIN,       "structure",     "list",      ALLOWED,  NO_ROW),
    (ADMIN,       "structure",     "details",   ALLOWED,  NO_ROW),
    (ADMIN,       "structure",     "edit_get",  ALLOWED,  NO_ROW),
    (ADMIN,       "structure",     "edit_post", ALLOWED,  NO_ROW),
    (ADMIN,       "etablissement", "list",      ALLOWED,  NO_ROW),
    (ADMIN,       "etablissement", "details",   ALLOWED,  NO_ROW),
    (ADMIN,       "etablissement", "edit_get",  ALLOWED,  NO_ROW),
    (ADMIN,       "etablissement", "edit_post", ALLOWED,  NO_ROW),
    (ADMIN,       "user",          "list",      ALLOWED,  NO_ROW),
    (ADMIN,       "user",          "details",   ALLOWED,  NO_ROW),
    (ADMIN,       "user",          "edit_get",  ALLOWED,  NO_ROW),

    (CONSEIL,     "formation",     "list",      ALLOWED,  NO_ROW),
    (CONSEIL,     "formation",     "details",   ALLOWED,  NO_ROW),
    (CONSEIL,     "formation",     "edit_get",  DENIED,   NO_ROW),  # trainings: admin + manager
    (CONSEIL,     "formation",     "edit_post", DENIED,   NO_ROW),
    (CONSEIL,     "structure",     "list",      ALLOWED,  NO_ROW),
    (CONSEIL,     "structure",     "details",   ALLOWED,  NO_ROW),
    (CONSEIL,     "structure",     "edit_get",  ALLOWED,  NO_ROW),
    (CONSEIL,     "structure",     "edit_post", ALLOWED,  NO_ROW),
    (CONSEIL,     "etablissement", "list",      ALLOWED,  NO_ROW),
    (CONSEIL,     "etablissement", "details",   ALLOWED,  NO_ROW),
    (CONSEIL,     "etablissement", "edit_get",  ALLOWED,  NO_ROW),
    (CONSEIL,     "etablissement", "edit_post", ALLOWED,  NO_ROW),

    (RESP_INFO,   "formation",     "list",      ALLOWED,  DENIED),
    (RESP_INFO,   "formation",     "details",   ALLOWED,  DENIED),
    (RESP_INFO,   "formation",     "edit_get",  ALLOWED,  DENIED),
    (RESP_INFO,   "formation",     "edit_post", ALLOWED,  DENIED),
    (RESP_DROIT,  "formation",     "list",      ALLOWED,  DENIED),
    (RESP_DROIT,  "formation",     "details",   ALLOWED,  DENIED),
    (RESP_DROIT,  "formation",     "edit_get",  ALLOWED,  DENIED),
    (RESP_DROIT,  "formation",     "edit_post", ALLOWED,  DENIED),
    (GEST_INFO,   "formation",     "list",      ALLOWED,  DENIED),
    (GEST_INFO,   "formation",     "details",   ALLOWED,  DENIED),
    (GEST_INFO,   "formation",     "edit_get",  DENIED,   DENIED),  # helps, does not configure
    (GEST_INFO,   "formation",     "edit_post", DENIED,   DENIED),

    (RH_ACME,     "structure",     "list",      ALLOWED,  DENIED),
    (RH_ACME,     "structure",     "details",   ALLOWED,  DENIED),
    (RH_ACME,     "structure",     "edit_get",  DENIED,   DENIED),  # structures: CFA staff
    (RH_ACME,     "structure",     "edit_post", DENIED,   DENIED),
    (RH_ACME,     "etablissement", "list",      ALLOWED,  DENIED),
    (RH_ACME,     "etablissement", "details",   ALLOWED,  DENIED),
    (RH_ACME,     "etablissement", "edit_get",  ALLOWED,  DENIED),  # référent of ACME
    (RH_ACME,     "etablissement", "edit_post", ALLOWED,  DENIED),
    (RH_GLOBEX,   "structure",     "list",      ALLOWED,  DENIED),
    (RH_GLOBEX,   "structure",     "details",   ALLOWED,  DENIED),
    (RH_GLOBEX,   "structure",     "edit_get",  DENIED,   DENIED),
    (RH_GLOBEX,   "structure",     "edit_post", DENIED,   DENIED),
    (RH_GLOBEX,   "etablissement", "list",      ALLOWED,  DENIED),
    (RH_GLOBEX,   "etablissement", "details",   ALLOWED,  DENIED),
    (RH_GLOBEX,   "etablissement", "edit_get",  ALLOWED,  DENIED),
    (RH_GLOBEX,   "etablissement", "edit_post", ALLOWED,  DENIED),
]
# The text field each screen's edit door changes, and the label that names a row in lists.
EDITED_FIELD = {"dossier": "employeur_contact_email", "formation": "lieu",
                "structure": "raison_sociale", "etablissement": "commune"}
# Putting an e-mail on the dossier invites that person: their account becomes the contact.
LINKED_CHANGES = {"dossier": {"employer_contact_id"}}
NEW_VALUE = {"dossier": "controle.matrice@exemple-test.fr", "formation": "Salle du contrôle",
             "structure": "Raison sociale du contrôle", "etablissement": "Contrôleville"}
LABEL = {"formation": "intitule", "structure": "raison_sociale",
         "etablissement": "denomination", "user": "email"}

# ------------------------------------------------------------------------------------------------
# Locked states (portal/workflow.py): account × state of its own dossier → edit POST outcome.
# ------------------------------------------------------------------------------------------------

EDIT_BY_STATE = [
    # account     a_corriger  validation_demandee  valide_formation  annule
    (ADMIN,       ALLOWED,    ALLOWED,             LOCKED,           LOCKED),
    (CONSEIL,     ALLOWED,    ALLOWED,             LOCKED,           LOCKED),
    (RESP_INFO,   ALLOWED,    ALLOWED,             LOCKED,           LOCKED),
    (RESP_DROIT,  ALLOWED,    ALLOWED,             LOCKED,           LOCKED),
    (GEST_INFO,   ALLOWED,    ALLOWED,             LOCKED,           LOCKED),
    (RH_ACME,     ALLOWED,    FROZEN,              LOCKED,           LOCKED),
    (RH_GLOBEX,   ALLOWED,    FROZEN,              LOCKED,           LOCKED),
    (ALICE,       ALLOWED,    FROZEN,              LOCKED,           LOCKED),
    (BRUNO,       ALLOWED,    FROZEN,              LOCKED,           LOCKED),
]
EDIT_STATES = ["a_corriger", "validation_demandee", "valide_formation", "annule"]

# cfa_admin deletes only unlocked dossiers, one by one or in bulk.
DELETE_BY_STATE = [
    # state                   single delete  bulk delete
    ("initialise",            ALLOWED,       ALLOWED),
    ("a_corriger",            ALLOWED,       ALLOWED),
    ("validation_demandee",   ALLOWED,       ALLOWED),
    ("valide_formation",      DENIED,        DENIED),
    ("envoye_opco",           DENIED,        DENIED),
    ("annule",                DENIED,        DENIED),
]

# ------------------------------------------------------------------------------------------------
# Relations: which trainings a person may pick, create a dossier in, or re-point a dossier to.
# ------------------------------------------------------------------------------------------------

FORMATION_CHOICES = [
    # account     trainings offered in the "Formation" select and filter
    (ADMIN,       "all"),
    (CONSEIL,     "all"),
    (RESP_INFO,   "info"),
    (RESP_DROIT,  "droit"),
    (GEST_INFO,   "info"),
]

CREATE_IN_FORMATION = [
    # account     training    outcome
    (ADMIN,       "droit",    ALLOWED),
    (CONSEIL,     "info",     ALLOWED),
    (RESP_INFO,   "info",     ALLOWED),
    (RESP_INFO,   "droit",    DENIED),
    (RESP_DROIT,  "droit",    ALLOWED),
    (RESP_DROIT,  "info",     DENIED),
    (GEST_INFO,   "info",     ALLOWED),
    (GEST_INFO,   "droit",    DENIED),
    (RH_ACME,     "info",     DENIED),   # employers and apprentices never create dossiers
    (RH_GLOBEX,   "droit",    DENIED),
    (ALICE,       "info",     DENIED),
    (BRUNO,       "droit",    DENIED),
]

REPOINT_FORMATION = [
    # account     own dossier re-pointed to   outcome
    (RESP_INFO,   "droit",                    DENIED),
    (RESP_DROIT,  "info",                     DENIED),
    (GEST_INFO,   "droit",                    DENIED),
]

# form_ajax_refs: /admin/structure/ajax/lookup/?name=referent — who may look people up, and
# whom they find (their own scope of users only).
REFERENT_LOOKUP = [
    # account     status  found among the users matching the query
    (ADMIN,       200,    "every user"),
    (CONSEIL,     200,    "every user"),      # CFA staff pick any person as référent
    (RH_ACME,     200,    "themselves only"),
    (RH_GLOBEX,   200,    "themselves only"),
    (RESP_INFO,   403,    None),
    (RESP_DROIT,  403,    None),
    (GEST_INFO,   403,    None),
    (ALICE,       403,    None),
    (BRUNO,       403,    None),
]


# ================================================================================================
# The demo world, looked up once
# ================================================================================================


@dataclass
class World:
    users: dict[str, int]
    info: set[int]            # resp.info's trainings
    droit: set[int]           # the droit training
    all_formations: set[int]
    formation_names: dict[int, str]
    acme: int
    globex: int
    own: dict[str, int]
    other: dict[str, int | None]
    scope: dict[str, set[int]]                       # dossier ids in scope, from the policy
    expected_scope: dict[str, set[int]]              # dossier ids in scope, from SPEC §1
    dossiers: dict[int, dict] = field(default_factory=dict)
    view_rows: dict[tuple[str, str], tuple[int, int | None]] = field(default_factory=dict)
    view_labels: dict[tuple[str, int], str] = field(default_factory=dict)

    def row(self, account: str, which: str) -> int | None:
        return self.own[account] if which == "own" else self.other[account]


def _unlocked(state: str) -> bool:
    s = STATES[state]
    return not s.locked and not s.locked_for_parties


def _matches(dossier: Dossier, term: str) -> bool:
    term = term.lower()
    return any(term in (value or "").lower() for value in
               (dossier.apprenti_nom, dossier.apprenti_prenom, dossier.apprenti_email))


def _plain_term(name: str | None) -> bool:
    return bool(name) and not name.startswith(("^", "=")) and len(name.split()) == 1


def _build_world() -> World:
    users = {u.email: u for u in db.session.scalars(sa.select(User))}
    missing = [a for a in ACCOUNTS if a not in users]
    assert not missing, f"demo accounts missing: {missing}"

    def managed(email):
        uid = users[email].id
        return set(db.session.scalars(sa.select(formation_responsables.c.formation_id).where(
            formation_responsables.c.user_id == uid))) | set(db.session.scalars(
                sa.select(formation_gestionnaires.c.formation_id).where(
                    formation_gestionnaires.c.user_id == uid)))

    info, droit = managed(RESP_INFO), managed(RESP_DROIT)
    assert len(info) == 2 and len(droit) == 1 and not info & droit
    assert managed(GEST_INFO) == info, "gest.info helps resp.info on the same trainings"
    formations = {f.id: f for f in db.session.scalars(sa.select(Formation))}
    structures = {s.referent.email: s.id for s in db.session.scalars(sa.select(Structure))
                  if s.referent is not None}
    acme, globex = structures[RH_ACME], structures[RH_GLOBEX]
    all_dossiers = list(db.session.scalars(sa.select(Dossier).order_by(Dossier.id)))
    by_id = {d.id: d for d in all_dossiers}

    uid = {email: users[email].id for email in ACCOUNTS}
    facts = SimpleNamespace(
        info=info, droit=droit, acme=acme, globex=globex,
        company=lambda d: d.etablissement.structure_id if d.etablissement else None,
        contact=lambda d, email: d.employer_contact_id == uid[email],
        apprentice=lambda d, email: d.apprentice_user_id == uid[email])
    # SPEC §1, written independently of portal.policy: who sees which dossier.
    spec_rule = {
        ADMIN: lambda d: True,
        CONSEIL: lambda d: True,
        RESP_INFO: lambda d: d.formation_id in info,
        RESP_DROIT: lambda d: d.formation_id in droit,
        GEST_INFO: lambda d: d.formation_id in info,
        # the contact sees their dossiers; the structure's référent sees all of its dossiers
        RH_ACME: lambda d: facts.contact(d, RH_ACME) or facts.company(d) == acme,
        RH_GLOBEX: lambda d: facts.contact(d, RH_GLOBEX) or facts.company(d) == globex,
        ALICE: lambda d: facts.apprentice(d, ALICE),
        BRUNO: lambda d: facts.apprentice(d, BRUNO),
    }
    scope, expected, own, other = {}, {}, {}, {}
    for account in ACCOUNTS:
        user = users[account]
        scope[account] = set(db.session.scalars(
            sa.select(Dossier.id).where(policy.row_filter(Dossier, user))))
        expected[account] = {d.id for d in all_dossiers if spec_rule[account](d)}
        in_scope = [by_id[i] for i in sorted(scope[account])]
        own_rule, other_rule = OWN_AND_OTHER[account]
        # Its name is searched as typed: not a Flask-Admin operator (« ^ » starts with, « = »
        # equals) nor several words (each searched apart), as another module's registration of
        # « =HYPERLINK(…) » (tests/test_exports.py) would be.
        mine = [d for d in all_dossiers if own_rule(d, facts) and _unlocked(d.state)
                and _plain_term(d.apprenti_nom)]
        assert mine, f"no unlocked own dossier for {account}"
        own[account] = mine[-1].id  # the newest: first page of the default sort
        if other_rule is NO_ROW:
            other[account] = None
            continue
        # Another owner's dossier whose name shares nothing with the person's scope, so that
        # its absence from a page (or from search results) really means "not shown".
        candidates = [d for d in all_dossiers if other_rule(d, facts) and _unlocked(d.state)
                      and d.id not in scope[account] and _plain_term(d.apprenti_nom)
                      and not any(_matches(s, d.apprenti_nom) for s in in_scope)]
        assert candidates, f"no other owner's dossier to knock on for {account}"
        other[account] = candidates[0].id
    dossiers = {d.id: dict(name=str(escape(d.apprenti_nom_complet)), email=d.apprenti_email,
                           nom=d.apprenti_nom, formation_id=d.formation_id)
                for d in all_dossiers}

    etabs = {s: sorted(e.id for e in db.session.scalars(
        sa.select(Etablissement).where(Etablissement.structure_id == s))) for s in (acme, globex)}
    first_info, first_droit = min(info), min(droit)
    view_rows = {
        (ADMIN, "formation"): (first_droit, None), (CONSEIL, "formation"): (first_droit, None),
        (RESP_INFO, "formation"): (first_info, first_droit),
        (RESP_DROIT, "formation"): (first_droit, first_info),
        (GEST_INFO, "formation"): (first_info, first_droit),
        (ADMIN, "structure"): (acme, None), (CONSEIL, "structure"): (globex, None),
        (RH_ACME, "structure"): (acme, globex), (RH_GLOBEX, "structure"): (globex, acme),
        (ADMIN, "etablissement"): (etabs[acme][0], None),
        (CONSEIL, "etablissement"): (etabs[globex][0], None),
        (RH_ACME, "etablissement"): (etabs[acme][0], etabs[globex][0]),
        (RH_GLOBEX, "etablissement"): (etabs[globex][0], etabs[acme][0]),
        (ADMIN, "user"): (uid[BRUNO], None),
    }
    view_labels = {}
    for (account, endpoint), ids in view_rows.items():
        model = ENDPOINT_MODELS[endpoint]
        for pk in ids:
            if pk is not None:
                view_labels[(endpoint, pk)] = str(escape(getattr(
                    db.session.get(model, pk), LABEL[endpoint])))
    return World(users=uid, info=info, droit=droit, all_formations=set(formations),
                 formation_names={i: str(f) for i, f in formations.items()}, acme=acme,
                 globex=globex, own=own, other=other, scope=scope, expected_scope=expected,
                 dossiers=dossiers, view_rows=view_rows, view_labels=view_labels)


@pytest.fixture(scope="module")
def world(app) -> World:
    with app.app_context():
        db.session.expire_all()
        return _build_world()


@pytest.fixture(scope="module")
def _session_cookies(app) -> dict[str, str]:
    """Log every demo account in once (password hashing is slow); keep its session cookie."""
    cookies = {}
    for account in ACCOUNTS:
        client = app.test_client()
        response = web_login(client, account, DEMO_PASSWORD)
        assert response.status_code == 302, f"login failed for {account}"
        cookies[account] = client.get_cookie("session").value
    return cookies


@pytest.fixture()
def as_(app, _session_cookies):
    """as_(account) -> a fresh test client carrying that account's session (no stale flashes)."""
    def _client(account):
        client = app.test_client()
        client.set_cookie("session", _session_cookies[account])
        return client
    return _client


# ================================================================================================
# Helpers: pages, forms, database state
# ================================================================================================


def _text(response) -> str:
    return response.get_data(as_text=True)


def list_count(html: str) -> int:
    """The "Liste (N)" tab; Flask-Admin shows a bare "Liste" when there is no row."""
    match = re.search(r'class="nav-link active">Liste(?: \((\d+)\))?</a>', html)
    assert match, "no « Liste (N) » tab on the page"
    return int(match.group(1) or 0)


def list_ids(html: str) -> set[int]:
    return {int(i) for i in re.findall(r'<td class="col-id">\s*(\d+)\s*</td>', html)}


def csv_rows(response) -> list[dict]:
    # Sillon writes CSV as French Excel opens it: UTF-8 with a BOM, ';' between cells.
    text = response.get_data().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))


def filter_options(html: str, name: str) -> list[tuple[str, str]]:
    match = re.search(r'<div id="filter-groups-data" class="d-none">(.*?)</div>', html, re.S)
    assert match, "no filter data on the list page"
    groups = json.loads(match.group(1))
    return [tuple(option) for option in groups[name][0]["options"] or []]


def select_options(html: str, field_name: str) -> dict[str, str]:
    doc = lxml.html.fromstring(html)
    selects = doc.xpath(f'//select[@name="{field_name}"]')
    assert selects, f"no <select name={field_name}> on the page"
    return {o.get("value"): o.text_content().strip() for o in selects[0].xpath(".//option")}


def form_values(html: str) -> list[tuple[str, str]]:
    """What a browser would submit for the page's model form, as (name, value) pairs."""
    doc = lxml.html.fromstring(html)
    forms = [f for f in doc.forms if "admin-form" in (f.get("class") or "")
             or f.get("id") == "tab-form"]
    assert forms, "no model form on the page"
    return [(k, v) for k, v in forms[0].form_values()]


def with_value(pairs, name, value) -> MultiDict:
    return MultiDict([(k, v) for k, v in pairs if k != name] + [(name, value)])


def snapshot(app, model, pk) -> dict | None:
    """The row as stored, read in a fresh session (None when it does not exist)."""
    with app.app_context():
        db.session.expire_all()
        obj = db.session.get(model, pk)
        if obj is None:
            return None
        row = {c.name: getattr(obj, c.name) for c in model.__table__.columns}
        if model is Formation:
            row["responsables"] = sorted(u.id for u in obj.responsables)
            row["gestionnaires"] = sorted(u.id for u in obj.gestionnaires)
        if model is Structure:  # its name is in its establishments' search columns
            row["recherche des établissements"] = {e.id: e.recherche for e in obj.etablissements}
        return row


def restore(app, model, pk, snap) -> None:
    """Put a row back exactly as it was (version and timestamps included)."""
    with app.app_context():
        table = model.__table__
        db.session.execute(sa.update(table).where(table.c.id == pk).values(
            **{c.name: snap[c.name] for c in table.columns if c.name != "id"}))
        if model is Structure:  # a Core update: the rename's event does not run
            sites = Etablissement.__table__
            for site_id, text in snap["recherche des établissements"].items():
                db.session.execute(sa.update(sites).where(sites.c.id == site_id)
                                   .values(recherche=text))
        if model is Formation:
            for assoc, key in ((formation_responsables, "responsables"),
                               (formation_gestionnaires, "gestionnaires")):
                db.session.execute(sa.delete(assoc).where(assoc.c.formation_id == pk))
                for user_id in snap[key]:
                    db.session.execute(sa.insert(assoc).values(formation_id=pk, user_id=user_id))
        db.session.commit()
    assert snapshot(app, model, pk) == snap


BOOKKEEPING = {"version", "updated_at"}
DERIVED = {"recherche des établissements"}  # follows the structure's name (search columns)


def changed_columns(before: dict, after: dict) -> set[str]:
    return {k for k in before if before[k] != after[k]} - BOOKKEEPING - DERIVED


@contextmanager
def throwaway(app, like: int, state: str = "initialise", contact: bool = True):
    """A disposable dossier with the same owners as dossier ``like``, in ``state`` (without its
    employer contact when ``contact`` is false)."""
    tag = uuid.uuid4().hex[:10]
    with app.app_context():
        src = db.session.get(Dossier, like)
        dossier = Dossier(
            state=state, dispositif=src.dispositif, niveau_saisie=src.niveau_saisie,
            formation_id=src.formation_id, apprentice_user_id=src.apprentice_user_id,
            etablissement_id=src.etablissement_id,
            employer_contact_id=src.employer_contact_id if contact else None,
            cfa_conseiller_id=src.cfa_conseiller_id, apprenti_nom="Jetable",
            apprenti_prenom=f"Essai{tag}", apprenti_email=f"jetable.{tag}@test.sillon.demo",
            employeur_siret=src.employeur_siret,
            employeur_contact_email=src.employeur_contact_email if contact else None,
            date_debut_contrat=src.date_debut_contrat, date_fin_contrat=src.date_fin_contrat)
        db.session.add(dossier)
        db.session.commit()
        pk = dossier.id
    try:
        yield pk
    finally:
        with app.app_context():
            obj = db.session.get(Dossier, pk)
            if obj is not None:
                db.session.delete(obj)
                db.session.commit()


def dossiers_with_email(app, email) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(sa.select(Dossier.id).where(
            Dossier.apprenti_email == email)))


def delete_dossiers(app, ids) -> None:
    with app.app_context():
        for pk in ids:
            obj = db.session.get(Dossier, pk)
            if obj is not None:
                db.session.delete(obj)
        db.session.commit()


def assert_redirect_to(response, path: str) -> None:
    assert response.status_code == 302, response.status_code
    assert response.headers["Location"].split("?")[0] == path, response.headers["Location"]


def assert_answers_like_missing_row(client, url_for_id, row_id, leaks) -> None:
    """Another owner's row answers exactly like an id that does not exist, and leaks nothing,
    neither in the answer nor on the page it sends to."""
    other = client.get(url_for_id(row_id))
    missing = client.get(url_for_id(987654321))
    assert (other.status_code, other.headers.get("Location")) == \
        (missing.status_code, missing.headers.get("Location"))
    assert other.status_code in (302, 404)
    pages = [_text(other)]
    if other.status_code == 302:
        pages.append(_text(client.get(other.headers["Location"])))
    for page in pages:
        for secret in leaks:
            assert secret not in page


# ================================================================================================
# 0. The scope itself: the policy's SQL equals SPEC §1, and the chosen rows are what they claim
# ================================================================================================


@pytest.mark.parametrize("account", ACCOUNTS)
def test_policy_scope_is_the_spec_scope(world, account):
    assert world.scope[account] == world.expected_scope[account]
    assert world.own[account] in world.scope[account]
    if world.other[account] is not None:
        assert world.other[account] not in world.scope[account]
    if account in (ADMIN, CONSEIL):
        assert len(world.scope[account]) == len(world.dossiers)
    else:
        assert 0 < len(world.scope[account]) < len(world.dossiers)


# ================================================================================================
# 1. The dossier screen, door by door
# ================================================================================================


def _matrix_cases():
    for account, door, own, other in DOSSIER_MATRIX:
        for which, expected in (("own", own), ("other", other)):
            if expected is not NO_ROW:
                yield pytest.param(account, door, which, expected,
                                   id=f"{account.split('@')[0]}-{door}-{which}-{expected}")


def test_matrix_covers_every_account_and_door():
    cells = {(a, d) for a, d, _, _ in DOSSIER_MATRIX}
    assert cells == {(a, d) for a in ACCOUNTS for d in DOSSIER_DOORS}
    assert len(cells) == len(DOSSIER_MATRIX)


@dataclass
class Ctx:
    """One knock: the app, the demo world, who knocks and their logged-in client."""
    app: object
    world: World
    account: str
    client: object


def knock_list(ctx, row, expected):
    page = _text(ctx.client.get("/admin/dossier/?page_size=100"))
    data = ctx.world.dossiers[row]
    if expected == ALLOWED:
        assert row in list_ids(page) and data["name"] in page
    else:
        assert row not in list_ids(page)
        assert data["name"] not in page and data["email"] not in page


def knock_search(ctx, row, expected):
    data = ctx.world.dossiers[row]
    term = data["nom"]
    response = ctx.client.get("/admin/dossier/", query_string={"search": term, "page_size": 100})
    assert response.status_code == 200
    page = _text(response)
    with ctx.app.app_context():
        user = db.session.get(User, ctx.world.users[ctx.account])
        like = f"%{term}%"
        hits = set(db.session.scalars(sa.select(Dossier.id).where(
            policy.row_filter(Dossier, user),
            sa.or_(Dossier.apprenti_nom.ilike(like), Dossier.apprenti_prenom.ilike(like),
                   Dossier.apprenti_email.ilike(like)))))
    assert list_count(page) == len(hits)
    assert list_ids(page) == hits
    if expected == ALLOWED:
        assert row in hits and data["name"] in page
    else:
        assert hits == set()
        assert data["name"] not in page and data["email"] not in page


def knock_export_csv(ctx, row, expected):
    response = ctx.client.get("/admin/dossier/export/csv/")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    ids = {int(r["N°"]) for r in csv_rows(response)}
    data = ctx.world.dossiers[row]
    if expected == ALLOWED:
        assert row in ids
    else:
        assert row not in ids
        assert data["email"] not in _text(response)
        assert data["name"] not in _text(response)


def knock_details(ctx, row, expected):
    data = ctx.world.dossiers[row]
    if expected == ALLOWED:
        # Issue 15: no generic details screen for a dossier, its tabs instead.
        response = ctx.client.get(f"/admin/dossier/details/?id={row}")
        assert response.status_code == 303
        assert response.headers["Location"].endswith(f"/admin/dossier/{row}/base/")
        assert data["email"] in _text(ctx.client.get(response.headers["Location"]))
    else:
        assert_answers_like_missing_row(ctx.client, lambda i: f"/admin/dossier/details/?id={i}",
                                        row, [data["email"], data["name"]])


def knock_edit_get(ctx, row, expected):
    data = ctx.world.dossiers[row]
    if expected == ALLOWED:
        response = ctx.client.get(f"/admin/dossier/edit/?id={row}")
        assert response.status_code == 303
        assert response.headers["Location"].endswith(f"/admin/dossier/{row}/base/")
        assert ctx.client.get(response.headers["Location"]).status_code == 200
    else:
        assert_answers_like_missing_row(ctx.client, lambda i: f"/admin/dossier/edit/?id={i}",
                                        row, [data["email"], data["name"]])


def knock_edit_post(ctx, row, expected):
    assert expected == DENIED, "the generic edit form never writes a dossier"
    payload = {"csrf_token": csrf(ctx.client), EDITED_FIELD["dossier"]: NEW_VALUE["dossier"],
               "apprenti_nom": "Modifié par le formulaire générique"}
    before = snapshot(ctx.app, Dossier, row)
    response = ctx.client.post(f"/admin/dossier/edit/?id={row}", data=payload)
    after = snapshot(ctx.app, Dossier, row)
    try:
        if row == ctx.world.own[ctx.account]:
            assert response.status_code == 303  # to the dossier's tabs, nothing written
        else:
            assert response.status_code == 404
        assert after == before
    finally:
        if after != before:
            restore(ctx.app, Dossier, row, before)


def knock_delete(ctx, row, expected):
    with throwaway(ctx.app, like=row) as victim:
        response = ctx.client.post("/admin/dossier/delete/",
                                   data={"id": victim, "csrf_token": csrf(ctx.client)})
        assert_redirect_to(response, "/admin/dossier/")
        gone = snapshot(ctx.app, Dossier, victim) is None
        assert gone is (expected == ALLOWED)


def knock_bulk_delete(ctx, row, expected):
    with throwaway(ctx.app, like=row) as victim:
        response = ctx.client.post("/admin/dossier/action/", data={
            "action": "delete", "rowid": [str(victim)], "csrf_token": csrf(ctx.client)})
        assert_redirect_to(response, "/admin/dossier/")
        gone = snapshot(ctx.app, Dossier, victim) is None
        assert gone is (expected == ALLOWED)


def knock_ajax_update(ctx, row, expected):
    assert expected == DENIED, "no dossier column is editable from the list"
    before = snapshot(ctx.app, Dossier, row)
    response = ctx.client.post("/admin/dossier/ajax/update/", data={
        "list_form_pk": str(row), "apprenti_nom": "Modifié depuis la liste",
        "csrf_token": csrf(ctx.client)})
    assert response.status_code == 404
    assert snapshot(ctx.app, Dossier, row) == before


KNOCK = {"list": knock_list, "search": knock_search, "export_csv": knock_export_csv,
         "details": knock_details, "edit_get": knock_edit_get, "edit_post": knock_edit_post,
         "delete": knock_delete, "bulk_delete": knock_bulk_delete,
         "ajax_update": knock_ajax_update}
assert set(KNOCK) == set(DOSSIER_DOORS)


@pytest.mark.parametrize("account,door,which,expected", list(_matrix_cases()))
def test_dossier_door(app, world, as_, account, door, which, expected):
    row = world.row(account, which)
    KNOCK[door](Ctx(app, world, account, as_(account)), row, expected)


@pytest.mark.parametrize("account", ACCOUNTS)
def test_list_count_rows_and_csv_are_exactly_the_scope(world, as_, account):
    client = as_(account)
    scope = world.scope[account]
    page = _text(client.get("/admin/dossier/?page_size=100"))
    assert list_count(page) == len(scope)
    assert list_ids(page) == scope
    first_page = _text(client.get("/admin/dossier/"))
    assert list_count(first_page) == len(scope)
    assert list_ids(first_page) <= scope
    export = client.get("/admin/dossier/export/csv/")
    assert {int(r["N°"]) for r in csv_rows(export)} == scope
    for pk, data in world.dossiers.items():
        if pk not in scope:
            assert data["email"] not in page and data["email"] not in _text(export)


@pytest.mark.parametrize("account", [a for a in ACCOUNTS if a not in (ADMIN, CONSEIL)])
def test_filtering_on_another_managers_training_shows_nothing_of_theirs(world, as_, account):
    """The "Formation" filter applied by URL (a training out of scope included) lists only rows
    in scope: the own training shows the own rows, the other one shows no other owner's row."""
    client = as_(account)
    for row in (world.own[account], world.other[account]):
        formation = world.dossiers[row]["formation_id"]
        page = _text(client.get("/admin/dossier/",
                                query_string={"flt0_1": formation, "page_size": 100}))
        expected = {pk for pk in world.scope[account]
                    if world.dossiers[pk]["formation_id"] == formation}
        assert list_ids(page) == expected
        assert list_count(page) == len(expected)
        assert world.other[account] not in list_ids(page)
        if row == world.own[account]:
            assert row in list_ids(page)


def test_xlsx_export_holds_only_the_scope(app, world, as_):
    # Issue 15: the dossier list exports XLSX too, through the same scoped query as the CSV.
    from openpyxl import load_workbook
    for account in (RESP_DROIT, RH_ACME, ALICE):
        response = as_(account).get("/admin/dossier/export/xlsx/")
        assert response.status_code == 200
        ids = {r[0] for r in load_workbook(io.BytesIO(response.data)).active.iter_rows(
            min_row=2, values_only=True)}
        assert world.other[account] not in ids
        with app.app_context():
            user = db.session.get(User, world.users[account])
            assert ids == set(db.session.scalars(sa.select(Dossier.id).where(
                policy.row_filter(Dossier, user))))


# ================================================================================================
# 2. Locked states: the workflow freezes the dossier, every door refuses with a French message
# ================================================================================================


def _state_cases():
    for account, *outcomes in EDIT_BY_STATE:
        for state, expected in zip(EDIT_STATES, outcomes):
            yield pytest.param(account, state, expected,
                               id=f"{account.split('@')[0]}-{state}-{expected}")


def test_edit_by_state_table_follows_the_workflow():
    for account, *outcomes in EDIT_BY_STATE:
        for state, expected in zip(EDIT_STATES, outcomes):
            s = STATES[state]
            if s.locked:
                assert expected == LOCKED
            elif s.locked_for_parties and account in PARTIES:
                assert expected == FROZEN
            else:
                assert expected == ALLOWED


def _base_tab_payload(client, pk) -> MultiDict:
    """Données de base as shown, with the name changed (and a birth date when none)."""
    page = client.get(f"/admin/dossier/{pk}/base/")
    assert page.status_code == 200
    payload = with_value(form_values(_text(page)), "apprenti_nom", "Modifiénom")
    if not payload.get("apprenti_date_naissance"):
        payload = with_value(list(payload.items(multi=True)), "apprenti_date_naissance",
                             "2004-05-06")
    return payload


@pytest.mark.parametrize("account,state,expected", list(_state_cases()))
def test_tab_post_by_state(app, world, as_, account, state, expected):
    """The write doors by state: Données de base for the training, the CFA and the employer,
    "J'ai trouvé un employeur" for the apprentice. A refused POST changes nothing."""
    client = as_(account)
    with throwaway(app, like=world.own[account], state=state, contact=account not in
                   (ALICE, BRUNO)) as pk:
        if account in (ALICE, BRUNO):
            url = f"/admin/dossier/{pk}/employeur/trouve/"
            payload = {"csrf_token": csrf(client), "siret": "73282932000074",
                       "email": f"contact.{uuid.uuid4().hex[:8]}@exemple-test.fr"}
        else:
            url = f"/admin/dossier/{pk}/base/"
            payload = _base_tab_payload(client, pk)
        before = snapshot(app, Dossier, pk)
        response = client.post(url, data=payload)
        after = snapshot(app, Dossier, pk)
        if expected == ALLOWED:
            assert response.status_code == 302, _text(response)[:2000]
            if account in (ALICE, BRUNO):
                assert after["employeur_contact_email"] == payload["email"]
            else:
                assert after["apprenti_nom"] == "Modifiénom"
                # recherche: the folded search text follows the name (issue 16).
                assert changed_columns(before, after) <= {"apprenti_nom",
                                                          "apprenti_date_naissance",
                                                          "recherche"}
                assert "modifienom" in after["recherche"]
            assert after["version"] > before["version"]
        else:
            assert response.status_code in (302, 303)
            assert after == before
            assert LOCK_MESSAGES[expected] in _text(client.get(response.headers["Location"]))


@pytest.mark.parametrize("state,single,bulk", DELETE_BY_STATE)
def test_admin_single_delete_by_state(app, world, as_, state, single, bulk):
    client = as_(ADMIN)
    with throwaway(app, like=world.own[RESP_DROIT], state=state) as pk:
        response = client.post("/admin/dossier/delete/",
                               data={"id": pk, "csrf_token": csrf(client)})
        assert_redirect_to(response, "/admin/dossier/")
        assert (snapshot(app, Dossier, pk) is None) is (single == ALLOWED)
        if single == DENIED:
            assert "Vous n&#39;avez pas le droit de supprimer" in _text(
                client.get(response.headers["Location"]))


@pytest.mark.parametrize("state,single,bulk", DELETE_BY_STATE)
def test_admin_bulk_delete_by_state(app, world, as_, state, single, bulk):
    """Bulk delete goes through the per-row predicate (fast_mass_delete is off): a locked row
    stays, the unlocked row selected with it goes."""
    client = as_(ADMIN)
    with throwaway(app, like=world.own[RESP_DROIT], state=state) as pk, \
            throwaway(app, like=world.own[RESP_DROIT], state="initialise") as unlocked:
        response = client.post("/admin/dossier/action/", data={
            "action": "delete", "rowid": [str(pk), str(unlocked)], "csrf_token": csrf(client)})
        assert_redirect_to(response, "/admin/dossier/")
        assert (snapshot(app, Dossier, pk) is None) is (bulk == ALLOWED)
        assert snapshot(app, Dossier, unlocked) is None


@pytest.mark.parametrize("account", [a for a in ACCOUNTS if a != ADMIN])
def test_bulk_delete_of_others_rows_mixed_with_own_deletes_nothing(app, world, as_, account):
    client = as_(account)
    others = world.other[account] or world.own[account]
    with throwaway(app, like=world.own[account]) as mine, throwaway(app, like=others) as theirs:
        response = client.post("/admin/dossier/action/", data={
            "action": "delete", "rowid": [str(mine), str(theirs)], "csrf_token": csrf(client)})
        assert_redirect_to(response, "/admin/dossier/")
        assert snapshot(app, Dossier, mine) is not None
        assert snapshot(app, Dossier, theirs) is not None


def test_admin_bulk_delete_ignores_ids_that_do_not_exist(app, world, as_):
    client = as_(ADMIN)
    before = len(world.dossiers)
    response = client.post("/admin/dossier/action/", data={
        "action": "delete", "rowid": ["987654321", "abc"], "csrf_token": csrf(client)})
    assert_redirect_to(response, "/admin/dossier/")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Dossier)) == before


# ================================================================================================
# 3. Relations: trainings offered in selects and filters, creating and re-pointing dossiers
# ================================================================================================


def _expected_formations(world, which) -> set[int]:
    return {"all": world.all_formations, "info": world.info, "droit": world.droit}[which]


@pytest.mark.parametrize("account,which", FORMATION_CHOICES)
def test_formation_select_on_the_creation_form(world, as_, account, which):
    client = as_(account)
    expected = _expected_formations(world, which)
    hidden = [world.formation_names[f] for f in world.all_formations - expected]
    for url in ("/admin/dossier/new/",):
        response = client.get(url)
        assert response.status_code == 200, url
        page = _text(response)
        options = select_options(page, "formation")
        assert {int(v) for v in options if v and v not in ("__None", "None")} == expected, url
        for name in hidden:
            assert str(escape(name)) not in page, (url, name)


def test_admin_training_form_offers_the_cfa_and_the_partner_schools(app, world, as_):
    """Relation selects are scoped by the policy; a model the policy does not know must not
    end up with an empty select (the cfa_admin could then neither create nor edit a training,
    and saving would clear its establishment)."""
    from portal.models import Cfa, EtablissementFormation
    with app.app_context():
        cfas = {str(i) for i in db.session.scalars(sa.select(Cfa.id))}
        schools = {str(i) for i in db.session.scalars(sa.select(EtablissementFormation.id))}
    client = as_(ADMIN)
    for url in ("/admin/formation/new/", f"/admin/formation/edit/?id={min(world.droit)}"):
        page = _text(client.get(url))
        assert set(select_options(page, "cfa")) - {"__None"} == cfas, url
        assert set(select_options(page, "etablissement_formation")) - {"__None"} == schools, url


@pytest.mark.parametrize("account", [RH_ACME, RH_GLOBEX, ALICE, BRUNO])
def test_parties_have_no_formation_select_and_no_create_form(world, as_, account):
    client = as_(account)
    tab = client.get(f"/admin/dossier/{world.own[account]}/base/")
    assert tab.status_code == 200
    assert 'name="formation"' not in _text(tab)
    assert_redirect_to(client.get("/admin/dossier/new/"), "/admin/dossier/")


@pytest.mark.parametrize("account,which", FORMATION_CHOICES)
def test_formation_filter_options_are_computed_per_request(world, as_, account, which):
    """The options of the "Formation" filter follow the person who asks, whoever came before."""
    expected = _expected_formations(world, which)
    for first in (ADMIN, RESP_INFO, RESP_DROIT):  # someone else loads the list page first
        as_(first).get("/admin/dossier/")
        page = _text(as_(account).get("/admin/dossier/"))
        options = filter_options(page, "Formation")
        assert {int(k) for k, _ in options} == expected, first
        for pk in world.all_formations - expected:
            assert world.formation_names[pk] not in {label for _, label in options}


@pytest.mark.parametrize("account", [RH_ACME, RH_GLOBEX, ALICE, BRUNO])
def test_parties_formation_filter_offers_nothing_out_of_scope(world, as_, account):
    page = _text(as_(account).get("/admin/dossier/"))
    offered = {int(k) for k, _ in filter_options(page, "Formation")}
    assert offered <= {world.dossiers[pk]["formation_id"] for pk in world.scope[account]}


@pytest.mark.parametrize("account,which,expected", CREATE_IN_FORMATION)
def test_create_dossier_in_a_training(app, world, as_, account, which, expected):
    client = as_(account)
    formation = min(_expected_formations(world, which))
    email = f"creation.{uuid.uuid4().hex[:10]}@test.sillon.demo"
    payload = {"csrf_token": csrf(client), "formation": str(formation),
               "niveau_saisie": "complete", "dispositif": "apprentissage",
               "apprenti_nom": "Créé", "apprenti_prenom": "Parlematrice",
               "apprenti_email": email}
    response = client.post("/admin/dossier/new/", data=payload)
    created = dossiers_with_email(app, email)
    try:
        if expected == ALLOWED:
            assert len(created) == 1
            assert_redirect_to(response, f"/admin/dossier/{created[0]}/base/")
            stored = snapshot(app, Dossier, created[0])
            assert stored["formation_id"] == formation
            assert stored["created_by_id"] == world.users[account]
        elif account in PARTIES:  # no create door at all: back to the list
            assert_redirect_to(response, "/admin/dossier/")
            assert created == []
        else:  # the form again, "not a valid choice" next to the training
            assert response.status_code == 422
            assert created == []
    finally:
        delete_dossiers(app, created)


@pytest.mark.parametrize("account,which,expected", REPOINT_FORMATION)
def test_edit_cannot_move_a_dossier_to_another_managers_training(app, world, as_, account,
                                                                 which, expected):
    """No door moves a dossier to another training: the generic form writes nothing, and no
    tab shows the training as a field."""
    client = as_(account)
    row = world.own[account]
    target = min(_expected_formations(world, which))
    before = snapshot(app, Dossier, row)
    response = client.post(f"/admin/dossier/edit/?id={row}",
                           data={"csrf_token": csrf(client), "formation": str(target)})
    for tab in ("base", "alternant", "employeur", "contrat"):
        page = client.get(f"/admin/dossier/{row}/{tab}/")
        assert 'name="formation"' not in _text(page), tab
    after = snapshot(app, Dossier, row)
    try:
        assert expected == DENIED
        assert response.status_code == 303
        assert after == before
    finally:
        if after != before:
            restore(app, Dossier, row, before)


# ================================================================================================
# 4. form_ajax_refs lookups (structure → référent)
# ================================================================================================


@pytest.mark.parametrize("account,status,found", REFERENT_LOOKUP)
def test_referent_lookup_returns_only_users_in_scope(app, world, as_, account, status, found):
    client = as_(account)
    for query in ("sillon", "globex", "acme", ""):
        response = client.get("/admin/structure/ajax/lookup/",
                              query_string={"name": "referent", "query": query})
        assert response.status_code == status
        if status != 200:
            continue
        got = {row[0] for row in json.loads(_text(response))}
        with app.app_context():
            user = db.session.get(User, world.users[account])
            like = f"%{query}%"
            matching = set(db.session.scalars(sa.select(User.id).where(
                sa.or_(User.email.ilike(like), User.last_name.ilike(like)))))
            in_scope = set(db.session.scalars(sa.select(User.id).where(
                policy.row_filter(User, user))))
        assert got <= matching & in_scope, query
        assert len(got) == min(10, len(matching & in_scope)), query
        if found == "themselves only":
            assert got <= {world.users[account]}, query


def test_referent_lookup_of_an_employer_never_finds_the_other_company(world, as_):
    for account, company in ((RH_ACME, "globex"), (RH_GLOBEX, "acme")):
        response = as_(account).get("/admin/structure/ajax/lookup/",
                                    query_string={"name": "referent", "query": company})
        assert response.status_code == 200
        assert json.loads(_text(response)) == []


def test_lookup_of_an_unknown_relation_is_404(as_):
    response = as_(ADMIN).get("/admin/structure/ajax/lookup/",
                              query_string={"name": "etablissements", "query": "a"})
    assert response.status_code == 404


# ================================================================================================
# 5. Screens a role may not open, and the other screens' own/other rows
# ================================================================================================


def _access_cases():
    for account, dossier, formation, structure, etab, user, reference in VIEW_ACCESS:
        opens = {"dossier": dossier, "formation": formation, "structure": structure,
                 "etablissement": etab, "user": user,
                 **{ep: reference for ep in REFERENCE_ENDPOINTS}}
        for endpoint, may in opens.items():
            yield pytest.param(account, endpoint, may,
                               id=f"{account.split('@')[0]}-{endpoint}-{'Y' if may else 'n'}")


def test_view_access_table_is_the_policy():
    with_roles = {ADMIN, CONSEIL}
    assert {row[0] for row in VIEW_ACCESS} == set(ACCOUNTS)
    assert all(row[1] for row in VIEW_ACCESS), "every role opens the dossier list"
    assert [row[0] for row in VIEW_ACCESS if row[5]] == [ADMIN]
    assert [row[0] for row in VIEW_ACCESS if row[6]] == [ADMIN]
    assert {row[0] for row in VIEW_ACCESS if row[3]} == with_roles | {RH_ACME, RH_GLOBEX}


@pytest.mark.parametrize("account,endpoint,may_open", list(_access_cases()))
def test_view_access(app, as_, account, endpoint, may_open):
    client = as_(account)
    model = ENDPOINT_MODELS[endpoint]
    with app.app_context():
        some_id = db.session.scalar(sa.select(sa.func.min(model.id)))
    assert some_id is not None, endpoint
    base = f"/admin/{endpoint}/"
    if may_open:
        assert client.get(base).status_code == 200
        return
    token = csrf(client)
    before = snapshot(app, model, some_id)
    doors = {
        "list": client.get(base),
        "details": client.get(f"{base}details/?id={some_id}"),
        "edit_get": client.get(f"{base}edit/?id={some_id}"),
        "create_get": client.get(f"{base}new/"),
        "edit_post": client.post(f"{base}edit/?id={some_id}", data={"csrf_token": token}),
        "delete": client.post(f"{base}delete/", data={"id": some_id, "csrf_token": token}),
    }
    assert set(doors) == set(FORBIDDEN_DOORS)
    for door, response in doors.items():
        assert response.status_code == 403, (door, response.status_code)
    assert snapshot(app, model, some_id) == before


def _other_view_cases():
    for account, endpoint, door, own, other in OTHER_VIEWS_MATRIX:
        for which, expected in (("own", own), ("other", other)):
            if expected is not NO_ROW:
                yield pytest.param(account, endpoint, door, which, expected,
                                   id=f"{account.split('@')[0]}-{endpoint}-{door}-{which}-"
                                      f"{expected}")


@pytest.mark.parametrize("account,endpoint,door,which,expected", list(_other_view_cases()))
def test_other_view_door(app, world, as_, account, endpoint, door, which, expected):
    client = as_(account)
    own, other = world.view_rows[(account, endpoint)]
    row = own if which == "own" else other
    label = world.view_labels[(endpoint, row)]
    model = ENDPOINT_MODELS[endpoint]
    base = f"/admin/{endpoint}/"
    if door == "list":
        page = _text(client.get(base, query_string={"page_size": 100}))
        assert (label in page) is (expected == ALLOWED)
        with app.app_context():
            user = db.session.get(User, world.users[account])
            count = db.session.scalar(sa.select(sa.func.count()).select_from(model).where(
                policy.row_filter(model, user)))
        assert list_count(page) == count
    elif door == "details":
        if expected == ALLOWED:
            response = client.get(f"{base}details/?id={row}")
            assert response.status_code == 200 and label in _text(response)
        else:
            assert_answers_like_missing_row(client, lambda i: f"{base}details/?id={i}", row,
                                            [label])
    elif door == "edit_get":
        if expected == ALLOWED:
            response = client.get(f"{base}edit/?id={row}")
            assert response.status_code == 200 and 'class="admin-form' in _text(response)
        elif which == "other":
            assert_answers_like_missing_row(client, lambda i: f"{base}edit/?id={i}", row,
                                            [label])
        else:  # a row the person sees but may not edit: back to the list
            assert_redirect_to(client.get(f"{base}edit/?id={row}"), base)
    elif door == "edit_post":
        form = client.get(f"{base}edit/?id={own}")
        pairs = form_values(_text(form)) if form.status_code == 200 else \
            [("csrf_token", csrf(client))]
        payload = with_value(pairs, EDITED_FIELD[endpoint], NEW_VALUE[endpoint])
        before = snapshot(app, model, row)
        response = client.post(f"{base}edit/?id={row}", data=payload)
        after = snapshot(app, model, row)
        try:
            assert_redirect_to(response, base)
            if expected == ALLOWED:
                # Only the field typed changes: nothing else is lost on the way (relations,
                # ajax-ref fields posted back, checkboxes).
                assert changed_columns(before, after) == {EDITED_FIELD[endpoint]}
            else:
                assert after == before
        finally:
            if after != before:
                restore(app, model, row, before)
    else:  # pragma: no cover
        raise AssertionError(door)


# ================================================================================================
# 6. CSRF: every POST without a valid token is refused (400) and changes nothing
# ================================================================================================


def test_csrf_edit_post_without_token(app, world, as_):
    client = as_(RESP_INFO)
    row = world.own[RESP_INFO]
    pairs = [(k, v) for k, v in form_values(_text(client.get(f"/admin/dossier/{row}/base/")))
             if k != "csrf_token"]
    before = snapshot(app, Dossier, row)
    response = client.post(f"/admin/dossier/{row}/base/",
                           data=with_value(pairs, EDITED_FIELD["dossier"], NEW_VALUE["dossier"]))
    assert response.status_code == 400
    assert snapshot(app, Dossier, row) == before


def test_csrf_token_of_another_session_is_refused(app, world, as_):
    alice, bruno = as_(RESP_INFO), as_(BRUNO)
    row = world.own[RESP_INFO]
    pairs = with_value(form_values(_text(alice.get(f"/admin/dossier/{row}/base/"))),
                       "csrf_token", csrf(bruno))
    before = snapshot(app, Dossier, row)
    response = alice.post(f"/admin/dossier/{row}/base/",
                          data=with_value(list(pairs.items(multi=True)), EDITED_FIELD["dossier"],
                                          NEW_VALUE["dossier"]))
    assert response.status_code == 400
    assert snapshot(app, Dossier, row) == before


def test_csrf_create_without_token(app, as_, world):
    client = as_(RESP_DROIT)
    email = f"csrf.{uuid.uuid4().hex[:10]}@test.sillon.demo"
    response = client.post("/admin/dossier/new/", data={
        "formation": str(min(world.droit)), "niveau_saisie": "complete",
        "dispositif": "apprentissage", "apprenti_email": email})
    created = dossiers_with_email(app, email)
    delete_dossiers(app, created)
    assert response.status_code == 400
    assert created == []


def test_csrf_delete_and_bulk_delete_without_token(app, world, as_):
    client = as_(ADMIN)
    with throwaway(app, like=world.own[RESP_DROIT]) as pk:
        assert client.post("/admin/dossier/delete/", data={"id": pk}).status_code == 400
        assert snapshot(app, Dossier, pk) is not None
        response = client.post("/admin/dossier/action/",
                               data={"action": "delete", "rowid": [str(pk)]})
        assert response.status_code == 400
        assert snapshot(app, Dossier, pk) is not None


def ajax_update_is_routed(app) -> bool:
    return any(rule.rule == "/admin/dossier/ajax/update/" for rule in app.url_map.iter_rules())


def test_ajax_update_door_is_closed(app, world, as_):
    """No list cell is editable: the door answers 404, with or without a token, to anyone."""
    row = world.own[ADMIN]
    before = snapshot(app, Dossier, row)
    client = as_(ADMIN)
    for data in ({"list_form_pk": str(row), "apprenti_nom": "X"},
                 {"list_form_pk": str(row), "apprenti_nom": "X", "csrf_token": csrf(client)}):
        response = client.post("/admin/dossier/ajax/update/", data=data)
        # Were the route ever registered, a missing token would have to answer 400 first.
        expected = 404 if not ajax_update_is_routed(app) or "csrf_token" in data else 400
        assert response.status_code == expected
    assert snapshot(app, Dossier, row) == before


def test_csrf_logout_without_token(as_):
    client = as_(RH_GLOBEX)
    assert client.post("/logout").status_code == 400
    assert client.get("/admin/").status_code == 200  # still logged in


# ================================================================================================
# 7. Anonymous visitors: every /admin URL sends to the login page, nothing changes
# ================================================================================================


def _anonymous_urls():
    yield "/admin/"
    for endpoint in ENDPOINT_MODELS:
        base = f"/admin/{endpoint}/"
        yield base
        yield f"{base}details/?id=1"
        yield f"{base}edit/?id=1"
        yield f"{base}new/"
        yield f"{base}export/csv/"
    yield "/admin/structure/ajax/lookup/?name=referent&query=a"


@pytest.mark.parametrize("url", list(_anonymous_urls()))
def test_anonymous_get_goes_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_anonymous_posts_go_to_login_and_change_nothing(app, world, client):
    token = csrf_from(_text(client.get("/login")))  # a valid token of the anonymous session
    row = world.own[ADMIN]
    before = snapshot(app, Dossier, row)
    with throwaway(app, like=row) as pk:
        posts = {
            "edit": (f"/admin/dossier/edit/?id={row}",
                     {"csrf_token": token, "apprenti_nom": "Anonyme"}),
            "delete": ("/admin/dossier/delete/", {"csrf_token": token, "id": pk}),
            "action": ("/admin/dossier/action/",
                       {"csrf_token": token, "action": "delete", "rowid": [str(pk)]}),
            "create": ("/admin/dossier/new/",
                       {"csrf_token": token, "formation": str(min(world.droit)),
                        "apprenti_email": "anonyme@test.sillon.demo"}),
        }
        for door, (url, data) in posts.items():
            response = client.post(url, data=data)
            assert response.status_code == 302, door
            assert response.headers["Location"].startswith("/login?next="), door
        # The editable-cell door is not routed at all: 404 (nothing to log into), no change.
        response = client.post("/admin/dossier/ajax/update/", data={
            "csrf_token": token, "list_form_pk": str(row), "apprenti_nom": "Anonyme"})
        assert response.status_code == (302 if ajax_update_is_routed(app) else 404)
        assert snapshot(app, Dossier, pk) is not None
    assert snapshot(app, Dossier, row) == before
    assert dossiers_with_email(app, "anonyme@test.sillon.demo") == []
