"""The mission gate: submitting the mission e-mails the training's manager, who validates it or
sends it back with a comment; a submitted or validated mission no longer changes."""
from datetime import date

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import Dossier, Etablissement, Formation, Mission, OutboxEmail, User
from tests.support.trainings import drop_training_copies, training_copy
from tests.support.web import csrf

ALICE, ACME, RESP, GEST = ("alice@etu.sillon.demo", "rh@acme.sillon.demo",
                           "resp.info@sillon.demo", "gest.info@sillon.demo")


@pytest.fixture()
def dossier(app):
    copies = []
    with app.app_context():
        def uid(email):
            return db.session.execute(sa.select(User.id).where(User.email == email)).scalar_one()
        formation = training_copy(db.session.execute(
            sa.select(Formation).join(Formation.responsables).where(User.email == RESP)
            .where(Formation.mission_requise.is_(True))).scalars().first(), copies)
        etab = db.session.execute(
            sa.select(Etablissement).join(Dossier, Dossier.etablissement_id == Etablissement.id)
            .where(Dossier.employer_contact_id == uid(ACME))).scalars().first()
        row = Dossier(formation=formation, apprentice_user_id=uid(ALICE),
                      employer_contact_id=uid(ACME), etablissement=etab, apprenti_email=ALICE,
                      apprenti_nom="Mission", apprenti_prenom="Test", state="en_saisie",
                      date_debut_contrat=date(2026, 9, 1), date_fin_contrat=date(2028, 8, 31),
                      mission=Mission(description="Développer l'outil de suivi des stocks."))
        db.session.add(row)
        db.session.commit()
        pk, managers = row.id, [u.email for u in formation.responsables]
    yield pk, managers
    with app.app_context():
        db.session.execute(sa.delete(OutboxEmail).where(OutboxEmail.dossier_id == pk))
        db.session.delete(db.session.get(Dossier, pk))
        db.session.commit()
    drop_training_copies(app, copies)


def _status(app, pk):
    with app.app_context():
        return db.session.get(Dossier, pk).mission.status


def _mails(app, pk):
    with app.app_context():
        return db.session.execute(sa.select(OutboxEmail.recipients, OutboxEmail.subject,
                                            OutboxEmail.body_text)
                                  .where(OutboxEmail.dossier_id == pk)
                                  .order_by(OutboxEmail.id)).all()


def _act(client, pk, action, comment=None):
    data = {"csrf_token": csrf(client)}
    if comment is not None:
        data["comment"] = comment
    return client.post(f"/admin/dossier/{pk}/mission/{action}/", data=data)


def test_submit_emails_the_manager_who_validates(app, login, dossier):
    pk, managers = dossier
    assert _act(login(RESP), pk, "valider").status_code == 302
    assert _status(app, pk) == "brouillon"  # nothing to validate yet
    assert _act(login(ACME), pk, "soumettre").status_code == 302
    assert _status(app, pk) == "soumise"
    recipients, subject, body = _mails(app, pk)[-1]
    assert recipients.split(",") == sorted(managers)
    assert "mission à valider" in subject
    # The employer can no longer edit the mission tab; the gestionnaire cannot validate.
    page = login(ACME).get(f"/admin/dossier/{pk}/mission/").get_data(as_text=True)
    assert "ne se modifie plus" in page
    assert _act(login(GEST), pk, "valider").status_code == 302
    assert _status(app, pk) == "soumise"
    assert _act(login(RESP), pk, "valider").status_code == 302
    assert _status(app, pk) == "validee"
    assert "mission validée" in _mails(app, pk)[-1][1]


def test_manager_sends_the_mission_back_with_a_comment(app, login, dossier):
    pk, _ = dossier
    _act(login(ALICE), pk, "soumettre")
    assert _status(app, pk) == "soumise"
    client = login(RESP)
    _act(client, pk, "renvoyer", comment="  ")
    assert _status(app, pk) == "soumise"  # the comment is mandatory
    _act(client, pk, "renvoyer", comment="Précisez les outils utilisés.")
    assert _status(app, pk) == "a_corriger"
    recipients, subject, body = _mails(app, pk)[-1]
    assert ALICE in recipients and "Précisez les outils utilisés." in body
    page = login(ALICE).get(f"/admin/dossier/{pk}/mission/").get_data(as_text=True)
    assert "Précisez les outils utilisés." in page
    assert "Enregistrer l" in page  # editable again


def test_other_people_cannot_touch_the_mission(app, login, dossier):
    pk, _ = dossier
    for account in ("bruno@etu.sillon.demo", "rh@globex.sillon.demo", "resp.droit@sillon.demo"):
        assert _act(login(account), pk, "soumettre").status_code == 404
    assert _act(login(RESP), pk, "soumettre").status_code == 302
    assert _act(login(ALICE), pk, "nope").status_code == 404
    assert _status(app, pk) == "brouillon"
