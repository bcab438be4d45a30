"""The dossier tabs in a real chromium: the apprentice fills L'alternant (the legal representative
block follows the birth date without reloading), the employer fills L'employeur with the IDCC
autofill, Le contrat shows the remuneration grid. Screenshots in test-artifacts/browser/."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from tests.test_browser import (browser_login, browser_page, browser_type_launch_args,  # noqa: F401
                                clear_throttle, live_server, screenshots_dir)

pytestmark = pytest.mark.browser

ALICE = "alice@etu.sillon.demo"
ACME = "rh@acme.sillon.demo"
RESP_INFO = "resp.info@sillon.demo"


@pytest.fixture()
def dossier_id(app):
    """A fresh dossier for Alice at ACME (initialise), removed afterwards."""
    from portal.extensions import db
    from portal.models import Dossier, Etablissement, Formation, User
    with app.app_context():
        def uid(email):
            return db.session.execute(sa.select(User.id).where(User.email == email)).scalar_one()
        formation = db.session.execute(
            sa.select(Formation).join(Formation.responsables)
            .where(User.email == RESP_INFO, Formation.mission_requise.is_(False))
        ).scalars().first()
        etab = db.session.execute(
            sa.select(Etablissement).join(Dossier, Dossier.etablissement_id == Etablissement.id)
            .where(Dossier.employer_contact_id == uid(ACME))).scalars().first()
        dossier = Dossier(formation=formation, apprentice_user_id=uid(ALICE),
                          employer_contact_id=uid(ACME), etablissement=etab,
                          apprenti_email=ALICE, apprenti_nom="Perrin", apprenti_prenom="Alice",
                          apprenti_date_naissance=date(2004, 3, 14), state="initialise",
                          employeur_siret=etab.siret, date_debut_contrat=date(2026, 9, 1),
                          date_fin_contrat=date(2028, 8, 31))
        db.session.add(dossier)
        db.session.commit()
        pk = dossier.id
    yield pk
    with app.app_context():
        db.session.delete(db.session.get(Dossier, pk))
        db.session.commit()


def _nir(body):
    return body + f"{97 - int(body) % 97:02d}"


def test_apprentice_fills_l_alternant(app, live_server, browser_page, screenshots_dir,
                                      dossier_id):
    page = browser_page
    clear_throttle(app, f"login:email:{ALICE}")
    browser_login(page, live_server, ALICE)
    page.goto(f"{live_server}/admin/dossier/{dossier_id}/alternant/")
    block = page.locator("#representant-legal")
    assert block.is_hidden()
    # A minor: the legal representative block appears without reloading the page.
    page.fill("input[name=apprenti_date_naissance]", "2010-06-01")
    page.locator("input[name=apprenti_date_naissance]").dispatch_event("change")
    assert block.is_visible()
    page.check("input[name=emancipe]")
    assert block.is_hidden()
    page.uncheck("input[name=emancipe]")
    page.fill("input[name=apprenti_date_naissance]", "2004-03-14")
    page.locator("input[name=apprenti_date_naissance]").dispatch_event("change")
    assert block.is_hidden()

    page.select_option("select[name=sexe]", "F")
    page.fill("input[name=commune_naissance]", "Nantes")
    page.fill("input[name=departement_naissance]", "44")
    page.select_option("select[name=nationalite]", "1")
    page.fill("input[name=nir]", _nir("2040344109012"))
    page.fill("input[name=adresse_numero]", "12")
    page.fill("input[name=adresse_voie]", "rue des Lilas")
    page.fill("input[name=code_postal]", "44000")
    page.fill("input[name=commune]", "Nantes")
    page.select_option("select[name=regime_social]", "2")
    page.select_option("select[name=situation_avant_contrat]", "3")
    page.select_option("select[name=diplome_plus_eleve]", "54")
    page.select_option("select[name=dernier_diplome_prepare]", "54")
    page.select_option("select[name=derniere_classe]", "01")
    page.fill("input[name=intitule_dernier_diplome]", "BTS SIO")
    # One mistake first: nothing is saved, the error sits next to the field.
    page.fill("input[name=code_postal]", "4400")
    with page.expect_navigation():
        page.click("#tab-form button[type=submit]")
    assert "Code postal invalide" in page.locator("#field-code_postal").inner_text()
    assert page.locator("input[name=commune_naissance]").input_value() == "Nantes"
    page.screenshot(path=str(screenshots_dir / "tab-alternant-erreur.png"), full_page=True)

    page.fill("input[name=code_postal]", "44000")
    with page.expect_navigation():
        page.click("#tab-form button[type=submit]")
    assert "enregistré" in page.content()
    assert page.locator('a[data-tab="alternant"] .tab-check').count() == 1
    page.screenshot(path=str(screenshots_dir / "tab-alternant.png"), full_page=True)
    from portal.extensions import db
    from portal.models import Dossier
    with app.app_context():
        assert db.session.get(Dossier, dossier_id).apprenti.commune_naissance == "Nantes"
