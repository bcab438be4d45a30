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


# The pencil of the list opens the dossier's tabs for every role; on Données de base, the
# fields that decide who the dossier's people are stay with the training and the CFA.
PENCIL_ROLES = [
    # account                  editable on Données de base           shown disabled
    ("alice@etu.sillon.demo",  [],                                   "all"),
    ("rh@acme.sillon.demo",    ["apprenti_nom", "employeur_siret"],  ["apprenti_email",
                                                                      "employeur_contact_email"]),
    ("resp.info@sillon.demo",  ["apprenti_nom", "apprenti_email", "employeur_contact_email"],
     []),
    ("admin@sillon.demo",      ["apprenti_nom", "apprenti_email", "employeur_contact_email"],
     []),
]


def _input(page: str, name: str) -> str:
    import re
    match = re.search(r'<(?:input|select)[^>]*name="%s"[^>]*>' % name, page)
    assert match, name
    return match.group(0)


@pytest.mark.parametrize("email,editable,disabled", PENCIL_ROLES)
def test_pencil_opens_the_tabs_for_every_role(app, login, email, editable, disabled):
    with app.app_context():
        dossier = _dossier_of("alice@etu.sillon.demo")
        dossier_id, version = dossier.id, dossier.version
    client = login(email)
    for method in (client.get, client.post):
        response = method(f"/admin/dossier/edit/?id={dossier_id}",
                          data={"csrf_token": csrf(client), "apprenti_nom": "Changé"})
        assert response.status_code == 303
        assert response.headers["Location"].endswith(f"/admin/dossier/{dossier_id}/base/")
    with app.app_context():
        stored = db.session.get(Dossier, dossier_id)
        assert (stored.version, stored.apprenti_nom) == (version, "Martin") or \
            stored.version == version
    page = client.get(f"/admin/dossier/{dossier_id}/base/").get_data(as_text=True)
    if disabled == "all":
        assert "Enregistrer l&#39;onglet" not in page
        assert "disabled" in _input(page, "apprenti_nom")
        return
    for name in editable:
        assert "disabled" not in _input(page, name), name
    for name in disabled:
        assert "disabled" in _input(page, name), name


def test_pencil_of_another_owners_dossier_is_404(app, login):
    with app.app_context():
        other = _dossier_of("bruno@etu.sillon.demo").id
    client = login("alice@etu.sillon.demo")
    assert client.get(f"/admin/dossier/edit/?id={other}").status_code == 404
    assert client.get("/admin/dossier/edit/?id=99999999999999999999").status_code == 404


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
    assert response.status_code == 422
    assert "L&#39;e-mail de l&#39;alternant·e est obligatoire." in body
    assert "Ce numéro SIRET n&#39;est pas valide" in body
    assert "La fin du contrat doit être postérieure à son début." in body
    with app.app_context():
        assert db.session.query(Dossier).count() == before


def test_apprentice_cannot_replace_the_employer_contact_through_the_pencil(app, login):
    """Finding of issue 11: the generic edit form let an apprentice replace the employer
    contact with an outside address, which was then invited as the dossier's employer."""
    from portal.models import OutboxEmail
    client = login("alice@etu.sillon.demo")
    with app.app_context():
        dossier = _dossier_of("alice@etu.sillon.demo")
        did = dossier.id
        saved = (dossier.employeur_siret, dossier.employeur_contact_email,
                 dossier.employer_contact_id, dossier.version)
        mails = db.session.query(OutboxEmail).filter(
            OutboxEmail.recipients.contains("pirate@exemple.fr")).count()
    response = client.post(f"/admin/dossier/edit/?id={did}", data={
        "csrf_token": csrf(client), "employeur_siret": "732 829 320 00074",
        "employeur_contact_email": "pirate@exemple.fr"})
    assert response.status_code == 303
    with app.app_context():
        dossier = db.session.get(Dossier, did)
        assert (dossier.employeur_siret, dossier.employeur_contact_email,
                dossier.employer_contact_id, dossier.version) == saved
        assert db.session.query(User).filter(User.email == "pirate@exemple.fr").count() == 0
        assert db.session.query(OutboxEmail).filter(
            OutboxEmail.recipients.contains("pirate@exemple.fr")).count() == mails
