"""Every step of a training-action request × every state × every persona kind, through HTTP
(issue 14, SPEC §6): POST /admin/inscription/<id>/etape/<code>/ with the CSRF token, the page's
`_version` and a comment when the step needs one.

How to read the tables: TABLE is the request's life as the specification reads (from which
states, to which, who, whether a comment is needed, which guard); HOLDS is what each persona kind
is on the world's request — the actor roles it holds, or the answer of a door it cannot pass
(404: it does not see the request, like a missing row; 403: it has no training screen at all).
Both are written here by hand, so that a change in portal/training_actions/states.py or
portal/policy/training_actions.py shows up as failing cells. Outcomes:

  OK    303 back to the request; state = the step's target, one history row (from, to, who,
        comment), a new version, the step's e-mails in the outbox;
  R422  the persona holds no actor role of the step: the request's page with the French refusal;
  C409  the persona holds an actor role, the request is not in a source state: the conflict page
        ("la demande est « … »", as for a step already taken — service.run's AlreadyDone);
  N404 / F403  as above.
Every refused cell leaves the request exactly as it was (state, version, history, comments,
waiting rank) and the outbox as it was, read in a fresh session.

One world per module: one request of `benef` in a session of a fresh action. A refused cell
sets the request's state directly in the database (setup only: the door under test is not the
one that moved it); an allowed cell makes the request again through the service and walks it to
its source state through the service (PATH). Session dates: a step guarded by `started` runs on
the session's first day (today), every other step a fortnight before it (`not_started` passes).
The guards' failing sides, missing comments, unknown steps, CSRF and real SMTP delivery are the
tests after the matrix."""
from __future__ import annotations

import re
import uuid
from datetime import date, time, timedelta

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (ActionFormation, Cfa, Inscription, InscriptionHistory, OutboxEmail,
                           SessionFormation, Structure, StructureMembership, User, UserRole,
                           utcnow)
from portal.training_actions import service
from portal.training_actions.states import STATES, STEPS, manual_steps
from tests.support.web import DEMO_PASSWORD, csrf_from
from tests.support.web import login as web_login

REFERENT, RH_GLOBEX = "rh@acme.sillon.demo", "rh@globex.sillon.demo"
ALICE, TRAINER, CONSEIL = "alice@etu.sillon.demo", "resp.info@sillon.demo", "conseil@sillon.demo"
STEP_URL = "/admin/inscription/{}/etape/{}/"
DETAILS = "/admin/inscription/details/?id={}"
MOTIVATION = "Devenir maître d'apprentissage (matrice des étapes)."

BEN, EMP, CFA = "beneficiaire", "employeur", "cfa"      # the table's actor roles
OK, R422, C409, N404, F403 = "303", "422", "409", "404", "403"

# --- what each persona kind is on the world's request ----------------------------------------
HOLDS = {
    "beneficiaire": {BEN},           # the request's person (beneficiary right of ACME)
    "referent": {EMP},               # ACME's référent
    "decideur": {EMP},               # an ACME member with the employer right
    "membre": N404,                  # an ACME member with no right: sees no one's request
    "autre_beneficiaire": N404,      # another ACME beneficiary: sees their own requests only
    "rh_globex": N404,               # the other structure's référent
    "alternant": F403,               # an apprentice (alice)
    "formation": F403,               # a training manager (resp.info)
    "cfa": {CFA},                    # the CFA (conseil)
    "sans_role": F403,               # an account with no role at all
}
PERSONAS = list(HOLDS)

