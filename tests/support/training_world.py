"""The world of the training actions' authorization matrix (tests/test_training_matrix.py and
tests/test_training_matrix_writes.py): the personas, the rows, one login per persona, and the
snapshot of the training tables that a refused write must leave as it was.

Built through the write path (portal/training_actions: service.request / service.run,
documents, attendance) with ``today=`` where the step happened in the past; removed at the
end of the module with everything the doors may have added.

- the action OFFERED (active) and its sessions: FUTURE (in a fortnight) holding the requests
  "own_f" of BENEF (ACME, demandée) and "other_f" of GLOBEX_BENEF (Globex, demandée); PAST
  (Monday and Tuesday of last week) holding "own_p" and "other_p", retained, convoked
  (convocation PDF stored), noted present at every half-day, closed (présente) and with their
  attestation stored; OPEN (in three weeks, no request) for the request door;
- the action WITHDRAWN (inactive: out of the employers' catalogue) and its session LATER.
"""
from __future__ import annotations

import uuid
from datetime import date, time, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (ActionFormation, Cfa, Document, Inscription, InscriptionHistory,
                           OutboxEmail, Presence, SessionFormation, Structure,
                           StructureMembership, User, UserRole, utcnow)
from tests.support.web import DEMO_PASSWORD, csrf_from
from tests.support.web import login as web_login

ADMIN, CONSEIL = "admin@sillon.demo", "conseil@sillon.demo"   # cfa_admin, cfa_conseiller
RESP_INFO = "resp.info@sillon.demo"          # formation_responsable: not in CFA_ROLES
REFERENT = "rh@acme.sillon.demo"             # référent of ACME
BENEF = "benef.matrice@acme-test.fr"         # ACME, droit_beneficiaire only: own_f, own_p
DECIDER = "decideur.matrice@acme-test.fr"    # ACME, droit_contact_employeur only
PLAIN = "membre.matrice@acme-test.fr"        # ACME, approved, no right
RH_GLOBEX = "rh@globex.sillon.demo"          # référent of Globex
ALICE = "alice@etu.sillon.demo"              # an apprentice
OUTSIDER = "dehors.matrice@exemple-test.fr"  # an account with no role at all
ANON = "anonyme"                             # nobody logged in
GLOBEX_BENEF = "benef.matrice@globex-test.fr"  # Globex, droit_beneficiaire: other_f, other_p
PERSONAS = [ADMIN, CONSEIL, RESP_INFO, REFERENT, BENEF, DECIDER, PLAIN, RH_GLOBEX, ALICE,
            OUTSIDER, ANON]
LABEL = {ADMIN: "admin", CONSEIL: "conseil", RESP_INFO: "resp_info", REFERENT: "referent_acme",
         BENEF: "beneficiaire_acme", DECIDER: "employeur_acme", PLAIN: "membre_acme",
         RH_GLOBEX: "rh_globex", ALICE: "alice", OUTSIDER: "sans_role", ANON: "anonyme"}
CFA_STAFF = (ADMIN, CONSEIL)

# (e-mail, first name, last name, structure key, employer right, beneficiary right)
MADE = [(BENEF, "Bérangère", "Benefmatrice", "acme", False, True),
        (DECIDER, "Donatien", "Decidmatrice", "acme", True, False),
        (PLAIN, "Pélagie", "Plainmatrice", "acme", False, False),
        (GLOBEX_BENEF, "Gontran", "Globmatrice", "globex", False, True),
        (OUTSIDER, "Odile", "Dehorsmatrice", None, False, False)]
MOTIVATION = {"own": "Motivation propre de la matrice : accueillir Octave.",
              "other": "Motivation globex de la matrice : former Ursule."}
MISSING = 987654321

SEE, HIDE = "affichée", "absente"   # the row is in the list / export, or is not at all
OK = "200"                          # the page or the PDF
W = "écrit"                         # done: the database shows the change (then put back)
NIL = "rien"                        # 302 back to the list, nothing written
R422 = "422"                        # the French refusal on the page, nothing written
N404 = "404"                        # like a row that does not exist, nothing written
F403 = "403"                        # not a screen of theirs, nothing written
LOGIN = "connexion"                 # sent to the login page, nothing written


