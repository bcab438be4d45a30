"""The write path of the training-action requests (issue 14, SPEC §6), at the service level:
the request and its limits, every step of the table refused to every wrong role and from every
wrong state, the waiting list moving up on a cancellation, one history entry and the e-mails
of each step, races answered "already done"."""
from __future__ import annotations

import uuid
from datetime import date, time, timedelta

import pytest
import sqlalchemy as sa

from portal.dossiers.errors import AlreadyDone, WriteRefused
from portal.extensions import db
from portal.models import (ActionFormation, Cfa, Inscription, InscriptionHistory, OutboxEmail,
                           RegleInscription, SessionFormation, Structure, StructureMembership,
                           User, UserRole, utcnow)
from portal.training_actions import service
from portal.training_actions.states import STATES, STEPS, manual_steps

TODAY = date(2027, 3, 1)
REFERENT, CFA, RH_GLOBEX = "rh@acme.sillon.demo", "conseil@sillon.demo", "rh@globex.sillon.demo"
ALICE = "alice@etu.sillon.demo"


def _person(email, roles, first="Test"):
    from flask import current_app
    user = User(email=email, first_name=first, last_name="Personne", active=True,
                rgpd_accepted_at=utcnow(), rgpd_version=current_app.config["RGPD_TERMS_VERSION"])
    user.set_password("sillon-demo")
    user.roles = [UserRole(role=r) for r in roles]
    db.session.add(user)
    return user


@pytest.fixture()
def world(app):
    """An action with a session in a fortnight (capacity 3), ACME's référent, a beneficiary of
    ACME, two more, a member with the employer right, a plain member without the beneficiary
    right, the other structure's référent, an apprentice, the CFA."""
    tag = uuid.uuid4().hex[:8]
    with app.app_context():
        def one(email):
            return db.session.execute(sa.select(User).where(User.email == email)).scalar_one()
        acme = db.session.execute(sa.select(Structure).where(
            Structure.referent_id == one(REFERENT).id)).scalars().first()
        cfa = db.session.scalars(sa.select(Cfa)).first()
        action = ActionFormation(cfa=cfa, intitule=f"Tutorat {tag}", duree_heures=14,
                                 prix=350, active=True)
        session = SessionFormation(action=action, date_debut=TODAY + timedelta(days=14),
                                   date_fin=TODAY + timedelta(days=15), heure_debut=time(9),
                                   heure_fin=time(17), lieu="Montpellier", capacite=3,
                                   date_limite_inscription=TODAY + timedelta(days=7))
        db.session.add_all([action, session])
        people = {}
        for key, rights in (("benef", (False, True)), ("benef2", (False, True)),
                            ("benef3", (False, True)), ("decider", (True, False)),
                            ("plain", (False, False))):
            user = _person(f"{key}.{tag}@acme-test.fr", ["employeur"], key)
            db.session.flush()
            db.session.add(StructureMembership(
                structure_id=acme.id, user_id=user.id, status=StructureMembership.APPROUVE,
                droit_contact_employeur=rights[0], droit_beneficiaire=rights[1],
                requested_at=utcnow(), decided_at=utcnow()))
            people[key] = user.email
        db.session.commit()
        ids = {"session": session.id, "action": action.id, "structure": acme.id, **people,
               "made": [one(e).id for e in people.values()]}
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


def _user(email):
    return db.session.execute(sa.select(User).where(User.email == email)).scalar_one()


def _request(world, who="benef", today=TODAY):
    session = db.session.get(SessionFormation, world["session"])
    structure = db.session.get(Structure, world["structure"])
    return service.request(session, by=_user(world[who] if who in world else who),
                           structure=structure, motivation="Devenir maître d'apprentissage.",
                           today=today)


def _mails(subject_part):
    return db.session.execute(sa.select(OutboxEmail.recipients).where(
        OutboxEmail.subject.like(f"%{subject_part}%"))).scalars().all()


def test_a_request_is_made_once_and_the_deciders_are_told(app, world):
    with app.app_context():
        inscription = _request(world)
        assert inscription.state == "demandee"
        assert [(h.from_state, h.to_state) for h in inscription.history] == [(None, "demandee")]
        recipients = ",".join(_mails("demande à décider"))
        assert REFERENT in recipients and world["decider"] in recipients
        assert world["benef"] not in recipients
        with pytest.raises(AlreadyDone):
            _request(world)
        assert db.session.scalar(sa.select(sa.func.count(Inscription.id)).where(
            Inscription.session_id == world["session"])) == 1


