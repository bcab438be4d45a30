"""The lock through every door (FLASK_ADMIN_SECURITY.md), as every role on the dossier: edit
form, tab forms, editable cells, delete (single and bulk), custom actions, direct POSTs, and the
model layer itself. The database is unchanged each time."""
from datetime import date

import pytest
import sqlalchemy as sa
from flask_login import login_user

from portal.extensions import db
from portal.dossiers.locking import DossierLocked
from portal.models import (Apprenti, Dossier, DossierHistory, Etablissement, Formation, User)
from tests.support.trainings import drop_training_copies, training_copy
from tests.support.web import csrf

ALICE, ACME, RESP, GEST = ("alice@etu.sillon.demo", "rh@acme.sillon.demo",
                           "resp.info@sillon.demo", "gest.info@sillon.demo")
ADMIN, CONSEIL = "admin@sillon.demo", "conseil@sillon.demo"
EVERYONE = (ALICE, ACME, RESP, GEST, ADMIN, CONSEIL)
PARTIES = (ALICE, ACME)
TABS = ("base", "alternant", "employeur", "contrat", "mission")


@pytest.fixture()
def locked(app):
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
                      apprenti_nom="Verrou", apprenti_prenom="Test", state="valide_formation",
                      date_debut_contrat=date(2026, 9, 1), date_fin_contrat=date(2028, 8, 31),
                      apprenti=Apprenti(commune="Nantes"))
        db.session.add(row)
        db.session.commit()
        pk = row.id
    yield pk
    with app.app_context():
        row = db.session.get(Dossier, pk)
        if row is not None:
            db.session.delete(row)  # ORM delete: its parts go with it
            db.session.commit()
    drop_training_copies(app, copies)


def _set_state(app, pk, state):
    with app.app_context():
        db.session.get(Dossier, pk).state = state
        db.session.commit()


def _snapshot(app, pk):
    with app.app_context():
        row = db.session.get(Dossier, pk)
        if row is None:
            return None
        return ({c.key: getattr(row, c.key) for c in Dossier.__table__.columns},
                row.apprenti.commune if row.apprenti else None,
                db.session.execute(sa.select(sa.func.count()).select_from(DossierHistory)
                                   .where(DossierHistory.dossier_id == pk)).scalar_one())


def _doors(client, pk):
    token = csrf(client)
    yield "edit form", client.post(f"/admin/dossier/edit/?id={pk}", data={
        "apprenti_nom": "Pirate", "apprenti_email": "pirate@exemple.fr", "csrf_token": token})
    for tab in TABS:
        yield f"tab {tab}", client.post(f"/admin/dossier/{pk}/{tab}/", data={
            "apprenti_nom": "Pirate", "commune": "Pirateville", "mission_description": "x",
            "csrf_token": token})
    yield "ajax_update", client.post("/admin/dossier/ajax/update/", data={
        "list_form_pk": pk, "apprenti_nom": "Pirate", "csrf_token": token})
    yield "delete", client.post("/admin/dossier/delete/", data={"id": pk, "csrf_token": token})
    yield "bulk delete", client.post("/admin/dossier/action/", data={
        "action": "delete", "rowid": [str(pk)], "csrf_token": token})
    yield "mission submit", client.post(f"/admin/dossier/{pk}/mission/soumettre/",
                                        data={"csrf_token": token})


@pytest.mark.parametrize("account", EVERYONE)
def test_validated_dossier_is_locked_for_everyone(app, login, locked, account):
    client = login(account)
    before = _snapshot(app, locked)
    for door, response in _doors(client, locked):
        assert response.status_code < 500, door
        assert _snapshot(app, locked) == before, (account, door)


@pytest.mark.parametrize("account", PARTIES)
def test_requested_validation_freezes_the_parties(app, login, locked, account):
    _set_state(app, locked, "validation_demandee")
    client = login(account)
    before = _snapshot(app, locked)
    for door, response in _doors(client, locked):
        assert response.status_code < 500, door
        assert _snapshot(app, locked) == before, (account, door)


def _as(app, email):
    """A request context where `email` is the logged-in person (the model layer's actor)."""
    ctx = app.test_request_context()
    ctx.push()
    user = db.session.execute(sa.select(User).where(User.email == email)).scalar_one()
    login_user(user)
    return ctx


@pytest.mark.parametrize("account", EVERYONE)
def test_model_layer_refuses_a_change_to_a_locked_dossier(app, locked, account):
    ctx = _as(app, account)
    try:
        row = db.session.get(Dossier, locked)
        row.apprenti.commune = "Ailleurs"
        with pytest.raises(DossierLocked) as refused:
            db.session.flush()
        assert "verrouillé" in str(refused.value)
        db.session.rollback()
        row = db.session.get(Dossier, locked)
        row.apprenti_nom = "Autre"
        with pytest.raises(DossierLocked):
            db.session.commit()
        db.session.rollback()
    finally:
        ctx.pop()
    assert _snapshot(app, locked)[1] == "Nantes"


def test_cfa_may_change_economic_data_until_economie_validee(app, locked):
    with app.app_context():
        advisor = db.session.execute(sa.select(User.id).where(User.email == CONSEIL)
                                     ).scalar_one()
    ctx = _as(app, CONSEIL)
    try:
        db.session.get(Dossier, locked).cfa_conseiller_id = advisor
        db.session.commit()
    finally:
        ctx.pop()
    _set_state(app, locked, "economie_validee")
    ctx = _as(app, CONSEIL)
    try:
        db.session.get(Dossier, locked).cfa_conseiller_id = None
        with pytest.raises(DossierLocked):
            db.session.commit()
        db.session.rollback()
    finally:
        ctx.pop()


def test_parties_still_edit_before_the_request(app, locked):
    _set_state(app, locked, "en_saisie")
    ctx = _as(app, ALICE)
    try:
        db.session.get(Dossier, locked).apprenti.commune = "Rezé"
        db.session.commit()
    finally:
        ctx.pop()
    assert _snapshot(app, locked)[1] == "Rezé"


def test_unlock_by_cfa_admin_is_audited_and_reopens_the_entry(app, login, locked):
    client = login(ADMIN)
    response = client.post(f"/admin/dossier/{locked}/transition/deverrouiller/", data={
        "comment": "Erreur de date à corriger", "csrf_token": csrf(client),
        "confirmation": "oui"})
    assert response.status_code == 302
    with app.app_context():
        row = db.session.get(Dossier, locked)
        assert row.state == "a_corriger"
        assert row.deverrouille_motif == "Erreur de date à corriger"
        entry = row.history[0]
        assert entry.comment == "Erreur de date à corriger"
    ctx = _as(app, ALICE)
    try:
        db.session.get(Dossier, locked).apprenti.commune = "Rezé"
        db.session.commit()
    finally:
        ctx.pop()