# ================================================================================================
# Building and removing the world
# ================================================================================================

def one(email) -> User:
    return db.session.execute(sa.select(User).where(User.email == email)).scalar_one()


def _structure_of(referent_email) -> Structure:
    return db.session.execute(sa.select(Structure).where(
        Structure.referent_id == one(referent_email).id).order_by(Structure.id)).scalars().first()


def _high(model) -> int:
    return db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(model.id), 0)))


def _people(structures) -> list[int]:
    from flask import current_app
    ids = []
    for email, first, last, key, employer, beneficiary in MADE:
        user = User(email=email, first_name=first, last_name=last, active=True,
                    rgpd_accepted_at=utcnow(),
                    rgpd_version=current_app.config["RGPD_TERMS_VERSION"])
        user.set_password(DEMO_PASSWORD)
        user.roles = [UserRole(role="employeur")] if key else []
        db.session.add(user)
        db.session.flush()
        if key:
            db.session.add(StructureMembership(
                structure_id=structures[key].id, user_id=user.id,
                status=StructureMembership.APPROUVE, droit_contact_employeur=employer,
                droit_beneficiaire=beneficiary, requested_at=utcnow(), decided_at=utcnow()))
        ids.append(user.id)
    db.session.commit()
    return ids


def weekday_from(day: date) -> date:
    """``day``, or the Monday after it when it falls on a weekend (a session's attendance is
    taken on weekdays only: the session form refuses one with no weekday)."""
    return day + timedelta(days=7 - day.weekday() if day.weekday() >= 5 else 0)


def monday_in_a_fortnight(today: date) -> date:
    """The first Monday at least 14 days after ``today``: a session on it and the next day
    has a full week of weekdays around it whatever day the tests run on."""
    return today + timedelta(14 + (7 - today.weekday()) % 7)


def _sessions(tag, today):
    cfa = db.session.scalars(sa.select(Cfa).order_by(Cfa.id)).first()
    offered = ActionFormation(cfa=cfa, intitule=f"Matrice offerte {tag}", duree_heures=14,
                              prix=300, active=True, public_vise=f"Public offert {tag}",
                              objectifs="Accueillir un apprenti.")
    withdrawn = ActionFormation(cfa=cfa, intitule=f"Matrice retirée {tag}", duree_heures=7,
                                prix=100, active=False, public_vise=f"Public retiré {tag}")
    monday = today - timedelta(days=today.weekday() + 7)
    future = monday_in_a_fortnight(today)

    def session(action, start, end, deadline, place):
        return SessionFormation(action=action, date_debut=start, date_fin=end,
                                heure_debut=time(9), heure_fin=time(17), lieu=place,
                                capacite=10, date_limite_inscription=deadline)
    made = SimpleNamespace(
        offered=offered, withdrawn=withdrawn, monday=monday,
        future=session(offered, future, future + timedelta(1), today + timedelta(7),
                       f"Salle future {tag}"),
        past=session(offered, monday, monday + timedelta(1), monday - timedelta(7),
                     f"Salle passée {tag}"),
        open=session(offered, weekday_from(today + timedelta(21)),
                     weekday_from(today + timedelta(21)), today + timedelta(14),
                     f"Salle ouverte {tag}"),
        later=session(withdrawn, weekday_from(today + timedelta(30)),
                      weekday_from(today + timedelta(30)), today + timedelta(20),
                      f"Salle retirée {tag}"))
    db.session.add_all([offered, withdrawn, made.future, made.past, made.open, made.later])
    db.session.commit()
    return made