def test_the_deciders_are_told_once_and_only_while_active(app, world):
    with app.app_context():
        referent = _user(REFERENT)
        title = db.session.get(ActionFormation, world["action"]).intitule
        # The référent also holding the employer right through a membership: told once.
        membership = db.session.execute(sa.select(StructureMembership).where(
            StructureMembership.structure_id == world["structure"],
            StructureMembership.user_id == referent.id)).scalar_one_or_none()
        added = membership is None
        if added:
            membership = StructureMembership(
                structure_id=world["structure"], user_id=referent.id,
                status=StructureMembership.APPROUVE, requested_at=utcnow(),
                decided_at=utcnow())
            db.session.add(membership)
        saved = (membership.status, membership.droit_contact_employeur)
        membership.status, membership.droit_contact_employeur = StructureMembership.APPROUVE, True
        db.session.commit()
        try:
            _request(world)
            (recipients,) = _mails(f"{title}%demande à décider")
            assert recipients.split(",").count(REFERENT) == 1
            # A référent whose account is closed is no longer told.
            referent.active = False
            db.session.commit()
            _request(world, "benef2")
            second = [r for r in _mails(f"{title}%demande à décider") if r != recipients]
            assert second and REFERENT not in second[0] and world["decider"] in second[0]
        finally:
            db.session.rollback()
            referent.active = True
            if added:
                db.session.delete(membership)
            else:
                membership.status, membership.droit_contact_employeur = saved
            db.session.commit()


@pytest.mark.parametrize("who, message", [
    ("plain", "pas le droit de demander"),       # a member without the beneficiary right
    (RH_GLOBEX, "pas le droit de demander"),     # another structure's référent
    (ALICE, "pas le droit de demander"),         # an apprentice
])
def test_only_a_beneficiary_of_the_structure_may_request(app, world, who, message):
    with app.app_context(), pytest.raises(WriteRefused, match=message):
        _request(world, who)


def test_the_deadline_the_year_limit_and_the_motivation(app, world):
    with app.app_context():
        session = db.session.get(SessionFormation, world["session"])
        structure = db.session.get(Structure, world["structure"])
        benef = _user(world["benef"])
        with pytest.raises(WriteRefused) as refused:
            service.request(session, by=benef, structure=structure, motivation="  ",
                            today=TODAY)
        assert refused.value.errors == {"motivation": "La motivation est obligatoire."}
        with pytest.raises(WriteRefused, match="date limite|limite"):
            _request(world, today=session.date_limite_inscription + timedelta(days=1))
        _request(world, today=session.date_limite_inscription)  # the deadline day is open
        rule = db.session.execute(sa.select(RegleInscription).where(
            RegleInscription.code == "max_actions_par_an")).scalar_one_or_none()
        if rule is None:
            rule = RegleInscription(code="max_actions_par_an", valeur=1, libelle="test")
            db.session.add(rule)
        saved, rule.valeur = rule.valeur, 1
        db.session.commit()
        try:
            other = SessionFormation(action_id=world["action"], date_debut=session.date_debut,
                                     date_fin=session.date_fin, capacite=5)
            db.session.add(other)
            db.session.commit()
            with pytest.raises(WriteRefused, match="1"):
                service.request(other, by=benef, structure=structure, motivation="Encore.",
                                today=TODAY)
        finally:
            rule.valeur = saved
            db.session.delete(other)
            db.session.commit()


def _personas(world):
    return {"beneficiaire": world["benef"], "referent": REFERENT, "decideur": world["decider"],
            "membre": world["plain"], "autre_structure": RH_GLOBEX, "alternant": ALICE,
            "cfa": CFA}


# Who may take each step (SPEC §6): the table's actors, by persona.
MAY = {
    "accepter": {"referent", "decideur"}, "refuser": {"referent", "decideur"},
    "retenir": {"cfa"}, "mettre_en_attente": {"cfa"}, "ne_pas_retenir": {"cfa"},
    "annuler": {"beneficiaire", "referent", "decideur", "cfa"},
    "marquer_presente": {"cfa"}, "marquer_absente": {"cfa"},
}


def test_the_table_and_the_specification_agree():
    assert set(MAY) == {s.code for s in manual_steps()}
    assert set(STATES) == {"demandee", "acceptee_employeur", "refusee_employeur", "retenue",
                           "liste_attente", "non_retenue", "annulee", "presente", "absente"}


