"""The dossier's screens in chromium (issue 15, item 2): Résumé's anomaly links land on their
field; an irreversible button opens a confirmation dialog (going back changes nothing, confirming
does it); without scripts the page's check box does the same work. At 1366 × 900 and on a
390 px phone, axe-core on what these screens add, screenshots saved."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import Dossier, DossierHistory
from tests.support import axe
from tests.test_browser import (browser_login, browser_type_launch_args,  # noqa: F401
                                clear_throttle, live_server, screenshots_dir)
from tests.test_dossier_lifecycle import ACME, ALICE, MANUAL, _fill, _state, world  # noqa: F401

pytestmark = pytest.mark.browser
MANAGER = MANUAL[0]
SIZES = {"bureau": {"width": 1366, "height": 900}, "mobile": {"width": 390, "height": 844}}


def _context(browser, size, **kwargs):
    context = browser.new_context(locale="fr-FR", viewport=SIZES[size], **kwargs)
    context.set_default_timeout(15_000)
    return context


def _axe_on(page, *selectors) -> list[dict]:
    """axe-core's critical and serious violations inside the given parts of the page."""
    axe.inject(page)
    found = page.evaluate("""([include, impacts]) => window.axe.run({include: include},
        {resultTypes: ['violations']}).then(r => r.violations.filter(v => impacts.includes(v.impact))
        .map(v => ({id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                    targets: v.nodes.map(n => n.target.join(' ')), html: v.nodes.map(n => n.html)})))""",
                          [[[s] for s in selectors], list(axe.FAILING_IMPACTS)])
    return found


def _history_count(app, pk):
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(DossierHistory)
                                 .where(DossierHistory.dossier_id == pk))


@pytest.mark.parametrize("size", sorted(SIZES))
def test_resume_links_land_on_the_field(app, world, browser, live_server, screenshots_dir,
                                        size):
    pk, _ = world(MANUAL)
    clear_throttle(app, f"login:email:{ALICE}")
    context = _context(browser, size)
    try:
        page = context.new_page()
        browser_login(page, live_server, ALICE)
        page.goto(f"{live_server}/admin/dossier/{pk}/resume/")
        group = page.locator('section.resume-group[data-tab="alternant"]')
        assert group.is_visible()
        found = _axe_on(page, ".sillon-resume")
        assert found == [], axe.describe(page.url, found)
        page.screenshot(path=str(screenshots_dir / f"resume-anomalies-{size}.png"),
                        full_page=True)
        link = group.locator('li[data-field="commune_naissance"] a.resume-link')
        assert link.inner_text().strip() == "Commune de naissance"
        with page.expect_navigation():
            link.click()
        assert page.url.endswith(f"/admin/dossier/{pk}/alternant/#field-commune_naissance")
        target = page.locator("#field-commune_naissance")
        assert target.is_visible()
        box, height = target.bounding_box(), page.viewport_size["height"]
        assert 0 < box["y"] < height / 2, box  # scrolled to the field, room above it
        page.screenshot(path=str(screenshots_dir / f"resume-lien-champ-{size}.png"))
    finally:
        context.close()


@pytest.mark.parametrize("size", sorted(SIZES))
def test_cancelling_asks_for_confirmation_in_a_dialog(app, world, browser, live_server,
                                                      screenshots_dir, size):
    pk, siret = world(MANUAL)
    clear_throttle(app, f"login:email:{MANAGER}")
    context = _context(browser, size)
    try:
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        browser_login(page, live_server, MANAGER)
        page.goto(f"{live_server}/admin/dossier/{pk}/suivi/")
        form = page.locator('form[data-transition="annuler"]')
        # With scripts, the check box gives way to the dialog.
        assert not form.locator(".sillon-confirm").is_visible()
        form.locator("textarea[name=comment]").fill("L'apprentie a choisi une autre formation.")
        before = _history_count(app, pk)
        form.locator("button[type=submit]").click()
        dialog = page.locator("#confirm-dialog")
        assert dialog.is_visible()
        assert page.locator("#confirm-dialog-title").inner_text() == "Annuler le dossier ?"
        assert "cette action est définitive" in page.locator("#confirm-dialog-text").inner_text()
        assert page.evaluate("() => document.activeElement.id") == "confirm-dialog-cancel"
        found = _axe_on(page, "#confirm-dialog")
        assert found == [], axe.describe(page.url, found)
        page.screenshot(path=str(screenshots_dir / f"confirmation-dialogue-{size}.png"))
        # Going back changes nothing.
        page.click("#confirm-dialog-cancel")
        assert not dialog.is_visible()
        assert _state(app, pk) == "initialise" and _history_count(app, pk) == before
        # Escape closes it too, and nothing is sent.
        form.locator("button[type=submit]").click()
        assert dialog.is_visible()
        page.keyboard.press("Escape")
        assert not dialog.is_visible()
        assert _state(app, pk) == "initialise"
        # Confirming does it.
        form.locator("button[type=submit]").click()
        with page.expect_navigation():
            page.click("#confirm-dialog-ok")
        assert page.locator(".sillon-state").get_attribute("data-state") == "annule"
        assert _state(app, pk) == "annule"
        page.screenshot(path=str(screenshots_dir / f"confirmation-faite-{size}.png"),
                        full_page=True)
        assert errors == []
    finally:
        context.close()


def test_without_scripts_the_check_box_confirms(app, world, browser, live_server,
                                                screenshots_dir):
    pk, _ = world(MANUAL)
    clear_throttle(app, f"login:email:{MANAGER}")
    context = _context(browser, "bureau", java_script_enabled=False)
    try:
        page = context.new_page()
        browser_login(page, live_server, MANAGER)
        page.goto(f"{live_server}/admin/dossier/{pk}/suivi/")
        form = page.locator('form[data-transition="annuler"]')
        check = form.locator("input[name=confirmation]")
        assert check.is_visible()
        form.locator("textarea[name=comment]").fill("Doublon d'un autre dossier.")
        # The browser's `required` would stop an unticked box; the server must too.
        check.evaluate("e => e.removeAttribute('required')")
        with page.expect_navigation():
            form.locator("button[type=submit]").click()
        error = page.locator('form[data-transition="annuler"] [role=alert]')
        assert "« Annuler le dossier » est définitif" in error.inner_text()
        assert page.locator('form[data-transition="annuler"] textarea').input_value() == \
            "Doublon d'un autre dossier."
        assert _state(app, pk) == "initialise"
        page.screenshot(path=str(screenshots_dir / "confirmation-sans-script-refusee.png"),
                        full_page=True)
        page.locator('form[data-transition="annuler"] input[name=confirmation]').check()
        with page.expect_navigation():
            page.locator('form[data-transition="annuler"] button[type=submit]').click()
        assert _state(app, pk) == "annule"
    finally:
        context.close()