# --- the request's life (SPEC §6) -------------------------------------------------------------
_OPEN = ("demandee", "acceptee_employeur", "liste_attente", "retenue")
_SELECT = ("acceptee_employeur", "liste_attente")
TABLE = {
    # step:             (from states,     to state,             who,           comment, guard)
    "accepter":          (("demandee",),   "acceptee_employeur", {EMP},           False, None),
    "refuser":           (("demandee",),   "refusee_employeur",  {EMP},           True, None),
    "retenir":           (_SELECT,         "retenue",            {CFA},           False, "place"),
    "mettre_en_attente": (("acceptee_employeur",), "liste_attente", {CFA},        False, None),
    "ne_pas_retenir":    (_SELECT,         "non_retenue",        {CFA},           True, None),
    "annuler":           (_OPEN,           "annulee",            {BEN, EMP, CFA}, True,
                          "not_started"),
    "marquer_presente":  (("retenue",),    "presente",           {CFA},           False, "started"),
    "marquer_absente":   (("retenue",),    "absente",            {CFA},           False, "started"),
}
# Who is e-mailed by each step (the outbox rows it adds, by recipient).
MAILS = {
    "accepter": ["beneficiaire", "organisateur"], "refuser": ["beneficiaire"],
    "retenir": ["beneficiaire", "employeur"], "mettre_en_attente": ["beneficiaire"],
    "ne_pas_retenir": ["beneficiaire", "employeur"],
    "annuler": ["beneficiaire", "employeur", "organisateur"],
    "marquer_presente": [], "marquer_absente": [],
}
ALL_STATES = ["demandee", "acceptee_employeur", "refusee_employeur", "retenue", "liste_attente",
              "non_retenue", "annulee", "presente", "absente"]
# How an allowed cell reaches its source state through the service: (step, by).
PATH = {"demandee": [], "acceptee_employeur": [("accepter", REFERENT)],
        "liste_attente": [("accepter", REFERENT), ("mettre_en_attente", CONSEIL)],
        "retenue": [("accepter", REFERENT), ("retenir", CONSEIL)]}


def expected(code: str, state: str, persona: str) -> str:
    holds = HOLDS[persona]
    if holds in (N404, F403):
        return holds
    sources, _, actors, _, _ = TABLE[code]
    if not holds & actors:
        return R422
    return OK if state in sources else C409


# --- the world ---------------------------------------------------------------------------------

def _user(email):
    return db.session.execute(sa.select(User).where(User.email == email)).scalar_one()


def _person(email, roles, first):
    from flask import current_app
    user = User(email=email, first_name=first, last_name="Matrice", active=True,
                rgpd_accepted_at=utcnow(), rgpd_version=current_app.config["RGPD_TERMS_VERSION"])
    user.set_password(DEMO_PASSWORD)
    user.roles = [UserRole(role=r) for r in roles]
    db.session.add(user)
    db.session.flush()
    return user


@pytest.fixture(scope="module")
def world(app):
    """A fresh action with one session (capacity 3, organised by the CFA's conseil), four ACME
    members (two beneficiaries, one with the employer right, one with no right), an account with
    no role, and one request of `benef`."""
    tag = uuid.uuid4().hex[:8]
    with app.app_context():
        acme = db.session.execute(sa.select(Structure).where(
            Structure.referent_id == _user(REFERENT).id)).scalars().first()
        action = ActionFormation(cfa=db.session.scalars(sa.select(Cfa)).first(),
                                 intitule=f"Matrice des étapes {tag}", duree_heures=7, prix=100,
                                 active=True)
        session = SessionFormation(action=action, heure_debut=time(9), heure_fin=time(17),
                                   lieu="Nîmes", capacite=3, organisateur=_user(CONSEIL))
        _dates(session, started=False)
        db.session.add_all([action, session])
        people = {}
        for key, employer, beneficiary in (("benef", False, True), ("benef2", False, True),
                                           ("benef3", False, True), ("decider", True, False),
                                           ("plain", False, False)):
            user = _person(f"{key}.{tag}@acme-etapes.fr", ["employeur"], key)
            db.session.add(StructureMembership(
                structure_id=acme.id, user_id=user.id, status=StructureMembership.APPROUVE,
                droit_contact_employeur=employer, droit_beneficiaire=beneficiary,
                requested_at=utcnow(), decided_at=utcnow()))
            people[key] = user.email
        people["outsider"] = _person(f"dehors.{tag}@exemple-etapes.fr", [], "Odon").email
        db.session.commit()
        ids = {"tag": tag, "session": session.id, "action": action.id, "structure": acme.id,
               **people, "made": [_user(e).id for e in people.values()]}
        ids["request"] = _fresh_request(ids)
    yield ids
    with app.app_context():
        for pk in db.session.scalars(sa.select(Inscription.id).where(
                Inscription.session_id == ids["session"])):
            db.session.delete(db.session.get(Inscription, pk))
        db.session.execute(sa.delete(OutboxEmail).where(OutboxEmail.subject.like(f"%{tag}%")))
        db.session.flush()
        db.session.delete(db.session.get(SessionFormation, ids["session"]))
        db.session.delete(db.session.get(ActionFormation, ids["action"]))
        for pk in ids["made"]:
            db.session.execute(sa.delete(StructureMembership).where(
                StructureMembership.user_id == pk))
            db.session.delete(db.session.get(User, pk))
        db.session.commit()


