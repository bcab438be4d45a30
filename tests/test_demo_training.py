"""The demo's training actions (seeds/demo_training.py): every request state, a full session
with its waiting list, a past session with its attendance and attestations, a running one,
nothing for the daily reminder job on any real day, the scopes, idempotence.

Exact checks run on a demo world built here (a fresh migrated SQLite file, reference + demo
data), not on the session's shared database that other tests change."""
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from portal import policy
from portal.documents.uploads import check_pdf
from portal.extensions import db
from portal.models import (ActionFormation, Document, Inscription, InscriptionHistory,
                           OutboxEmail, Presence, SessionFormation, Structure,
                           StructureMembership, User)
from portal.training_actions import attendance, documents, service
from portal.training_actions.states import STATES
from seeds import demo_training
from seeds.demo_financing import LAST_EVENT
from tests.conftest import make_app

START = datetime(2026, 9, 1)
END = datetime.combine(LAST_EVENT + timedelta(days=1), datetime.min.time())


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("training-world")
    app = make_app(f"sqlite:///{folder / 'demo.db'}", str(folder / "instance"))
    with app.app_context():
        from flask_migrate import upgrade
        upgrade()
        from seeds.demo import load_demo
        from seeds.reference import load_reference
        load_reference()
        app.demo_counts = load_demo()
        yield app
        db.session.remove()


def _all(model, *where):
    return list(db.session.execute(sa.select(model).where(*where)).scalars())


def _user(email):
    return db.session.execute(sa.select(User).filter_by(email=email)).scalar_one()


def _session(key):
    action, first = demo_training.SESSIONS[key][:2]
    return db.session.execute(sa.select(SessionFormation).join(SessionFormation.action).where(
        ActionFormation.intitule == demo_training.ACTIONS[action]["intitule"],
        SessionFormation.date_debut == first)).scalar_one()


def _person(key):
    return _user(demo_training.PEOPLE[key][0])


def test_every_request_state_is_shown_with_its_reason(world):
    requests = _all(Inscription)
    assert {i.state for i in requests} == set(STATES)
    assert len(requests) == world.demo_counts["inscriptions"] == 17
    for i in requests:
        if i.state == "refusee_employeur":
            assert i.employer_comment and i.employer_decided_by_id
        if i.state in ("non_retenue", "annulee"):
            assert i.cfa_comment
        assert i.motivation and i.history[0].to_state == "demandee"
        assert i.history[-1].to_state == i.state


def test_the_full_session_has_its_capacity_retained_and_a_waiting_list(world):
    full = _session("tutorat_nov")
    retained = [i for i in full.inscriptions if i.state == "retenue"]
    waiting = sorted((i for i in full.inscriptions if i.state == "liste_attente"),
                     key=lambda i: i.waiting_rank)
    assert len(retained) == full.capacite == 4
    assert [i.waiting_rank for i in waiting] == [1, 2]
    refusal = service.refusal("retenir", waiting[0], _user(demo_training.ORGANISER),
                              today=date(2026, 11, 20))
    assert refusal and "complète" in refusal
    for i in retained:  # the running session's people had their convocation
        assert i.convocation_document_id and i.convocation_sent_at.date() == date(2026, 11, 17)


def test_the_past_session_is_closed_with_every_half_day_and_its_attestations(world):
    past = _session("evaluation_nov")
    assert past.date_fin < LAST_EVENT
    had_a_place = [i for i in past.inscriptions if i.state in attendance.RETAINED]
    assert had_a_place and {i.state for i in past.inscriptions} == {"presente", "absente"}
    expected = set(attendance.expected(past))
    for i in had_a_place:
        assert set(attendance.marks_of(i)) == expected, i.user.email
        assert attendance.outcome(i)[0] == i.state
        if i.state == "presente":
            document = db.session.get(Document, i.attestation_document_id)
            assert document.kind == "attestation"
            check_pdf(document.data)
        else:
            assert i.attestation_document_id is None
    assert sum(i.state == "presente" for i in had_a_place) == 3


def test_the_running_session_has_only_its_first_day_noted(world):
    running = _session("tutorat_nov")
    assert running.date_debut <= LAST_EVENT < running.date_fin
    noted = {day for i in running.inscriptions for day, _ in attendance.marks_of(i)}
    assert noted == {running.date_debut}


def test_the_daily_reminder_job_has_nothing_to_send_on_any_real_day(world):
    """tests/test_reminders.py runs the daily job on the real day: the demo must add no session
    reminder to it. The 2026 sessions had theirs in the demo calendar; no 2027 request is
    retained."""
    for key in ("evaluation_nov", "tutorat_nov"):
        session = _session(key)
        assert session.rappel_envoye_at == datetime.combine(
            session.date_debut - timedelta(days=documents.REMINDER_DAYS),
            datetime.min.time()).replace(hour=7)
    day = LAST_EVENT
    while day <= date(2027, 12, 31):
        assert documents.send_reminders(day) == 0, day
        day += timedelta(days=1)


