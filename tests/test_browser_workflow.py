"""Browser journey (chromium): the employer requests validation; the manager, logging in, sees
it on their dashboard and validates; the employer sees the new state. Screenshots saved."""
from __future__ import annotations

import pytest

from tests.test_browser import (browser_login, browser_type_launch_args,  # noqa: F401
                                clear_throttle, live_server, screenshots_dir)
from tests.test_dossier_lifecycle import ACME, MANUAL, _fill, _state, world  # noqa: F401

pytestmark = pytest.mark.browser


def _page(browser):
    context = browser.new_context(locale="fr-FR")
    context.set_default_timeout(15_000)
    return context, context.new_page()


def test_request_then_validation_seen_on_the_dashboards(app, login, world, browser,  # noqa: F811
                                                        live_server, screenshots_dir):
    pk, siret = world(MANUAL)
    _fill(login, pk, siret, "2027-08-31")
    assert _state(app, pk) == "saisie_complete"
    manager = MANUAL[0]
    clear_throttle(app, f"login:email:{ACME}", f"login:email:{manager}")

    employer_ctx, employer = _page(browser)
    try:
        browser_login(employer, live_server, ACME)
        employer.goto(f"{live_server}/admin/dossier/{pk}/suivi/")
        with employer.expect_navigation():
            employer.click('form[data-transition="demander_validation"] button')
        assert "Validation demandée" in employer.locator("#suivi-info").inner_text()
        employer.screenshot(path=str(screenshots_dir / "workflow-1-demande.png"), full_page=True)

        manager_ctx, page = _page(browser)
        try:
            browser_login(page, live_server, manager)
            assert page.url.rstrip("/").endswith("/admin")
            training = page.locator('#dashboard-formation .training a:has-text("Validation demandée")')
            assert training.count() >= 1
            page.screenshot(path=str(screenshots_dir / "workflow-2-tableau-de-bord-formation.png"),
                            full_page=True)
            with page.expect_navigation():
                training.first.click()
            # One row for the dossier (its name and its pencil both open the tabs).
            assert page.locator(
                f'table.model-list tbody tr:has(a[href="/admin/dossier/{pk}/base/"])').count() == 1
            page.goto(f"{live_server}/admin/dossier/{pk}/suivi/")
            with page.expect_navigation():
                page.click('form[data-transition="valider_formation"] button')
            assert "Validé par la formation" in page.locator("#suivi-info").inner_text()
            page.screenshot(path=str(screenshots_dir / "workflow-3-validation.png"),
                            full_page=True)
        finally:
            manager_ctx.close()

        employer.goto(f"{live_server}/admin/")
        row = employer.locator(f'#dashboard-own [data-dossier="{pk}"]')
        assert "Validé par la formation" in row.inner_text()
        employer.screenshot(path=str(screenshots_dir / "workflow-4-employeur.png"), full_page=True)
    finally:
        employer_ctx.close()
    assert _state(app, pk) == "valide_formation"