def _emails(world):
    return {"beneficiaire": world["benef"], "referent": REFERENT, "decideur": world["decider"],
            "membre": world["plain"], "autre_beneficiaire": world["benef2"],
            "rh_globex": RH_GLOBEX, "alternant": ALICE, "formation": TRAINER, "cfa": CONSEIL,
            "sans_role": world["outsider"]}


@pytest.fixture(scope="module")
def clients(app, world):
    """persona kind -> (a test client logged in once, its CSRF token)."""
    out = {}
    for persona, email in _emails(world).items():
        client = app.test_client()
        assert web_login(client, email).status_code == 302, email
        out[persona] = (client, csrf_from(client.get("/admin/").get_data(as_text=True)))
    return out


def _dates(session, *, started: bool, start: date | None = None):
    today = date.today()
    start = start or (today if started else today + timedelta(days=14))
    session.date_debut, session.date_fin = start, start + timedelta(days=1)
    session.date_limite_inscription = min(start, today + timedelta(days=7))


def _fresh_request(world, who="benef") -> int:
    """A new request of ``who`` made through the service (in an app context)."""
    session = db.session.get(SessionFormation, world["session"])
    return service.request(session, by=_user(world[who]),
                           structure=db.session.get(Structure, world["structure"]),
                           motivation=MOTIVATION).id


def _arrange(app, world, code, state, *, through_service: bool):
    """The world's request in ``state`` for a cell of ``code``; its snapshot."""
    with app.app_context():
        session = db.session.get(SessionFormation, world["session"])
        if through_service:
            db.session.delete(db.session.get(Inscription, world["request"]))
            _dates(session, started=False)
            db.session.commit()
            world["request"] = _fresh_request(world)
            for step, by in PATH[state]:
                service.run(step, db.session.get(Inscription, world["request"]), by=_user(by))
        else:  # setup of a refused cell: the state set directly, documented above
            inscription = db.session.get(Inscription, world["request"])
            inscription.state, inscription.waiting_rank = state, None
        _dates(session, started=TABLE[code][4] == "started")
        db.session.commit()
    return _snapshot(app, world["request"])


def _snapshot(app, pk):
    with app.app_context():  # a fresh session
        row = db.session.get(Inscription, pk)
        history = db.session.execute(
            sa.select(InscriptionHistory.from_state, InscriptionHistory.to_state,
                      InscriptionHistory.comment, User.email)
            .outerjoin(User, User.id == InscriptionHistory.user_id)
            .where(InscriptionHistory.inscription_id == pk)
            .order_by(InscriptionHistory.id)).all()
        outbox = db.session.execute(sa.select(sa.func.count(OutboxEmail.id),
                                              sa.func.max(OutboxEmail.id))).one()
        return {"state": row.state, "version": row.version, "rank": row.waiting_rank,
                "employer_comment": row.employer_comment, "cfa_comment": row.cfa_comment,
                "decided_by": row.employer_decided_by_id,
                "history": [tuple(h) for h in history], "outbox": tuple(outbox)}