def _requests(made, structures, today):
    from portal.training_actions import attendance, documents, service
    cfa, deciders = one(CONSEIL), {"acme": one(REFERENT), "globex": one(RH_GLOBEX)}
    out = {}
    for key, email, where in (("own", BENEF, "acme"), ("other", GLOBEX_BENEF, "globex")):
        person, structure = one(email), structures[where]
        out[f"{key}_f"] = service.request(made.future, by=person, structure=structure,
                                          motivation=MOTIVATION[key], today=today).id
        early = made.past.date_limite_inscription - timedelta(1)
        past = service.request(made.past, by=person, structure=structure,
                               motivation=MOTIVATION[key], today=early)
        service.run("accepter", past, by=deciders[where], today=early)
        service.run("retenir", past, by=cfa, today=early)
        documents.send_convocation(past, by=cfa, today=made.monday - timedelta(3))
        out[f"{key}_p"] = past.id
    after = made.past.date_fin + timedelta(1)
    marks = {(pk, d, h): True for pk in (out["own_p"], out["other_p"])
             for d, h in attendance.expected(made.past)}
    attendance.record(made.past, marks, by=cfa, today=after)
    attendance.close(made.past, by=cfa, today=after)
    for key in ("own_p", "other_p"):
        documents.attestation(db.session.get(Inscription, out[key]), by=cfa)
    return out


def build(app) -> SimpleNamespace:
    tag = uuid.uuid4().hex[:6]
    today = date.today()
    with app.app_context():
        marks = {model: _high(model) for model in (Document, OutboxEmail)}
        structures = {"acme": _structure_of(REFERENT), "globex": _structure_of(RH_GLOBEX)}
        users = _people(structures)
        made = _sessions(tag, today)
        rows = _requests(made, structures, today)
        w = SimpleNamespace(
            tag=tag, marks=marks, users=users, rows=rows,
            acme=structures["acme"].id, globex=structures["globex"].id,
            acme_name=structures["acme"].raison_sociale,
            globex_name=structures["globex"].raison_sociale,
            cfa=made.offered.cfa_id, offered=made.offered.id, withdrawn=made.withdrawn.id,
            offered_title=made.offered.intitule, withdrawn_title=made.withdrawn.intitule,
            withdrawn_public=made.withdrawn.public_vise,
            future=made.future.id, past=made.past.id, open=made.open.id, later=made.later.id,
            later_place=made.later.lieu,
            names={"own": "Benefmatrice", "other": "Globmatrice"},
            emails={"own": BENEF, "other": GLOBEX_BENEF},
            actions=[made.offered.id, made.withdrawn.id])
        return w


def remove(app, w) -> None:
    with app.app_context():
        sessions = sa.select(SessionFormation.id).where(SessionFormation.action_id.in_(
            sa.select(ActionFormation.id).where(ActionFormation.id >= min(w.actions))))
        inscriptions = sa.select(Inscription.id).where(Inscription.session_id.in_(sessions))
        for model in (Presence, InscriptionHistory):
            db.session.execute(sa.delete(model).where(model.inscription_id.in_(inscriptions)))
        db.session.execute(sa.delete(Inscription).where(Inscription.session_id.in_(sessions)))
        db.session.execute(sa.delete(SessionFormation).where(SessionFormation.id.in_(sessions)))
        db.session.execute(sa.delete(ActionFormation).where(
            ActionFormation.id >= min(w.actions)))
        for model in (Document, OutboxEmail):
            db.session.execute(sa.delete(model).where(model.id > w.marks[model]))
        db.session.execute(sa.delete(StructureMembership).where(
            StructureMembership.user_id.in_(w.users)))
        db.session.execute(sa.delete(UserRole).where(UserRole.user_id.in_(w.users)))
        for pk in w.users:
            db.session.delete(db.session.get(User, pk))
        db.session.commit()


# ================================================================================================
# Fixtures: the world, one login per persona
# ================================================================================================

@pytest.fixture(scope="module")
def world(app):
    w = build(app)
    with app.app_context():
        admin = next(a for a in app.extensions["admin"] if a.name == "Sillon")
        w.filter_args = {}
        for view in admin._views:
            if getattr(view, "endpoint", None) in ("inscription", "action_formation",
                                                   "session_formation"):
                args = w.filter_args[view.endpoint] = {}
                for i, flt in enumerate(view._filters):  # the first of a name: "equals"
                    args.setdefault(flt.name, view.get_filter_arg(i, flt))
    try:
        yield w
    finally:
        remove(app, w)


