"""Browser journey (chromium): an apprentice registers with the training's access code, reads
the temporary password in the e-mail (real SMTP server), logs in, chooses a password, accepts
the RGPD terms and lands on their dashboard. Screenshots saved."""
from __future__ import annotations

import re
import uuid

import pytest

from tests.test_browser import (browser_type_launch_args, live_server,  # noqa: F401
                                screenshots_dir)
from tests.test_accounts import only_mail, temporary_password
from tests.support.postgres import wait_until

pytestmark = pytest.mark.browser


def test_apprentice_registers_with_an_access_code(app, browser, live_server, smtp,  # noqa: F811
                                                  clean_outbox, screenshots_dir):
    email = f"inscrite.{uuid.uuid4().hex[:8]}@test.sillon.demo"
    context = browser.new_context(locale="fr-FR")
    context.set_default_timeout(15_000)
    page = context.new_page()
    shot = lambda name: page.screenshot(  # noqa: E731
        path=str(screenshots_dir / f"inscription-{name}.png"), full_page=True)
    try:
        page.goto(f"{live_server}/login")
        form = page.locator("#registration-form")
        form.locator("input[name='reg-code']").fill("lpinfo-26")
        form.locator("input[name='reg-first_name']").fill("Inès")
        form.locator("input[name='reg-last_name']").fill("Navigatrice")
        form.locator("input[name='reg-email']").fill(email)
        form.locator("input[name='reg-birth_date']").fill("2005-04-12")
        shot("1-formulaire")
        with page.expect_navigation():
            form.locator("button[type=submit]").click()
        assert "Votre inscription est enregistrée" in page.locator("#registration-done").inner_text()
        shot("2-confirmation")

        assert wait_until(lambda: any(email in rcpts for rcpts, _ in smtp.messages))
        password = temporary_password(smtp, only_mail(smtp, email, "Bienvenue sur Sillon"))
        with page.expect_navigation():
            page.click("text=Aller à la connexion")
        assert page.locator("input[name=email]").input_value() == email  # pre-filled
        page.fill("input[name=password]", password)
        with page.expect_navigation():
            page.click("form button[type=submit]")
        assert "/premier-mot-de-passe" in page.url
        shot("3-nouveau-mot-de-passe")
        page.fill("input[name=password]", "Mon-mdp-2026!")
        page.fill("input[name=confirm]", "Mon-mdp-2026!")
        with page.expect_navigation():
            page.click("#new-password-form button[type=submit]")
        assert "/rgpd" in page.url
        with page.expect_navigation():
            page.click("#consent-form button[type=submit]")
        # Not accepted: the French message next to the box, still on the terms.
        assert "Cochez la case" in page.locator("#consent-form").inner_text()
        page.check("input[name=accept]")
        shot("4-rgpd")
        with page.expect_navigation():
            page.click("#consent-form button[type=submit]")
        assert re.search(r"/admin/?$", page.url)
        assert "NAVIGATRICE" in page.locator("body").inner_text().upper()
        shot("5-tableau-de-bord")
    finally:
        context.close()