def _text(response) -> str:
    return response.get_data(as_text=True).replace("&#39;", "'").replace("&#34;", '"') \
        .replace("\xa0", " ")


def _form_version(page: str, code: str) -> str:
    form = re.search(r'data-step="%s".*?</form>' % code, page, re.S)
    assert form, f"the page offers no « {code} » form"
    return re.search(r'name="_version" value="(\d+)"', form.group(0)).group(1)


def _kind(recipients: str, world) -> str:
    addresses = set(recipients.split(","))
    if addresses == {world["benef"]}:
        return "beneficiaire"
    if addresses == {CONSEIL}:
        return "organisateur"
    if {REFERENT, world["decider"]} <= addresses and world["benef"] not in addresses:
        return "employeur"
    return f"inattendu: {recipients}"


# --- the matrix --------------------------------------------------------------------------------

def test_the_tables_cover_every_step_and_state():
    assert set(TABLE) == set(MAILS) == {s.code for s in manual_steps()}
    assert ALL_STATES == list(STATES)
    assert set(PATH) == {s for sources, *_ in TABLE.values() for s in sources}


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("state", ALL_STATES)
@pytest.mark.parametrize("code", list(TABLE))
def test_step_state_persona(app, world, clients, code, state, persona):
    outcome = expected(code, state, persona)
    before = _arrange(app, world, code, state, through_service=outcome == OK)
    pk, step = world["request"], STEPS[code]
    client, token = clients[persona]
    form = {"csrf_token": token, "_version": str(before["version"])}
    if TABLE[code][3]:
        form["comment"] = f"Motif de la matrice ({code})."
    if HOLDS[persona] not in (N404, F403):
        page = _text(client.get(DETAILS.format(pk)))
        if outcome == OK:  # the page offers the step: its form's version is posted
            form["_version"] = _form_version(page, code)
        else:
            assert f'data-step="{code}"' not in page
    response = client.post(STEP_URL.format(pk, code), data=form)
    after = _snapshot(app, pk)
    assert str(response.status_code) == outcome, _text(response)[:2000]
    if outcome != OK:
        assert after == before
        body = _text(response)
        if outcome == R422:
            error = re.search(r'id="step-error">([^<]*)<', body)
            assert error and error.group(1) == (
                f"Vous n'avez pas le droit de faire « {step.label} » pour cette demande.")
        elif outcome == C409:
            assert f"« {step.label} » : la demande est « {STATES[state].label} »." in body
            assert "Revenir à la demande" in body
        else:  # like a request that does not exist: nothing of it in the answer
            assert MOTIVATION not in body and world["benef"] not in body
        return
    assert response.headers["Location"].endswith(DETAILS.format(pk))
    assert after["state"] == TABLE[code][1]
    # Mostly + 1; « mettre_en_attente » flushes twice (its rank query autoflushes the state).
    assert after["version"] > before["version"]
    assert after["history"][:-1] == before["history"]
    assert after["history"][-1] == (state, TABLE[code][1], form.get("comment"),
                                    _emails(world)[persona])
    with app.app_context():
        added = db.session.scalars(sa.select(OutboxEmail.recipients).where(
            OutboxEmail.id > (before["outbox"][1] or 0))).all()
    assert after["outbox"][0] == before["outbox"][0] + len(added)
    assert sorted(_kind(r, world) for r in added) == sorted(MAILS[code])


# --- the guards' failing sides ---------------------------------------------------------------

@pytest.fixture()
def others(app, world):
    """Requests of benef2 / benef3 for a guard case, removed after it with the session reset."""
    yield
    with app.app_context():
        for pk in db.session.scalars(sa.select(Inscription.id).where(
                Inscription.session_id == world["session"],
                Inscription.id != world["request"])):
            db.session.delete(db.session.get(Inscription, pk))
        session = db.session.get(SessionFormation, world["session"])
        session.capacite = 3
        _dates(session, started=False)
        db.session.commit()


