"""Dossier screens: per-role forms, creation by the formation, French validation messages."""
import pytest
from sqlalchemy import delete, select

from portal.extensions import db
from portal.models import Dossier, Formation, User
from tests.support.web import csrf


def _formation_of(manager_email):
    user = db.session.execute(select(User).where(User.email == manager_email)).scalar_one()
    return db.session.execute(select(Formation).where(Formation.responsables.contains(user))
                              .order_by(Formation.id)).scalars().first()


def _dossier_of(email):
    return db.session.execute(select(Dossier).where(Dossier.apprenti_email == email)).scalar_one()


@pytest.mark.parametrize("email,present,absent", [
    ("alice@etu.sillon.demo", ["employeur_siret", "employeur_contact_email"],
     ["apprenti_nom", "formation", "cfa_conseiller", "responsable_nom"]),
    ("rh@acme.sillon.demo", ["apprenti_nom", "employeur_siret", "responsable_nom"],
     ["formation", "cfa_conseiller"]),
    ("resp.info@sillon.demo", ["formation", "apprenti_nom", "apprenti_email"],
     ["cfa_conseiller", "responsable_nom"]),
    ("admin@sillon.demo", ["formation", "apprenti_nom", "cfa_conseiller", "etablissement"],
     ["responsable_nom"]),
])
def test_edit_form_depends_on_role(app, login, email, present, absent):
    with app.app_context():
        dossier_id = _dossier_of("alice@etu.sillon.demo").id
    page = login(email).get(f"/admin/dossier/edit/?id={dossier_id}").get_data(as_text=True)
    for name in present:
        assert f'name="{name}"' in page, name
    for name in absent:
        assert f'name="{name}"' not in page, name


def test_manager_creates_a_dossier_with_only_the_email(app, login):
    client = login("resp.droit@sillon.demo")
    with app.app_context():
        formation = _formation_of("resp.droit@sillon.demo")
        fid, advisor = formation.id, formation.conseiller_cfa_id
    try:
        response = client.post("/admin/dossier/new/", data={
            "csrf_token": csrf(client), "formation": str(fid),
            "apprenti_email": "  Nouvelle.Alternante@Exemple.FR ", "niveau_saisie": "complete",
            "dispositif": "apprentissage"})
        assert response.status_code == 302
        with app.app_context():
            dossier = _dossier_of("nouvelle.alternante@exemple.fr")
            assert dossier.formation_id == fid and dossier.state == "initialise"
            assert dossier.cfa_conseiller_id == advisor
            assert dossier.created_by.email == "resp.droit@sillon.demo"
    finally:
        with app.app_context():
            db.session.execute(delete(Dossier).where(
                Dossier.apprenti_email == "nouvelle.alternante@exemple.fr"))
            db.session.commit()


def test_creation_errors_are_french_and_nothing_is_saved(app, login):
    client = login("resp.info@sillon.demo")
    with app.app_context():
        fid = _formation_of("resp.info@sillon.demo").id
        before = db.session.query(Dossier).count()
    response = client.post("/admin/dossier/new/", data={
        "csrf_token": csrf(client), "formation": str(fid), "apprenti_email": "",
        "employeur_siret": "73282932000075", "date_debut_contrat": "2026-09-01",
        "date_fin_contrat": "2026-08-01", "niveau_saisie": "complete",
        "dispositif": "apprentissage"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "L&#39;e-mail de l&#39;alternant·e est obligatoire." in body
    assert "Ce numéro SIRET n&#39;est pas valide" in body
    assert "La date de fin doit être postérieure à la date de début." in body
    with app.app_context():
        assert db.session.query(Dossier).count() == before


def test_apprentice_names_their_employer(app, login):
    client = login("alice@etu.sillon.demo")
    with app.app_context():
        dossier = _dossier_of("alice@etu.sillon.demo")
        did, saved = dossier.id, (dossier.employeur_siret, dossier.employeur_contact_email)
        state = dossier.state
    response = client.post(f"/admin/dossier/edit/?id={did}", data={
        "csrf_token": csrf(client), "employeur_siret": "732 829 320 00074",
        "employeur_contact_email": "drh@exemple.fr"})
    try:
        with app.app_context():
            dossier = db.session.get(Dossier, did)
            from portal.dossiers.workflow import STATES
            if STATES[state].locked_for_parties:
                assert (dossier.employeur_siret, dossier.employeur_contact_email) == saved
            else:
                assert response.status_code == 302
                assert dossier.employeur_siret == "73282932000074"
                assert dossier.employeur_contact_email == "drh@exemple.fr"
    finally:
        with app.app_context():
            dossier = db.session.get(Dossier, did)
            dossier.employeur_siret, dossier.employeur_contact_email = saved
            db.session.commit()
