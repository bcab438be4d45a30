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


def test_le_contrat_shows_the_grid_and_follows_the_dates(app, live_server, browser_page,
                                                         screenshots_dir, dossier_id):
    page = browser_page
    clear_throttle(app, f"login:email:{ACME}")
    browser_login(page, live_server, ACME)
    page.goto(f"{live_server}/admin/dossier/{dossier_id}/contrat/")
    rows = page.locator("#remuneration-grid tbody tr[data-row]")
    # Alice, born 14/03/2004, is 22: one row per contract year at the 21–25 rates.
    assert rows.count() == 2
    assert "53" in rows.nth(0).locator("td.minimum").inner_text()
    # A one-year contract: the grid is rebuilt without reloading the page.
    page.fill("input[name=date_fin_contrat]", "2027-08-31")
    page.locator("input[name=date_fin_contrat]").dispatch_event("change")
    page.wait_for_function(
        "() => document.querySelectorAll('#remuneration-grid tbody tr[data-row]').length === 1 && "
        "document.getElementById('grid-status').textContent.indexOf('Grille recalculée') === 0")
    # Raising the percent updates the amount on the same row.
    page.fill("input[name='remuneration-0-percent']", "60")
    page.locator("input[name='remuneration-0-percent']").dispatch_event("change")
    assert page.locator("input[name='remuneration-0-monthly_amount']").input_value() == "1093,82"
    page.select_option("select[name=type_contrat]", "11")
    page.select_option("select[name=mode_contractuel]", "1")
    page.fill("input[name=date_conclusion]", "2026-08-20")
    page.fill("input[name=date_debut_formation_pratique]", "2026-09-01")
    page.fill("input[name=duree_hebdo_heures]", "35")
    page.fill("input[name=caisse_retraite_complementaire]", "Agirc-Arrco")
    page.screenshot(path=str(screenshots_dir / "tab-contrat-grille.png"), full_page=True)
    with page.expect_navigation():
        page.click("#tab-form button[type=submit]")
    assert "enregistré" in page.content()
    from portal.extensions import db
    from portal.models import Dossier
    with app.app_context():
        periods = db.session.get(Dossier, dossier_id).remunerations
        assert [(str(p.pourcentage), str(p.montant_mensuel)) for p in periods] == [
            ("60.00", "1093.82")]