def _retained(app, world, who):
    with app.app_context():
        pk = _fresh_request(world, who)
        for step, by in PATH["retenue"]:
            service.run(step, db.session.get(Inscription, pk), by=_user(by))
    return pk


def _session_set(app, world, **values):
    with app.app_context():
        session = db.session.get(SessionFormation, world["session"])
        for name, value in values.items():
            setattr(session, name, value)
        db.session.commit()


def _refused_by_guard(app, world, clients, persona, code, message):
    """The step posted with the current version: 422, the guard's message, nothing written."""
    pk = world["request"]
    before = _snapshot(app, pk)
    client, token = clients[persona]
    response = client.post(STEP_URL.format(pk, code), data={
        "csrf_token": token, "_version": str(before["version"]), "comment": "Motif du garde."})
    assert response.status_code == 422
    error = re.search(r'id="step-error">([^<]*)<', _text(response))
    assert error and error.group(1) == message
    assert _snapshot(app, pk) == before


def _allowed(app, world, clients, persona, code, target):
    pk = world["request"]
    client, token = clients[persona]
    version = _form_version(_text(client.get(DETAILS.format(pk))), code)
    response = client.post(STEP_URL.format(pk, code), data={
        "csrf_token": token, "_version": version, "comment": "Motif du garde."})
    assert response.status_code == 303, _text(response)[:2000]
    assert _snapshot(app, pk)["state"] == target


def test_place_a_full_session_retains_no_one_from_either_source(app, world, clients, others):
    _arrange(app, world, "retenir", "acceptee_employeur", through_service=True)
    _session_set(app, world, capacite=1)
    _retained(app, world, "benef2")
    full = "La session est complète (1 place)."
    _refused_by_guard(app, world, clients, "cfa", "retenir", full)
    _allowed(app, world, clients, "cfa", "mettre_en_attente", "liste_attente")
    _refused_by_guard(app, world, clients, "cfa", "retenir", full)
    _session_set(app, world, capacite=2)  # one place more: the waiting request is retained
    _allowed(app, world, clients, "cfa", "retenir", "retenue")


def test_place_two_of_one_structure_at_most(app, world, clients, others):
    _arrange(app, world, "retenir", "acceptee_employeur", through_service=True)
    _retained(app, world, "benef2")
    _retained(app, world, "benef3")  # capacity 3: one place left, but ACME has its two
    _refused_by_guard(app, world, clients, "cfa", "retenir",
                      "2 personnes de cette structure sont déjà retenues : les suivantes vont "
                      "en liste d'attente.")


@pytest.mark.parametrize("persona", ["beneficiaire", "referent", "cfa"])
@pytest.mark.parametrize("days", [0, -3])  # the first day, and later
def test_not_started_no_cancellation_once_the_session_began(app, world, clients, others,
                                                            persona, days):
    _arrange(app, world, "annuler", "retenue", through_service=True)
    start = date.today() + timedelta(days=days)
    with app.app_context():
        _dates(db.session.get(SessionFormation, world["session"]), started=True, start=start)
        db.session.commit()
    _refused_by_guard(app, world, clients, persona, "annuler",
                      f"La session a commencé le {start:%d/%m/%Y} : la demande ne peut plus "
                      "être annulée ; l'organisateur note l'absence.")
    _session_set(app, world, date_debut=date.today() + timedelta(days=1))  # the day before
    _allowed(app, world, clients, persona, "annuler", "annulee")


@pytest.mark.parametrize("code, target", [("marquer_presente", "presente"),
                                          ("marquer_absente", "absente")])
def test_started_no_attendance_before_the_session(app, world, clients, others, code, target):
    _arrange(app, world, code, "retenue", through_service=True)
    start = date.today() + timedelta(days=1)
    _session_set(app, world, date_debut=start, date_fin=start)
    _refused_by_guard(app, world, clients, "cfa", code,
                      f"La session ne commence que le {start:%d/%m/%Y}.")
    _session_set(app, world, date_debut=date.today() - timedelta(days=2))  # begun and past
    _allowed(app, world, clients, "cfa", code, target)


