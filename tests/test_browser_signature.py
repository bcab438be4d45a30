"""Browser journey (chromium) of the built-in electronic signature (issue 17), with real e-mails
through a real SMTP server: the CFA advisor sends the CERFA and the convention for signature
from Suivi – Info; the employer's signatory, then the apprentice, each in a fresh browser with
no account, open the personal link of their e-mail, ask for their code, type it, tick « Lu et
approuvé » and sign; the remaining signatures (the CFA's visa, the convention) go through
Flask's test client as tests/test_signature_flow.py does; the CFA then sees both documents
« Signé électroniquement », downloads the sealed CERFA and its seal validates. The signers'
pages raise no console error and no CSP violation. Screenshots saved (signature-*.png)."""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from portal.signatures.certificate import sealing_identity
from portal.signatures.seal import check
from tests.test_browser import (browser_login, browser_type_launch_args,  # noqa: F401
                                clear_throttle, live_server, screenshots_dir)
from tests.test_browser_csp import Watched
from tests.test_signature_flow import (ALICE, CONSEIL, EMPLOYER, _ask_code, _code,  # noqa: F401
                                       _link, _mails, _sign, _sign_in_turn, _signers,
                                       validated, world)

pytestmark = pytest.mark.browser

STARTED = ("Signature électronique lancée (CERFA et Convention de formation) : chaque "
           "signataire reçoit son lien par e-mail.")
WAITING = "En attente des signataires précédents"
SIGNED_PDF = {"cerfa": "CERFA signé électroniquement (PDF scellé)",
              "convention": "Convention de formation signée électroniquement (PDF scellé)"}
ON_DAY = re.compile(r"le \d{2}/\d{2}/\d{4} à \d{2}:\d{2}")


def _context(browser):
    context = browser.new_context(locale="fr-FR")
    context.set_default_timeout(15_000)
    return context


class SignerPage(Watched):
    """A signer's page in its own context: CSP violations (Watched) and console errors kept."""

    def __init__(self, context):
        super().__init__(context)
        self.errors: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(
            f"{self.page.url}: {m.text[:200]}"))
        self.page.on("pageerror", lambda exc: self.errors.append(f"{self.page.url}: {exc}"))

    def assert_clean(self):
        self.assert_no_violation()
        assert self.errors == [], "\n".join(self.errors)