@pytest.mark.parametrize("code", sorted(MAY))
def test_every_step_refused_to_every_wrong_role_and_state(app, world, code):
    step = STEPS[code]
    with app.app_context():
        inscription = _request(world)
        pk = inscription.id
        today = inscription.session.date_debut if "marquer" in code else TODAY
        for state in STATES:
            for persona, email in _personas(world).items():
                inscription = db.session.get(Inscription, pk)
                inscription.state = state
                db.session.commit()
                before = (inscription.state, inscription.version, len(inscription.history))
                allowed = persona in MAY[code] and state in step.sources
                try:
                    service.run(code, inscription, by=_user(email), comment="Motif clair.",
                                today=today)
                except WriteRefused:
                    db.session.rollback()
                    inscription = db.session.get(Inscription, pk)
                    assert not allowed, (code, state, persona)
                    assert (inscription.state, inscription.version,
                            len(inscription.history)) == before, (code, state, persona)
                else:
                    assert allowed, (code, state, persona)
                    inscription = db.session.get(Inscription, pk)
                    assert inscription.state == step.target
                    assert inscription.history[-1].to_state == step.target


def test_the_steps_with_a_comment_require_it(app, world):
    with app.app_context():
        inscription = _request(world)
        with pytest.raises(WriteRefused) as refused:
            service.run("refuser", inscription, by=_user(REFERENT), comment=" ", today=TODAY)
        assert refused.value.errors == {"comment": "Motif du refus : ce champ est obligatoire."}
        service.run("refuser", inscription, by=_user(REFERENT), comment="Pas cette année.",
                    today=TODAY)
        assert inscription.employer_comment == "Pas cette année."
        assert world["benef"] in ",".join(_mails("refusée par l'employeur"))


def test_capacity_quota_waiting_list_and_moving_up(app, world):
    """Capacity 3, at most 2 of one structure: the third of ACME waits; a cancellation of a
    retained person moves the first of the waiting list who fits up, e-mailed."""
    with app.app_context():
        cfa, referent = _user(CFA), _user(REFERENT)
        requests = [_request(world, who) for who in ("benef", "benef2", "benef3")]
        for inscription in requests:
            service.run("accepter", inscription, by=referent, today=TODAY)
        service.run("retenir", requests[0], by=cfa, today=TODAY)
        service.run("retenir", requests[1], by=cfa, today=TODAY)
        with pytest.raises(WriteRefused, match="2 personnes de cette structure"):
            service.run("retenir", requests[2], by=cfa, today=TODAY)
        db.session.rollback()
        service.run("mettre_en_attente", requests[2], by=cfa, today=TODAY)
        assert requests[2].waiting_rank is not None
        service.run("annuler", requests[0], by=_user(world["benef"]),
                    comment="Empêchement.", today=TODAY)
        db.session.expire_all()
        states = [db.session.get(Inscription, r.id).state for r in requests]
        assert states == ["annulee", "retenue", "retenue"]
        moved = db.session.get(Inscription, requests[2].id)
        assert moved.history[-1].comment == "Place libérée par une annulation."
        assert moved.history[-1].user_id is None  # Sillon's step, not the canceller's
        assert moved.waiting_rank is None


def test_a_step_from_an_older_page_is_already_done(app, world):
    with app.app_context():
        inscription = _request(world)
        version = inscription.version
        service.run("accepter", inscription, by=_user(REFERENT), today=TODAY)
        with pytest.raises(AlreadyDone):
            service.run("refuser", inscription, by=_user(world["decider"]), comment="Non.",
                        version=version, today=TODAY)
        with pytest.raises(AlreadyDone):
            service.run("accepter", inscription, by=_user(world["decider"]), today=TODAY)
        assert [h.to_state for h in db.session.scalars(sa.select(InscriptionHistory).where(
            InscriptionHistory.inscription_id == inscription.id).order_by(InscriptionHistory.id))] == \
            ["demandee", "acceptee_employeur"]


def test_marking_attendance_does_not_move_the_waiting_list_up(app, world):
    """Only a cancellation frees a place (the automatic row's `after`): a person marked present
    or absent after the session keeps it, and the waiting list stays as it is."""
    with app.app_context():
        cfa, referent = _user(CFA), _user(REFERENT)
        first, second, third = (_request(world, who) for who in ("benef", "benef2", "benef3"))
        for inscription in (first, second, third):
            service.run("accepter", inscription, by=referent, today=TODAY)
        service.run("retenir", first, by=cfa, today=TODAY)
        service.run("mettre_en_attente", third, by=cfa, today=TODAY)
        start = first.session.date_debut
        service.run("marquer_presente", first, by=cfa, today=start)
        db.session.expire_all()
        assert db.session.get(Inscription, third.id).state == "liste_attente"


def test_a_lost_step_speaks_of_the_request_not_of_a_dossier(app, world):
    with app.app_context():
        inscription = _request(world)
        service.run("accepter", inscription, by=_user(REFERENT), today=TODAY)
        with pytest.raises(AlreadyDone) as lost:
            service.run("accepter", inscription, by=_user(world["decider"]), today=TODAY)
        assert "Cette demande vient d'être modifiée" in str(lost.value)
        assert "dossier" not in str(lost.value)