@pytest.fixture(scope="module")
def sessions(app, world):
    """Each persona logged in once (password hashing is slow): its cookie and a CSRF token."""
    out = {}
    for email in PERSONAS:
        if email == ANON:
            continue
        client = app.test_client()
        assert web_login(client, email).status_code == 302, email
        token = csrf_from(client.get("/admin/").get_data(as_text=True))
        out[email] = (client.get_cookie("session").value, token)
    return out


@pytest.fixture()
def as_(app, sessions):
    """as_(persona) -> (a fresh client with that persona's session, its CSRF token)."""
    def _client(persona):
        client = app.test_client()
        if persona == ANON:
            return client, csrf_from(client.get("/login").get_data(as_text=True))
        cookie, token = sessions[persona]
        client.set_cookie("session", cookie)
        return client, token
    return _client


# ================================================================================================
# Observing and restoring the training tables
# ================================================================================================

# Parents first. The training tables whole (the demo's rows too: a door must not touch them);
# documents and e-mails from the world's first one on (the demo's are many, and large).
ORDER = (ActionFormation, SessionFormation, Document, Inscription, InscriptionHistory, Presence,
         OutboxEmail)


def observe(app, w) -> dict:
    """table → {id: row}, as stored (read in a fresh session)."""
    out = {}
    with app.app_context():
        for model in ORDER:
            stmt = sa.select(model.__table__)
            if model in w.marks:
                stmt = stmt.where(model.id > w.marks[model])
            out[model.__tablename__] = {r["id"]: dict(r) for r in
                                        db.session.execute(stmt).mappings()}
    return out


def restore(app, w, base) -> None:
    """Put back every observed row as in ``base``: reset the changed rows, remove the new ones
    (children first), re-insert the removed ones (parents first)."""
    now = observe(app, w)
    if now == base:
        return
    with app.app_context():
        for model in ORDER:
            name, table = model.__tablename__, model.__table__
            for pk, row in base[name].items():
                if pk in now[name] and now[name][pk] != row:
                    db.session.execute(sa.update(table).where(table.c.id == pk).values(
                        {k: v for k, v in row.items() if k != "id"}))
        for model in reversed(ORDER):
            name, table = model.__tablename__, model.__table__
            extra = [pk for pk in now[name] if pk not in base[name]]
            if extra:
                db.session.execute(sa.delete(table).where(table.c.id.in_(extra)))
        for model in ORDER:
            missing = [row for pk, row in base[model.__tablename__].items()
                       if pk not in now[model.__tablename__]]
            if missing:
                db.session.execute(sa.insert(model.__table__), missing)
        db.session.commit()
    assert observe(app, w) == base


def diff(before, after) -> dict:
    return {name: sorted(pk for pk in set(before[name]) | set(after[name])
                         if before[name].get(pk) != after[name].get(pk))
            for name in before if before[name] != after[name]}


# ================================================================================================
# Answers
# ================================================================================================

def text_of(response) -> str:
    return response.get_data(as_text=True).replace("&#39;", "'").replace("&#x27;", "'") \
        .replace("&amp;", "&")


def assert_login(response) -> None:
    assert response.status_code == 302, response.status_code
    assert response.headers["Location"].split("?")[0].endswith("/login")


def assert_back_to(response, url) -> None:
    assert response.status_code == 302, response.status_code
    assert response.headers["Location"].split("?")[0].endswith(url), \
        response.headers["Location"]


def post(client, token, url, data=None):
    payload = dict(data or {})
    if token is not None:
        payload["csrf_token"] = token
    return client.post(url, data=payload)


def secrets_of(w, which) -> list[str]:
    """What of a side's requests must not show to someone who may not see them."""
    return [w.names[which], w.emails[which], MOTIVATION[which]]


def assert_no_trace(body: str, secrets, *, typed: str | None = None) -> None:
    """Nothing of the row in the body (but what the person typed: a search echoes it)."""
    low = body.lower()
    for secret in secrets:
        if secret != typed:
            assert secret.lower() not in low, secret


def assert_like_missing(client, response, missing_url, secrets) -> None:
    """Answered exactly as an id that does not exist, and nothing of the row in the body."""
    missing = client.get(missing_url)
    assert (response.status_code, response.headers.get("Location")) == \
        (missing.status_code, missing.headers.get("Location"))
    assert_no_trace(text_of(response), secrets)
