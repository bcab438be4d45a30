"""The size of an upload checked in a real chromium before sending (issue 15, item 5): a file
above the field's data-max-size is told next to the field in French and its form is not sent;
a file within the limit clears the message. Screenshots in test-artifacts/browser/."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.test_browser import (browser_login, browser_page, browser_type_launch_args,  # noqa: F401
                                clear_throttle, live_server, screenshots_dir)
from tests.test_dossier_lifecycle import ACME, MANUAL, _pdf, world  # noqa: F401
from tests.test_import import DOMAIN, training  # noqa: F401

pytestmark = pytest.mark.browser

MB = 1024 * 1024


def _documents(app, pk):
    from portal.extensions import db
    from portal.models import Document
    with app.app_context():
        return db.session.execute(sa.select(Document.kind).where(
            Document.dossier_id == pk)).scalars().all()


def test_a_signed_document_too_big_is_stopped_in_the_browser(
        app, live_server, browser_page, screenshots_dir, world):  # noqa: F811
    from portal.extensions import db
    from portal.models import Dossier
    pk, _ = world(MANUAL)
    with app.app_context():
        db.session.get(Dossier, pk).state = "economie_validee"
        db.session.commit()
    page = browser_page
    page.set_viewport_size({"width": 1366, "height": 900})
    clear_throttle(app, f"login:email:{ACME}")
    browser_login(page, live_server, ACME)
    url = f"{live_server}/admin/dossier/{pk}/suivi/"
    page.goto(url)
    field = page.locator("#fichier-convention_signee")
    message = page.locator("#err-fichier-convention_signee")
    assert not message.is_visible()
    big = b"%PDF-1.4\n" + b"0" * (15 * MB)
    field.set_input_files({"name": "convention-scannee.pdf", "mimeType": "application/pdf",
                           "buffer": big})
    message.wait_for(state="visible")
    text = message.inner_text()
    assert text.startswith("Le fichier pèse 15,1 Mo : il dépasse la taille maximale de 10 Mo. "
                           "Rien n'a été déposé."), text
    assert field.get_attribute("aria-invalid") == "true"
    page.screenshot(path=str(screenshots_dir / "upload-too-big-1366.png"), full_page=True)
    # Sending is blocked: the page stays, nothing reaches the server.
    requests = []
    page.on("request", lambda r: requests.append(r.url) if r.method == "POST" else None)
    page.locator("#depot-convention_signee button[type=submit]").click()
    page.wait_for_timeout(500)
    assert requests == [] and page.url == url
    assert _documents(app, pk) == []
    # A file within the limit clears the message and is sent.
    field.set_input_files({"name": "convention.pdf", "mimeType": "application/pdf",
                           "buffer": _pdf()})
    assert not message.is_visible()
    with page.expect_navigation():
        page.locator("#depot-convention_signee button[type=submit]").click()
    assert "Convention signée déposée" in page.locator("main").inner_text()
    assert _documents(app, pk) == ["convention_signee"]


def test_an_import_file_too_big_is_stopped_in_the_browser(
        app, live_server, browser_page, screenshots_dir, training):  # noqa: F811
    from portal.models import ImportBatch
    from tests.test_import import _count
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    email = f"resp.info@{DOMAIN}"
    clear_throttle(app, f"login:email:{email}")
    browser_login(page, live_server, email)
    url = f"{live_server}/admin/formation/{training['id']}/import/"
    page.goto(url)
    page.locator("#fichier").set_input_files({"name": "gros.csv", "mimeType": "text/csv",
                                              "buffer": b"Nom;Pr\xc3\xa9nom;E-mail\r\n"
                                                        + b"x" * (6 * MB)})
    message = page.locator("#err-fichier")
    message.wait_for(state="visible")
    assert message.inner_text().startswith(
        "Le fichier pèse 6,1 Mo : il dépasse la taille maximale de 5 Mo. Rien n'a été importé")
    page.screenshot(path=str(screenshots_dir / "import-too-big-390.png"), full_page=True)
    page.locator("#import-form button[type=submit]").click()
    page.wait_for_timeout(500)
    assert page.url == url
    assert _count(app, ImportBatch, ImportBatch.formation_id == training["id"]) == 0