def _off_the_event_loop(function, *args):
    """Playwright's sync API keeps an asyncio loop running in this thread, and pyhanko's sync
    sign_pdf / validate_pdf_signature call asyncio.run, which refuses to run there (the seal
    would fail, the check would answer « not sealed »): run them in a thread of their own, as
    the server's request threads do."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args).result()


def _shot(page, directory: Path, name: str):
    page.screenshot(path=str(directory / name), full_page=True)


def _request_card(page, document: str):
    return page.locator(f'[data-signature-request][data-document="{document}"]')


# --- 1. the CFA sends the documents for signature ------------------------------------------------

def _cfa_starts(page, base, pk, shots):
    page.goto(f"{base}/admin/dossier/{pk}/suivi/")
    with page.expect_navigation():
        page.locator("#signature-start button[type=submit]").click()
    assert STARTED in page.locator(".alert-success").inner_text()
    assert page.locator("#signature-electronique").is_visible()
    assert page.locator("[data-signature-request]").count() == 2
    for document in ("cerfa", "convention"):
        card = _request_card(page, document)
        assert card.get_attribute("data-status") == "en_cours"
        assert "Signature en cours" in card.locator(".badge").first.inner_text()
        signers = card.locator("[data-signers] li")
        assert signers.evaluate_all("els => els.map(e => e.dataset.role)") == [
            "employeur", "alternant", "cfa"]
        assert "Philippe Garnier – Employeur (signataire) : À signer" in \
            signers.nth(0).inner_text()
        assert WAITING in signers.nth(1).inner_text() and WAITING in signers.nth(2).inner_text()
    assert page.locator("#signature-start").count() == 0  # once running, not twice
    assert page.locator("#signature-cancel").is_visible()
    _shot(page, shots, "signature-1-cfa-lance.png")


# --- 2., 3. a signer signs through their personal link -------------------------------------------

def _opens_their_link(w: SignerPage, base, link, pk, role):
    page = w.page
    w.go(base, link)
    assert f"CERFA – dossier n° {pk}" in page.locator("#signature-title").inner_text()
    frame = page.locator("iframe#document-frame")
    assert frame.is_visible()
    pdf = page.request.get(base + frame.get_attribute("src"))
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body()[:5] == b"%PDF-"
    signers = page.locator("#signers li")
    assert signers.evaluate_all("els => els.map(e => e.dataset.role)") == [
        "employeur", "alternant", "cfa"]
    mine = page.locator(f'#signers li[data-role="{role}"]')
    assert mine.get_attribute("data-status") == "a_signer"
    assert "À signer" in mine.inner_text() and "(vous)" in mine.inner_text()
    statuses = signers.evaluate_all("els => els.map(e => e.dataset.status)")
    assert statuses[:statuses.index("a_signer")] == ["signe"] * statuses.index("a_signer")
    assert page.locator("#not-your-turn").count() == 0


def _asks_code_and_signs(w: SignerPage, smtp, address, shots, before: str | None):
    page = w.page
    with page.expect_navigation():
        page.get_by_role("button", name="Recevoir mon code par e-mail").click()
    assert f"Un code à 6 chiffres vient de vous être envoyé à {address}. Il est valable 10 " \
           "minutes." in page.locator(".alert").first.inner_text()
    assert page.get_by_role("button", name="Recevoir un nouveau code").is_visible()
    page.fill("#code", _code(smtp, address))
    page.check("#lu_et_approuve")
    if before:
        _shot(page, shots, before)
    with page.expect_navigation():
        page.click("#sign-button")
    done = page.locator("#signature-done")
    assert "Merci, votre signature est enregistrée" in done.inner_text()
    assert "Le signataire suivant est prévenu par e-mail." in done.inner_text()


def _signs_in_browser(browser, base, smtp, pk, address, role, shots, after, before=None):
    context = _context(browser)
    try:
        w = SignerPage(context)
        _opens_their_link(w, base, _link(smtp, address), pk, role)
        _asks_code_and_signs(w, smtp, address, shots, before)
        _shot(w.page, shots, after)
        w.assert_clean()
    finally:
        context.close()


# --- 4. the rest through the test client, as tests/test_signature_flow.py does -------------------

def _cfa_visa_then_the_convention(app, smtp, pk):
    client = app.test_client()
    link = _link(smtp, CONSEIL)
    _ask_code(client, link)
    status, page = _sign(client, link, _code(smtp, CONSEIL))
    assert status == 200 and "Vous étiez le dernier signataire" in page
    _sign_in_turn(app, smtp, pk, "Convention")


# --- 5. the CFA sees the signed documents and downloads the sealed CERFA ------------------------

def _cfa_sees_signed(app, page, base, pk, shots):
    page.goto(f"{base}/admin/dossier/{pk}/suivi/")
    assert "Documents signés retournés" in page.locator("#suivi-info").inner_text()
    for document, label in SIGNED_PDF.items():
        card = _request_card(page, document)
        assert card.get_attribute("data-status") == "signee"
        assert "Signé électroniquement" in card.locator(".badge").first.inner_text()
        signers = card.locator("[data-signers] li")
        assert signers.evaluate_all("els => els.map(e => e.dataset.status)") == ["signe"] * 3
        assert all(ON_DAY.search(t) for t in signers.all_inner_texts())
        assert card.locator("[data-signed-pdf]").inner_text().strip() == label
        for ext, mimetype in (("pdf", "application/pdf"), ("json", "application/json")):
            href = card.locator(f"[data-evidence={ext}]").get_attribute("href")
            answer = page.request.get(base + href)
            assert answer.status == 200 and answer.headers["content-type"] == mimetype, href
    assert page.locator("#signature-start, #signature-cancel").count() == 0
    _shot(page, shots, "signature-5-cfa-signe-electroniquement.png")

    with page.expect_download() as info:
        _request_card(page, "cerfa").locator("[data-signed-pdf]").click()
    data = Path(info.value.path()).read_bytes()
    assert data[:5] == b"%PDF-"
    with app.app_context():
        identity = sealing_identity(app)
    assert _off_the_event_loop(check, data, identity).ok


def test_employer_then_apprentice_sign_in_the_browser_and_the_cfa_gets_the_sealed_pdf(
        app, validated, smtp, browser, live_server, screenshots_dir):  # noqa: F811
    pk, base, shots = validated, live_server, screenshots_dir
    clear_throttle(app, f"login:email:{CONSEIL}", "login:ip:127.0.0.1")
    cfa_context = _context(browser)
    try:
        cfa = cfa_context.new_page()
        browser_login(cfa, base, CONSEIL)
        assert cfa.locator("#current-user").count() == 1, cfa.url
        _cfa_starts(cfa, base, pk, shots)
        assert _mails(smtp, EMPLOYER, "à signer")  # the employer's turn, by e-mail

        _signs_in_browser(browser, base, smtp, pk, EMPLOYER, "employeur", shots,
                          "signature-3-employeur-signe.png",
                          before="signature-2-employeur-page.png")
        assert [s for _, _, s in _signers(app, pk)] == ["signe", "a_signer", "attente"]

        turn = _mails(smtp, ALICE, "à vous de signer")
        assert turn and re.search(r"^C'est à vous de signer le CERFA du contrat de ",
                                  smtp.text_of(turn[-1]), re.M), smtp.text_of(turn[-1])
        _signs_in_browser(browser, base, smtp, pk, ALICE, "alternant", shots,
                          "signature-4-alternant-signe.png")
        assert [s for _, _, s in _signers(app, pk)] == ["signe", "signe", "a_signer"]

        _off_the_event_loop(_cfa_visa_then_the_convention, app, smtp, pk)
        _cfa_sees_signed(app, cfa, base, pk, shots)
    finally:
        cfa_context.close()
