"""The OPCO financing in a real chromium (SPEC §5, issue 13). First test: the employer declares
the sending to the OPCO from Suivi – Info (the server's French message next to the field when
the number is missing, the typed date kept), then correctly. Second test, from a dossier
declared through HTTP: the CFA records the OPCO's agreement and generates the first advance's
invoice, the finance dashboard moves that advance from « probable » to expected cash, the
employer reads what it will be billed and none of the CFA's forms, the apprentice has no
Financement tab. No console error nor CSP violation on any of these pages.

Screenshots: test-artifacts/browser/financement-*.png. The same journey through HTTP, with the
figures explained, is tests/test_financing_flow.py (the ``stamped`` dossier comes from there)."""
from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests.test_browser import (browser_login, browser_type_launch_args,  # noqa: F401
                                clear_throttle, live_server, screenshots_dir)
from tests.test_browser_csp import REPORT_VIOLATIONS
from tests.test_dossier_lifecycle import ACME, ALICE, CONSEIL, world  # noqa: F401
from tests.test_financing_flow import _declared, stamped  # noqa: F401

pytestmark = pytest.mark.browser

NUMERO = "DECA 2026 654321"
NUMERO_HTTP = "DECA 2026 123456"  # what test_financing_flow._declared declares
DEPOSIT = "2026-09-03"          # after the CERFA's visa (02/09/2026, the `stamped` fixture)
AGREEMENT = "2026-09-10"
ADVANCE = Decimal("2290.00")    # year 1, 40 % of 7 600 € minus the employer's 750 € (level 6)
REMAINDER = "1 650 €"           # price 8 500 € − 6 850 € taken in charge by the OPCO
PAYMENT_DELAY = timedelta(days=30)  # a claim is expected to be paid 30 days after it is due
MISSING_NUMBER = "Indiquez le numéro du dossier à l'OPCO (n° de dépôt)."
# What chromium logs when the server answers with an error status: expected for the refused
# declaration (422) and the pages refused on purpose (403, 404), and for /favicon.ico, which
# chromium asks for by itself and Sillon does not serve (a 404: reported, not the page's).
FAILED_LOAD = "Failed to load resource: the server responded with a status of {}"
FAVICON = "/favicon.ico"


class Actor:
    """One person's page (own browser context) whose console errors, uncaught exceptions and
    CSP violations are recorded (violations the way tests/test_browser_csp.py catches them)."""

    def __init__(self, context, email: str):
        self.email, self.violations, self.errors, self.allowed = email, [], [], []
        context.expose_binding("__sillonCsp", lambda source, v: self.violations.append(v))
        context.add_init_script(REPORT_VIOLATIONS)
        self.page = context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(
            [self.page.url, f"uncaught: {exc}"]))

    def _console(self, message):
        text = message.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            self.violations.append(["console", self.page.url, text[:200]])
        elif message.type == "error":
            source = (message.location or {}).get("url", "")
            if not (source.endswith(FAVICON) and FAILED_LOAD.format(404) in text):
                self.errors.append([self.page.url, text[:200], source])

    def allow(self, status: int):
        """A console error for a load answered ``status`` is expected (a refused form, a
        refused page)."""
        self.allowed.append(FAILED_LOAD.format(status))

    def go(self, base: str, path: str, status: int = 200):
        if status != 200:
            self.allow(status)
        response = self.page.goto(base + path)
        assert response is not None and response.status == status, (self.email, path, response)

    def click_and_wait(self, selector: str):
        with self.page.expect_navigation():
            self.page.click(selector)

    def assert_clean(self):
        self.page.evaluate("() => new Promise(r => setTimeout(r, 50))")  # let bindings land
        assert self.violations == [], "\n".join(map(str, self.violations))
        errors = [e for e in self.errors if not any(a in e[1] for a in self.allowed)]
        assert errors == [], "\n".join(map(str, errors))


@pytest.fixture()
def actors(app, browser, live_server):
    """actor(email) -> that demo account logged in, in a context of its own; every actor's page
    is checked clean (no console error, no CSP violation) at the end of the test."""
    contexts, made = [], []

    def actor(email: str) -> Actor:
        clear_throttle(app, f"login:email:{email}")
        context = browser.new_context(locale="fr-FR")
        context.set_default_timeout(15_000)
        contexts.append(context)
        person = Actor(context, email)
        browser_login(person.page, live_server, email)
        assert person.page.locator("#current-user").count() == 1, f"login failed for {email}"
        made.append(person)
        return person

    try:
        yield actor
        for person in made:
            person.assert_clean()
    finally:
        for context in contexts:
            context.close()


def _plain(text: str) -> str:
    return " ".join(text.replace("\u202f", " ").replace("\xa0", " ").split())


