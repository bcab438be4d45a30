"""The Content-Security-Policy in a real chromium: the main screens as the CFA's administrator,
a training manager and an employer raise no CSP violation, and what their JavaScript did
inline before still works from static files (portal/static/js/sillon.js): bulk actions and
their confirmation, the delete confirmation, filters and the date-range picker, select2, the
access-code confirmation, the import preview, the dossier tabs' look-ups and a save.

Violations are caught twice: the `securitypolicyviolation` events of every page (reported to
Python through a binding, which the policy does not govern) and chromium's console messages."""
from __future__ import annotations

import uuid
from datetime import date

import pytest
import sqlalchemy as sa

from tests.test_browser import (browser_login, browser_type_launch_args,  # noqa: F401
                                clear_throttle, live_server, screenshots_dir)
from tests.test_import import _csv, _valid_row, training  # noqa: F401

pytestmark = pytest.mark.browser

ADMIN = "admin@sillon.demo"
RESP_INFO = "resp.info@sillon.demo"
ACME = "rh@acme.sillon.demo"
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (e) {
  window.__sillonCsp([location.pathname, e.effectiveDirective, e.blockedURI,
                      (e.sample || "").slice(0, 80), e.sourceFile + ":" + e.lineNumber]);
});
"""


class Watched:
    """A page whose CSP violations and dialogs are recorded; `answer(True/False, ...)` sets how
    the next confirm() dialogs are answered (alerts are just recorded)."""

    def __init__(self, context):
        self.violations, self.dialogs, self._answers = [], [], []
        context.expose_binding("__sillonCsp", lambda source, v: self.violations.append(v))
        context.add_init_script(REPORT_VIOLATIONS)
        self.page = context.new_page()
        self.page.on("console", self._console)
        self.page.on("dialog", self._dialog)

    def _console(self, message):
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.violations.append(["console", self.page.url, message.text[:200]])

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        if dialog.type == "confirm" and self._answers and self._answers.pop(0):
            dialog.accept()
        else:
            dialog.dismiss()

    def answer(self, *answers: bool):
        """How the next confirm() dialogs are answered; forgets the dialogs seen so far."""
        self._answers = list(answers)
        self.dialogs = []

    def go(self, base, path):
        response = self.page.goto(base + path)
        assert response is not None and response.status == 200, (path, response)
        return response

    def assert_no_violation(self):
        self.page.evaluate("() => new Promise(r => setTimeout(r, 50))")  # let bindings land
        assert self.violations == [], "\n".join(map(str, self.violations))


@pytest.fixture()
def watched(browser):
    context = browser.new_context(locale="fr-FR")
    context.set_default_timeout(15_000)
    try:
        yield Watched(context)
    finally:
        context.close()


def _exists(app, model_name, pk) -> bool:
    from portal import models
    from portal.extensions import db
    with app.app_context():
        return db.session.get(getattr(models, model_name), pk) is not None


def _new_dossiers(app, count: int, **fields) -> list[int]:
    """Fresh dossiers « Initialisé » in resp.info's first training, each for an apprentice
    address of its own (no account)."""
    from portal.extensions import db
    from portal.models import Dossier, Formation, User
    with app.app_context():
        formation = db.session.execute(
            sa.select(Formation).join(Formation.responsables).where(User.email == RESP_INFO)
            .order_by(Formation.id)).scalars().first()
        made = [Dossier(formation=formation, state="initialise", apprenti_prenom="Csp",
                        apprenti_email=f"csp-{uuid.uuid4().hex[:10]}@etu.sillon.demo",
                        apprenti_nom=f"Navigateur{i}", **fields) for i in range(count)]
        db.session.add_all(made)
        db.session.commit()
        return [d.id for d in made]


def _drop_dossiers(app, ids):
    from portal.extensions import db
    from portal.models import Dossier
    with app.app_context():
        db.session.execute(sa.delete(Dossier).where(Dossier.id.in_(ids)))
        db.session.commit()


@pytest.fixture()
def deletable(app):
    """Two fresh dossiers the CFA administrator may delete (removed afterwards if not)."""
    ids = _new_dossiers(app, 2)
    yield ids
    _drop_dossiers(app, ids)


@pytest.fixture()
def employer_dossier(app):
    """A fresh dossier whose employer contact is ACME's, at one of ACME's establishments."""
    from portal.extensions import db
    from portal.models import Dossier, Etablissement, User
    with app.app_context():
        acme = db.session.execute(sa.select(User.id).where(User.email == ACME)).scalar_one()
        etab = db.session.execute(
            sa.select(Etablissement).join(Dossier, Dossier.etablissement_id == Etablissement.id)
            .where(Dossier.employer_contact_id == acme)).scalars().first()
        fields = dict(employer_contact_id=acme, etablissement_id=etab.id,
                      employeur_siret=etab.siret, apprenti_date_naissance=date(2004, 3, 14),
                      date_debut_contrat=date(2026, 9, 1), date_fin_contrat=date(2028, 8, 31))
    (pk,) = _new_dossiers(app, 1, **fields)
    yield pk
    _drop_dossiers(app, [pk])


def _row(page, pk):
    return page.locator(f"table.model-list tbody tr:has(input.action-checkbox[value='{pk}'])")


def test_cfa_admin_screens(app, live_server, watched, deletable):
    w, page = watched, watched.page
    clear_throttle(app, f"login:email:{ADMIN}")
    browser_login(page, live_server, ADMIN)
    assert page.locator("#current-user").count() == 1
    w.assert_no_violation()

    # The dossier list: Flask-Admin's placeholder links do not navigate (nor trip the CSP).
    w.go(live_server, "/admin/dossier/")
    page.locator("ul.nav-tabs a.nav-link.active").click()
    page.locator("ul.pagination li.active a").click()
    page.wait_for_timeout(200)
    assert page.url == f"{live_server}/admin/dossier/"

    # A bulk action with nothing selected: a French alert, nothing posted.
    w.answer()
    page.click("text=Avec la sélection")
    page.click("[data-model-action=delete]")
    assert w.dialogs == ["Sélectionnez au moins un dossier."]

    # Bulk delete with its confirmation: refused first (nothing happens), then accepted.
    first, second = deletable
    _row(page, first).locator("input.action-checkbox").check()
    w.answer(False)
    page.click("text=Avec la sélection")
    page.click("[data-model-action=delete]")
    page.wait_for_timeout(300)
    assert w.dialogs == ["Supprimer définitivement les dossiers sélectionnés ? "
                         "Cette suppression est irréversible."]
    assert _exists(app, "Dossier", first)
    w.answer(True)
    page.click("text=Avec la sélection")
    with page.expect_navigation():
        page.click("[data-model-action=delete]")
    assert not _exists(app, "Dossier", first)
    assert _row(page, first).count() == 0

    # No delete button per row: deleting is the bulk action above only.
    assert _row(page, second).count() == 1
    assert _row(page, second).locator("form, button").count() == 0

    # Filters: the menu adds a row, the start-date filter is a French text box (no English
    # date-range picker), a state filter applies.
    page.click("text=Ajouter un filtre")
    page.click("a.filter:has-text('Début du contrat')")
    page.locator("#filter_form input.filter-val").first.fill("01/09/2026 au 30/09/2026")
    page.wait_for_timeout(200)
    assert page.locator(".daterangepicker:visible").count() == 0
    page.locator("#filter_form a.remove-filter").first.click()
    page.click("text=Ajouter un filtre")
    page.click("a.filter:has-text('État')")
    page.select_option("#filter_form select.filter-val", "initialise", force=True)
    with page.expect_navigation():
        page.click("#filter_form button[type=submit]")
    assert "flt" in page.url
    states = page.locator("table.model-list .sillon-state").evaluate_all(
        "els => els.map(e => e.dataset.state)")
    assert states and set(states) == {"initialise"}

    # Details: Flask-Admin's table filter (details_filter.js), on a structure (a dossier has
    # no generic details screen: its pencil opens the tabs).
    w.go(live_server, "/admin/structure/")
    details = page.locator("table.model-list a[href*='/details/']").first.get_attribute("href")
    w.go(live_server, details)
    page.fill("#fa_filter", "Raison socia")
    page.locator("#fa_filter").press("l")  # the filter runs on keyup
    assert 1 <= page.locator("table.searchable tr:visible").count() < \
        page.locator("table.searchable tr").count()

    # Structures: list, edit form with the select2 look-up of the référent, établissements,
    # the requests queue.
    w.go(live_server, "/admin/structure/")
    edit = page.locator("table.model-list a[href*='/edit/']").first.get_attribute("href")
    w.go(live_server, edit)
    page.locator("#s2id_referent, .select2-container").first.click()
    page.keyboard.type("acme")
    page.wait_for_selector(".select2-result, .select2-results__option")
    page.keyboard.press("Escape")
    for path in ("/admin/etablissement/", "/admin/demandes-structures/", "/admin/user/",
                 "/admin/formation/", "/compte"):
        w.go(live_server, path)
    w.assert_no_violation()


def test_training_manager_access_code_and_import(app, live_server, watched,
                                                  training):  # noqa: F811
    w, page = watched, watched.page
    clear_throttle(app, f"login:email:{RESP_INFO}")
    browser_login(page, live_server, RESP_INFO)

    from portal.extensions import db
    from portal.models import Formation
    w.go(live_server, f"/admin/formation/{training['id']}/code-acces/")
    old = page.locator("#access-code").inner_text()
    button = page.get_by_role("button", name="Générer un nouveau code")
    w.answer(False)
    button.click()
    page.wait_for_timeout(300)
    assert w.dialogs == ["L'ancien code ne fonctionnera plus. Générer un nouveau code ?"]
    assert page.locator("#access-code").inner_text() == old
    w.answer(True)
    with page.expect_navigation():
        button.click()
    new = page.locator("#access-code").inner_text()
    assert new != old
    with app.app_context():
        assert db.session.get(Formation, training["id"]).access_code == new

    w.go(live_server, f"/admin/formation/{training['id']}/import/")
    page.set_input_files("#fichier", files=[{
        "name": "alternants.csv", "mimeType": "text/csv",
        "buffer": _csv([_valid_row(training, 1), _valid_row(training, 2)])}])
    with page.expect_navigation():
        page.click("#import-form button[type=submit]")
    assert "Nom1" in page.content() and "Nom2" in page.content()
    w.go(live_server, "/admin/")
    w.go(live_server, "/admin/dossier/")
    w.assert_no_violation()


def test_employer_dossier_tabs_and_a_save(app, live_server, watched, employer_dossier):
    w, page = watched, watched.page
    dossier_id = employer_dossier
    clear_throttle(app, f"login:email:{ACME}")
    browser_login(page, live_server, ACME)
    w.go(live_server, "/admin/dossier/")
    w.go(live_server, f"/admin/dossier/{dossier_id}/base/")
    tabs = page.locator("ul.sillon-tabs a.nav-link").evaluate_all(
        "els => els.map(e => e.getAttribute('href'))")
    assert len(tabs) >= 5
    for href in tabs:
        w.go(live_server, href)

    # L'employeur: the IDCC look-up (fetch to Sillon, connect-src 'self').
    w.go(live_server, f"/admin/dossier/{dossier_id}/employeur/")
    page.fill("input[name=idcc]", "1486")
    page.locator("input[name=idcc]").dispatch_event("change")
    page.wait_for_function("() => document.getElementById('convention-libelle')"
                           ".textContent.indexOf('Syntec') >= 0")

    # Le contrat: the grid follows the dates, then a save.
    w.go(live_server, f"/admin/dossier/{dossier_id}/contrat/")
    page.fill("input[name=date_fin_contrat]", "2027-08-31")
    page.locator("input[name=date_fin_contrat]").dispatch_event("change")
    page.wait_for_function(
        "() => document.querySelectorAll('#remuneration-grid tbody tr[data-row]').length === 1")
    page.select_option("select[name=type_contrat]", "11")
    page.select_option("select[name=mode_contractuel]", "1")
    page.fill("input[name=date_conclusion]", "2026-08-20")
    page.fill("input[name=date_debut_formation_pratique]", "2026-09-01")
    page.fill("input[name=duree_hebdo_heures]", "35")
    page.fill("input[name=caisse_retraite_complementaire]", "Agirc-Arrco")
    with page.expect_navigation():
        page.click("#tab-form button[type=submit]")
    assert "Onglet « Le contrat » enregistré." in page.locator(".alert-success").inner_text()
    from portal.extensions import db
    from portal.models import Dossier
    with app.app_context():
        assert str(db.session.get(Dossier, dossier_id).date_fin_contrat) == "2027-08-31"

    w.go(live_server, "/admin/ma-structure/")
    w.go(live_server, "/admin/")
    w.assert_no_violation()


def test_public_pages(live_server, watched):
    w, page = watched, watched.page
    for path in ("/login", "/mot-de-passe-oublie", "/inscription/structure"):
        w.go(live_server, path)
    assert page.locator("input[name=email]").count() >= 1
    w.assert_no_violation()


def test_the_policy_blocks_an_injected_script_and_the_watch_sees_it(live_server, watched):
    """What the other tests rely on: chromium enforces the policy and the watch reports it."""
    w, page = watched, watched.page
    w.go(live_server, "/login")
    page.evaluate("""() => {
        const script = document.createElement("script");
        script.textContent = "window.injected = true;";
        document.body.appendChild(script);
        document.body.insertAdjacentHTML("beforeend", '<img src="/x" onerror="window.injected = true">');
    }""")
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.injected") is None
    directives = {v[1] for v in w.violations if v[0] != "console"}
    assert {"script-src-elem", "script-src-attr"} <= directives, w.violations