def test_everything_is_dated_in_the_demo_calendar(world):
    stamps = [h.at for h in _all(InscriptionHistory)]
    stamps += [p.recorded_at for p in _all(Presence)]
    stamps += [d.created_at for d in _all(Document, Document.kind.in_(
        ("convocation", "convocation_ics", "attestation")))]
    for i in _all(Inscription):
        stamps += [i.created_at, i.updated_at]
        stamps += [s for s in (i.employer_decided_at, i.convocation_sent_at) if s]
    stamps += [m.created_at for m in _all(OutboxEmail, OutboxEmail.subject.like("%rappel%"))]
    assert stamps and all(START <= s < END for s in stamps)
    futures = [s for s in _all(SessionFormation) if s.date_debut > LAST_EVENT]
    assert len(futures) == 3 and all(s.date_debut.year == 2027 for s in futures)


def test_the_demo_people_and_the_member_structure(world):
    acme = db.session.execute(sa.select(Structure).filter_by(
        raison_sociale="ACME Industrie")).scalar_one()
    globex = db.session.execute(sa.select(Structure).filter_by(
        raison_sociale="Globex Services")).scalar_one()
    assert acme.adherente and not globex.adherente
    rights = {}
    for key, (email, *_rest) in demo_training.PEOPLE.items():
        person = _person(key)
        assert email.endswith(".sillon.demo") and person.check_password("sillon-demo")
        assert "employeur" in person.role_codes
        (membership,) = _all(StructureMembership, StructureMembership.user_id == person.id)
        assert membership.status == StructureMembership.APPROUVE
        assert membership.droit_beneficiaire
        rights[key] = (membership.structure_id, membership.droit_contact_employeur)
    assert sorted(rights.values()) == sorted([(acme.id, False), (acme.id, False),
                                              (acme.id, True), (globex.id, False),
                                              (globex.id, False)])
    reserved = [i for i in _all(Inscription) if i.session.action.reservee_adherents]
    assert reserved and all(i.structure_id == acme.id for i in reserved)
    for action in _all(ActionFormation):
        assert action.objectifs and action.public_vise and action.prix and action.duree_heures


def test_scopes_keep_each_structure_s_requests_apart(world):
    referent, decider = _user("rh@acme.sillon.demo"), _person("ludivine")
    plain, globex_person = _person("mathilde"), _person("aurelie")

    def scope(user):
        return set(db.session.scalars(sa.select(Inscription.id).where(
            policy.row_filter(Inscription, user))))
    own = {i.id for i in _all(Inscription, Inscription.user_id == globex_person.id)}
    acme = {i.id for i in _all(Inscription) if i.structure.raison_sociale == "ACME Industrie"}
    assert own and acme
    assert scope(referent) == acme == scope(decider)
    assert not own & scope(referent)
    assert scope(globex_person) == own
    assert scope(plain) == {i.id for i in _all(Inscription, Inscription.user_id == plain.id)}


def test_a_second_load_creates_nothing(world):
    def counts():
        return {t.name: db.session.scalar(sa.select(sa.func.count()).select_from(t))
                for t in db.metadata.sorted_tables}
    before = counts()
    from seeds.demo import load_demo
    again = load_demo()
    assert again["created"] == 0 and counts() == before
    assert {k: v for k, v in again.items() if k != "created"} == \
        {k: v for k, v in world.demo_counts.items() if k != "created"}


def test_a_bare_app_without_mail_templates_gets_the_catalogue_only(tmp_path):
    """seeds.demo alone (tests/test_demo_seed.py): no templates, so no request."""
    app = Flask(__name__)
    app.config.update(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'bare.db'}",
                      TESTING=True)
    db.init_app(app)
    with app.app_context():
        db.create_all()
        from seeds.demo import load_demo
        counts = load_demo()
        assert (counts["actions_formation"], counts["sessions_formation"]) == (3, 5)
        assert counts["inscriptions"] == 0
        assert load_demo()["created"] == 0
        db.session.remove()
        db.engine.dispose()


def test_a_script_line_outside_the_demo_calendar_is_refused(world, monkeypatch):
    late = (LAST_EVENT + timedelta(days=1), "09:00", "reminders", None, None, None, None)
    early = (date(2026, 10, 1), "09:00", "reminders", None, None, None, None)
    for script in ([late], [early, early[:1] + ("08:00",) + early[2:]]):
        monkeypatch.setattr(demo_training, "SCRIPT", script)
        with pytest.raises(ValueError, match="demo calendar"):
            demo_training._run({}, {})