# --- comments, unknown steps, CSRF -----------------------------------------------------------

@pytest.mark.parametrize("code, state, persona, label", [
    ("refuser", "demandee", "referent", "Motif du refus"),
    ("ne_pas_retenir", "acceptee_employeur", "cfa", "Motif (communiqué à la personne)"),
    ("annuler", "demandee", "beneficiaire", "Motif de l'annulation"),
])
@pytest.mark.parametrize("comment", [None, "  \n "])
def test_a_step_that_needs_a_comment_refuses_without_one(app, world, clients, code, state,
                                                         persona, label, comment):
    before = _arrange(app, world, code, state, through_service=True)
    pk = world["request"]
    client, token = clients[persona]
    form = {"csrf_token": token, "_version": _form_version(
        _text(client.get(DETAILS.format(pk))), code)}
    if comment is not None:
        form["comment"] = comment
    response = client.post(STEP_URL.format(pk, code), data=form)
    assert response.status_code == 422
    error = re.search(rf'id="err-{pk}-{code}-comment"[^>]*>([^<]+)<', _text(response))
    assert error and error.group(1) == f"{label} : ce champ est obligatoire."
    assert _snapshot(app, pk) == before


@pytest.mark.parametrize("code", ["inconnue", "promouvoir", "Accepter", "accepter%20"])
def test_an_unknown_step_is_not_found(app, world, clients, code):
    before = _arrange(app, world, "accepter", "demandee", through_service=False)
    pk = world["request"]
    for persona in PERSONAS:
        client, token = clients[persona]
        response = client.post(STEP_URL.format(pk, code), data={
            "csrf_token": token, "_version": str(before["version"]), "comment": "Motif."})
        assert response.status_code == (403 if HOLDS[persona] == F403 else 404), persona
    client, token = clients["cfa"]  # a request that does not exist, with a real step
    assert client.post(STEP_URL.format(2_000_000_000, "accepter"), data={
        "csrf_token": token, "_version": "1"}).status_code == 404
    assert _snapshot(app, pk) == before


@pytest.mark.parametrize("code, state, persona", [("accepter", "demandee", "referent"),
                                                  ("retenir", "acceptee_employeur", "cfa"),
                                                  ("annuler", "retenue", "beneficiaire")])
def test_a_step_without_its_csrf_token_is_refused(app, world, clients, code, state, persona):
    before = _arrange(app, world, code, state, through_service=True)
    pk = world["request"]
    client, token = clients[persona]
    form = {"_version": _form_version(_text(client.get(DETAILS.format(pk))), code),
            "comment": "Motif."}
    for bad in ({}, {"csrf_token": ""}, {"csrf_token": token[:-4] + "AAAA"},
                {"csrf_token": clients["decideur" if persona != "decideur" else "cfa"][1]}):
        response = client.post(STEP_URL.format(pk, code), data=dict(form, **bad))
        assert response.status_code == 400, bad
        assert _snapshot(app, pk) == before
    # The same form with its token goes through: only the token was missing.
    response = client.post(STEP_URL.format(pk, code), data=dict(form, csrf_token=token))
    assert response.status_code == 303
    assert _snapshot(app, pk)["state"] == TABLE[code][1]


# --- the e-mails, delivered --------------------------------------------------------------------

def test_a_cancellation_s_e_mails_reach_a_real_smtp_server(app, world, clients, smtp):
    _arrange(app, world, "annuler", "retenue", through_service=True)
    pk = world["request"]
    _allowed(app, world, clients, "beneficiaire", "annuler", "annulee")
    got = [(sorted(r), m) for r, m in smtp.messages if world["tag"] in m["Subject"]
           and "annulée" in m["Subject"]]
    kinds = sorted(_kind(",".join(r), world) for r, _ in got)
    assert kinds == sorted(MAILS["annuler"])
    for _, message in got:
        text = smtp.text_of(message)
        assert "Motif du garde." in text and f"/admin/inscription/details/?id={pk}" in text