def _amount(text: str) -> Decimal:
    """'2 290 €', '1 234,56 €' → Decimal; '' or '0 €' → 0."""
    digits = _plain(text).replace(" ", "").replace("€", "").replace(",", ".")
    assert re.fullmatch(r"\+?-?\d*(\.\d+)?", digits), text
    return Decimal(digits.lstrip("+") or "0")


def _state(app, pk):
    from portal.extensions import db
    from portal.models import Dossier, PriseEnCharge
    with app.app_context():
        pec = db.session.execute(sa.select(PriseEnCharge).where(
            PriseEnCharge.dossier_id == pk)).scalar_one_or_none()
        return db.session.get(Dossier, pk).state, (pec.state if pec else None)


def _advance_invoice(app, pk) -> str:
    from portal.extensions import db
    from portal.models import DemandeRemboursement, Echeance, PriseEnCharge
    with app.app_context():
        claim = db.session.execute(
            sa.select(DemandeRemboursement)
            .join(Echeance, Echeance.id == DemandeRemboursement.echeance_id)
            .join(PriseEnCharge, PriseEnCharge.id == Echeance.prise_en_charge_id)
            .where(PriseEnCharge.dossier_id == pk, Echeance.nature == "avance")).scalar_one()
        return claim.facture.numero


def _advance_month(today: date) -> str:
    """The dashboard's month for the first advance (due on the contract's first day, 01/09/2026,
    expected 30 days later; what is late counts in the current month): 'YYYY-MM-01'."""
    expected = date(2026, 9, 1) + PAYMENT_DELAY
    return max(expected.replace(day=1), today.replace(day=1)).isoformat()


def _cash_row(page, month: str) -> dict[str, Decimal]:
    """The expected-cash table's row of ``month``: column → amount."""
    cells = page.locator(f'#fin-cash-table tbody tr[data-month="{month}"] td').all_inner_texts()
    assert len(cells) == 5, cells
    return dict(zip(("deposees", "accordees", "certain", "probables", "total"),
                    map(_amount, cells)))


# --- 1. the employer declares the sending ---------------------------------------------------

def _employer_declares(employer: Actor, base: str, pk: int, shots):
    page = employer.page
    employer.go(base, f"/admin/dossier/{pk}/suivi/")
    form = 'form[data-transition="declarer_envoi_opco"]'
    # The button is usable before anything is typed (what is typed is checked on submit).
    button = page.locator(f"{form} button[type=submit]")
    assert button.is_enabled(), page.locator(form).inner_text()
    # The number left empty: the browser's `required` would stop it; the server must too.
    page.eval_on_selector("#numero-opco", "e => e.removeAttribute('required')")
    page.fill("#date-depot", DEPOSIT)
    employer.allow(422)
    # The sending cannot be undone: the page's dialog asks for a confirmation first.
    page.click(f"{form} button[type=submit]")
    employer.click_and_wait("#confirm-dialog-ok")
    error = page.locator(f"{form} #opco-error")
    assert error.is_visible() and _plain(error.inner_text()) == MISSING_NUMBER
    assert page.locator("#numero-opco").get_attribute("aria-describedby") == "opco-error"
    assert "is-invalid" in page.locator("#numero-opco").get_attribute("class")
    assert page.input_value("#date-depot") == DEPOSIT  # the typed date is kept
    assert "CERFA visé" in page.locator("#suivi-info").inner_text()
    page.screenshot(path=str(shots / "financement-1-envoi-refuse.png"), full_page=True)
    # Then correctly.
    page.fill("#numero-opco", NUMERO.lower())
    page.click(f"{form} button[type=submit]")
    employer.click_and_wait("#confirm-dialog-ok")
    assert "Envoyé à l'OPCO" in page.locator("#suivi-info").inner_text()
    assert page.locator(".sillon-state").get_attribute("data-state") == "envoye_opco"
    assert page.locator(form).count() == 0
    page.screenshot(path=str(shots / "financement-2-envoye.png"), full_page=True)


# --- 2 and 3. the CFA: agreement, first invoice, dashboard ----------------------------------

def _cfa_dashboard(cfa: Actor, base: str, month: str) -> dict[str, Decimal]:
    cfa.go(base, "/admin/financement/tableau-de-bord/")
    page = cfa.page
    assert page.locator("ol.fin-chart li.fin-col").count() == 12
    assert page.locator("#fin-cash-table tbody tr").count() == 12
    return _cash_row(page, month)


def _cfa_agrees_and_invoices(cfa: Actor, base: str, pk: int, shots) -> str:
    page = cfa.page
    cfa.go(base, f"/admin/dossier/{pk}/base/")
    cfa.click_and_wait('ul.sillon-tabs a[data-tab="financement"]')
    assert page.url.endswith(f"/admin/dossier/{pk}/financement/")
    assert page.locator("#pec-state").inner_text().strip() == "Reçu"
    assert page.locator("#pec-numero").inner_text().strip() == NUMERO_HTTP
    agree = '#pec-answers form[data-answer="accorder"]'
    page.fill(f"{agree} input[name=date]", AGREEMENT)
    cfa.click_and_wait(f"{agree} button[type=submit]")
    assert page.locator("#pec-state").inner_text().strip() == \
        "En cours : accord de prise en charge"
    assert page.locator(agree).count() == 0
    advance = page.locator('#schedule tr[data-kind="avance"]')
    assert _amount(advance.locator("td").nth(2).inner_text()) == ADVANCE
    with page.expect_navigation():
        advance.get_by_role("button", name="Générer la facture").click()
    numero = re.search(r"FA-\d{4}-\d{5}", advance.inner_text())
    assert numero, advance.inner_text()
    assert numero.group(0).startswith(f"FA-{date.today().year}-")
    assert advance.locator('[data-claim-state="brouillon"]').count() == 1
    assert advance.get_by_role("button", name="Générer la facture").count() == 0
    page.screenshot(path=str(shots / "financement-3-facture-avance.png"), full_page=True)
    return numero.group(0)


def _dashboard_counts_the_advance(cfa: Actor, base: str, month: str, before, shots):
    after = _cfa_dashboard(cfa, base, month)
    # Agreed: the advance leaves the « probables » for the sure cash of its month.
    assert after["accordees"] - before["accordees"] == ADVANCE, (before, after)
    assert before["probables"] - after["probables"] == ADVANCE, (before, after)
    assert after["total"] == before["total"]
    column = cfa.page.locator(f'ol.fin-chart li.fin-col[data-month="{month}"]')
    assert _amount(column.locator(".fin-amount").inner_text()) == after["certain"]
    bar = column.locator(".fin-seg.fin-accordees")
    assert bar.count() == 1 and bar.evaluate("e => e.getBoundingClientRect().height") > 0
    cfa.page.screenshot(path=str(shots / "financement-4-tableau-de-bord.png"), full_page=True)


# --- 4 and 5. the employer and the apprentice ----------------------------------------------

def _employer_reads_its_billing(employer: Actor, base: str, pk: int, numero: str, shots):
    page = employer.page
    employer.go(base, f"/admin/dossier/{pk}/suivi/")
    employer.click_and_wait('ul.sillon-tabs a[data-tab="financement"]')
    assert _plain(page.locator("#pec-remainder").inner_text()) == REMAINDER
    assert _plain(page.locator("#employer-billing").inner_text()) == \
        f"{REMAINDER} seront facturés à l'employeur prochainement."
    assert page.locator("#pec-answers").count() == 0
    assert page.locator("#schedule").count() == 0
    assert page.get_by_role("button", name="Générer la facture").count() == 0
    assert numero not in page.content()
    page.screenshot(path=str(shots / "financement-5-employeur.png"), full_page=True)
    employer.go(base, "/admin/financement/tableau-de-bord/", status=403)


def _apprentice_has_no_financing_tab(alice: Actor, base: str, pk: int, shots):
    page = alice.page
    alice.go(base, f"/admin/dossier/{pk}/base/")
    tabs = page.locator("ul.sillon-tabs a.nav-link")
    assert tabs.count() >= 1
    assert page.locator('a[data-tab="financement"]').count() == 0
    assert not any("Financement" in label for label in tabs.all_inner_texts())
    page.screenshot(path=str(shots / "financement-6-alternant.png"), full_page=True)
    alice.go(base, f"/admin/dossier/{pk}/financement/", status=404)


# --- the tests ----------------------------------------------------------------------------

def test_employer_declares_the_sending_to_the_opco(app, actors, live_server, screenshots_dir,
                                                   stamped):  # noqa: F811
    _employer_declares(actors(ACME), live_server, stamped, screenshots_dir)
    assert _state(app, stamped) == ("envoye_opco", "recu")


def test_agreement_invoice_dashboard_and_who_sees_what(app, login, actors, live_server,
                                                       screenshots_dir, stamped):  # noqa: F811
    pk, base = stamped, live_server
    _declared(app, login, pk)  # through HTTP: the first test drives this step
    cfa = actors(CONSEIL)
    month = _advance_month(date.today())
    before = _cfa_dashboard(cfa, base, month)
    assert before["probables"] >= ADVANCE  # waiting for the OPCO: a probable cash
    numero = _cfa_agrees_and_invoices(cfa, base, pk, screenshots_dir)
    assert _state(app, pk) == ("envoye_opco", "accorde")
    assert _advance_invoice(app, pk) == numero
    _dashboard_counts_the_advance(cfa, base, month, before, screenshots_dir)
    _employer_reads_its_billing(actors(ACME), base, pk, numero, screenshots_dir)
    _apprentice_has_no_financing_tab(actors(ALICE), base, pk, screenshots_dir)
