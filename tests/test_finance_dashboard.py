"""The CFA's finance dashboard (SPEC §5, issue 13): each figure on prises en charge, instalments,
claims and payments built here on a fixed day, compared with what the dashboard adds to the
demo data's figures (so the test holds whatever the demo data holds).

The day is Monday 15/03/2027: the forecast runs from mars 2027 to févr. 2028 (a payment is
expected 30 days after a deposit or a due date), the receipts from avr. 2026 to mars 2027; a
claim deposited on 12/02/2027 is unpaid after 30 days, one of 13/02/2027 not yet; a prise en
charge complete on 22/02/2027 waits past its 20 days (D6224-2), one of 23/02/2027 does not; a
balance of a contract that ended on 15/11/2026 can be claimed until today (4 months, décret
2025-585), one that ended on 14/11/2026 is lost."""
from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.financing.dashboard import (MONTHS, dashboard, first_last_day_in_time,
                                        month_label)
from portal.models import (DemandeRemboursement, Dossier, Echeance, Etablissement, Facture,
                           Formation, Paiement, PriseEnCharge, Structure, User)
from portal.rules.formatting import eur
from tests.support.trainings import drop_training_copies, training_copy
from tests.test_browser import (browser_login, browser_type_launch_args,  # noqa: F401
                                live_server, screenshots_dir)
from tests.test_browser_csp import REPORT_VIOLATIONS

T = date(2027, 3, 15)
D = Decimal
URL = "/admin/financement/tableau-de-bord/"
KINDS = {"avance": 40, "mois7": 30, "mois10": 20, "solde": 10}
FAR = date(2028, 8, 31)
CFA_ADMIN, CFA_CONSEIL = "admin@sillon.demo", "conseil@sillon.demo"
RH_ACME, RH_GLOBEX, ACME = "rh@acme.sillon.demo", "rh@globex.sillon.demo", "ACME Industrie"
NO_FINANCING = ["resp.info@sillon.demo", "gest.info@sillon.demo", "alice@etu.sillon.demo"]
OTHERS = [RH_ACME] + NO_FINANCING


def _user(email):
    return db.session.execute(sa.select(User).where(User.email == email)).scalar_one()


class Builder:
    """Prises en charge on dossiers of their own (in a copy of a demo training), removed with
    everything they hold by cleanup()."""

    def __init__(self, app, year=2091):
        self.app, self.copies, self.pecs, self.ids = app, [], [], {}
        self.year = year  # of the invoices' numbers: one per builder, no clash
        formation = db.session.execute(sa.select(Formation).order_by(Formation.id)).scalars().first()
        self.formation = training_copy(formation, self.copies)
        # ACME's HR contact is its référent: ACME's dossiers are in that employer's scope.
        self.etab = db.session.execute(
            sa.select(Etablissement).join(Structure).where(Structure.raison_sociale == ACME)
            .order_by(Etablissement.id)).scalars().first()
        self.sequence = 0

    def pec(self, key, state, *, date_fin=FAR, date_complet=date(2026, 9, 1), items=()):
        """items: (nature, contract year, amount, due date, hors_echeancier, claims) with claims
        (state, deposit date, amount paid, payments [(date, amount)])."""
        dossier = Dossier(formation=self.formation, etablissement=self.etab, state="envoye_opco",
                          apprenti_email=f"dash-{key.lower()}@etu.sillon.demo",
                          apprenti_nom="Dashtest", apprenti_prenom=f"Cas {key}",
                          date_debut_contrat=date(2026, 9, 1), date_fin_contrat=date_fin)
        pec = PriseEnCharge(dossier=dossier, opco_code=None, numero_opco=f"DASH-{key}",
                            date_depot=date_complet, date_complet=date_complet, state=state,
                            state_date=date_complet, date_debut=date(2026, 9, 1),
                            date_fin=date_fin)
        db.session.add(pec)
        for rank, (nature, year, amount, due, hors, claims) in enumerate(items, 1):
            echeance = Echeance(prise_en_charge=pec, rang=rank, annee_contrat=year, nature=nature,
                                pourcentage=D(KINDS[nature]), montant=D(amount), date_prevue=due,
                                hors_echeancier=hors)
            db.session.add(echeance)
            for claim_state, deposited, paid, payments in claims:
                self.claim(pec, echeance, claim_state, deposited, paid, payments)
        db.session.flush()
        self.pecs.append(pec.id)
        self.ids[key] = dossier.id
        return pec

    def claim(self, pec, echeance, state, deposited, paid, payments):
        self.sequence += 1
        invoice = Facture(numero=f"FA-DASH-{self.year}-{self.sequence:04d}", annee=self.year,
                          sequence=self.sequence, destinataire="opco", prise_en_charge=pec,
                          montant=echeance.montant, date_emission=deposited or T,
                          date_echeance=(deposited or T) + timedelta(days=30))
        claim = DemandeRemboursement(prise_en_charge=pec, echeance=echeance, facture=invoice,
                                     montant=echeance.montant, state=state, deposee_le=deposited,
                                     montant_paye=D(paid))
        db.session.add(claim)
        for day, amount in payments:
            db.session.add(Paiement(demande=claim, date=day, montant=D(amount)))

    def cleanup(self):
        db.session.rollback()
        if self.pecs:
            claims = sa.select(DemandeRemboursement.id).where(
                DemandeRemboursement.prise_en_charge_id.in_(self.pecs))
            db.session.execute(sa.delete(Paiement).where(Paiement.demande_id.in_(claims)))
            for model in (DemandeRemboursement, Facture, Echeance):
                db.session.execute(sa.delete(model).where(model.prise_en_charge_id.in_(self.pecs)))
            db.session.execute(sa.delete(PriseEnCharge).where(PriseEnCharge.id.in_(self.pecs)))
            db.session.commit()
        db.session.expunge_all()
        drop_training_copies(self.app, self.copies)


def no_claim(nature, year, amount, due, hors=False):
    return (nature, year, amount, due, hors, [])


def claimed(nature, year, amount, due, *claims):
    return (nature, year, amount, due, False, list(claims))


def build(b: Builder):
    L = first_last_day_in_time(T)
    assert L == date(2026, 11, 15)
    b.pec("A", "accorde", items=[
        no_claim("avance", 1, "1000", date(2027, 2, 1)),          # due: expected 03/03 → mars
        claimed("mois7", 1, "200", date(2027, 3, 1),              # only rejected: still to claim
                ("rejetee", date(2027, 3, 5), 0, [])),            # expected 31/03 → mars
        claimed("mois10", 1, "30", date(2027, 3, 2),              # a draft brings no money yet
                ("brouillon", None, 0, [])),                      # expected 01/04 → avr.
        no_claim("solde", 1, "4", T),                             # due today: listed
        no_claim("avance", 2, "5000", T + timedelta(days=1)),     # due tomorrow: not listed
        no_claim("mois7", 2, "600", date(2028, 1, 30)),           # expected 29/02/2028: last month
        no_claim("mois10", 2, "70", date(2028, 1, 31)),           # expected 01/03/2028: too late
        no_claim("avance", 3, "8", date(2027, 1, 1), hors=True),  # out of the schedule
        no_claim("mois7", 3, "0", date(2027, 3, 1)),              # 0 €: nothing to claim
    ])
    b.pec("B", "accorde", items=[
        claimed("avance", 1, "10000", date(2026, 10, 1),
                ("payee", date(2026, 10, 5), "10000", [(date(2026, 11, 1), "10000")])),
        claimed("mois7", 1, "2000", date(2027, 2, 1),             # deposited 31 days ago
                ("deposee", date(2027, 2, 12), "500", [(date(2027, 2, 20), "500")])),
        claimed("mois10", 1, "300", date(2027, 2, 1),             # deposited 30 days ago
                ("deposee", date(2027, 2, 13), 0, [])),
        claimed("solde", 1, "40", date(2027, 3, 1), ("deposee", date(2027, 3, 10), 0, [])),
        claimed("avance", 2, "7", date(2026, 11, 1),              # rejected, then deposited again
                ("rejetee", date(2026, 11, 5), 0, []), ("deposee", date(2026, 12, 1), 0, [])),
        claimed("mois7", 2, "900", date(2026, 3, 1),
                ("payee", date(2026, 3, 2), "900",
                 [(date(2026, 3, 31), "400"), (date(2026, 4, 1), "500")])),
    ])
    b.pec("W", "en_attente", date_complet=date(2027, 1, 1), items=[
        no_claim("avance", 1, "50000", date(2027, 3, 20)),        # probable, expected 19/04
        no_claim("mois7", 1, "0.50", date(2027, 1, 1)),           # probable, late → mars
    ])
    b.pec("R", "recu", date_complet=T - timedelta(days=21), items=[
        no_claim("avance", 1, "0.05", date(2027, 5, 1)),          # probable, expected 31/05
    ])
    b.pec("I", "en_instruction", date_complet=date(2027, 1, 1))
    b.pec("R2", "recu", date_complet=T - timedelta(days=20))
    b.pec("X", "refuse", date_fin=T, items=[
        no_claim("avance", 1, "123456", date(2027, 2, 1)), no_claim("solde", 1, "654321", T)])
    b.pec("S1", "accorde", date_fin=T, items=[no_claim("solde", 1, "11", T)])
    b.pec("S2", "accorde", date_fin=T + timedelta(days=1),
          items=[no_claim("solde", 1, "22", T + timedelta(days=1))])
    b.pec("S3", "accorde", date_fin=L, items=[
        claimed("solde", 1, "33", L, ("rejetee", date(2026, 11, 20), 0, []))])
    b.pec("S4", "accorde", date_fin=L - timedelta(days=1),
          items=[no_claim("solde", 1, "44", L - timedelta(days=1))])
    b.pec("S5", "en_attente", date_fin=date(2027, 2, 1),
          items=[no_claim("solde", 1, "55", date(2027, 2, 1))])
    b.pec("S6", "accorde", date_fin=date(2027, 2, 1), items=[
        claimed("solde", 1, "66", date(2027, 2, 1),
                ("payee", date(2027, 2, 2), "66", [(date(2027, 2, 20), "66")]))])
    b.pec("S7", "accorde", date_fin=date(2027, 2, 1),
          items=[no_claim("solde", 1, "77", date(2027, 2, 1), hors=True)])
    b.pec("S8", "accorde", date_fin=date(2027, 2, 1),
          items=[no_claim("solde", 1, "0", date(2027, 2, 1))])  # 0 €: nothing to claim
    db.session.commit()


@pytest.fixture(scope="module")
def world(app):
    """(figures before, figures after, dossier ids by case) for the admin on T."""
    builder = None
    try:
        with app.app_context():
            before = dashboard(_user(CFA_ADMIN), T)
            builder = Builder(app)
            build(builder)
            after = dashboard(_user(CFA_ADMIN), T)
            ids = dict(builder.ids)
        yield before, after, ids
    finally:
        if builder is not None:
            with app.app_context():
                builder.cleanup()


def _mine(block, ids):
    names = {v: k for k, v in ids.items()}
    return [dict(row, case=names[row["dossier_id"]]) for row in block["rows"]
            if row["dossier_id"] in names]


def _label(year, nature):
    """The instalment's label as the model words it (Echeance.label)."""
    return Echeance(annee_contrat=year, nature=nature, pourcentage=D(KINDS[nature])).label


def _cash_delta(before, after, code):
    return [a[code] - b[code] for a, b in zip(after["cash"]["months"], before["cash"]["months"])]


def _by_month(values: dict) -> list:
    """{index: amount} → the 12 months' amounts."""
    return [D(values.get(k, 0)) for k in range(MONTHS)]


# --- 1. the cash ----------------------------------------------------------------------------------

def test_the_forecast_runs_over_this_month_and_the_eleven_next_in_french(world):
    _, after, _ = world
    labels = [m["label"] for m in after["cash"]["months"]]
    assert labels[:3] == ["mars 2027", "avr. 2027", "mai 2027"]
    assert labels[-1] == "févr. 2028" and len(labels) == MONTHS
    assert [month_label(date(2027, m, 1)) for m in (1, 2, 7, 8, 12)] == [
        "janv. 2027", "févr. 2027", "juil. 2027", "août 2027", "déc. 2027"]


def test_deposited_claims_are_expected_30_days_after_their_deposit_for_what_remains(world):
    before, after, _ = world
    # B2 1 500 left of 2 000 (14/03), B3 300 (15/03), B5 7 (late: 31/12/2026) → mars; B4 40
    # (09/04) → avr.; a rejected claim (B5's first) and paid ones bring nothing.
    assert _cash_delta(before, after, "deposees") == _by_month({0: "1807", 1: "40"})


def test_agreed_instalments_not_deposited_are_expected_30_days_after_their_due_date(world):
    before, after, _ = world
    # mars: A1 1 000 (03/03), A2 200 (31/03, its claim was rejected), S3 33 (late);
    # avr.: A3 30 (01/04, a draft), A4 4, A5 5 000, S1 11, S2 22; févr. 2028: A6 600 (29/02).
    # Not: A7 (01/03/2028, past the horizon), A8 and S7 (out of the schedule), S4 (balance
    # lost), deposited or paid instalments, the refused X.
    assert _cash_delta(before, after, "accordees") == _by_month(
        {0: "1233", 1: "5067", 11: "600"})


def test_instalments_waiting_for_a_decision_are_a_separate_probable_series(world):
    before, after, _ = world
    assert _cash_delta(before, after, "probables") == _by_month(
        {0: "55.50", 1: "50000", 2: "0.05"})
    totals = {k: after["cash"]["totals"][k] - before["cash"]["totals"][k]
              for k in ("deposees", "accordees", "certain", "probables", "total")}
    assert totals == {"deposees": D("1847"), "accordees": D("6900"), "certain": D("8747"),
                      "probables": D("50055.55"), "total": D("58802.55")}


def test_bar_heights_are_shares_of_the_highest_month(world):
    _, after, _ = world
    months = after["cash"]["months"]
    top = max(m["total"] for m in months)
    highest = next(m for m in months if m["total"] == top)
    assert sum(highest["pct"].values()) == pytest.approx(100, abs=0.2)
    for month in months:
        for code in ("deposees", "accordees", "probables"):
            assert month["pct"][code] == pytest.approx(float(month[code] * 100 / top), abs=0.06)


def test_payments_received_per_month_over_the_last_twelve(world):
    before, after, _ = world
    labels = [m["label"] for m in after["received"]["months"]]
    assert labels[0] == "avr. 2026" and labels[-1] == "mars 2027"
    delta = [a["amount"] - b["amount"] for a, b in
             zip(after["received"]["months"], before["received"]["months"])]
    # avr. 2026: B6's 500 of 01/04/2026 (its 400 of 31/03/2026 is 13 months ago); nov. 2026:
    # B1's 10 000; févr. 2027: B2's 500 and S6's 66.
    assert delta == _by_month({0: "500", 7: "10000", 10: "566"})
    assert after["received"]["total"] - before["received"]["total"] == D("11066")


# --- 2 to 5. what waits for the CFA ---------------------------------------------------------------

def _delta(before, after, name):
    b, a = before[name], after[name]
    total = None if a["total"] is None else a["total"] - b["total"]
    return a["count"] - b["count"], total


def test_claims_due_are_agreed_instalments_due_by_today_not_deposited(world):
    before, after, ids = world
    # Not: A5 and S2 (due tomorrow), A's 0 € year-3 instalment, A8 and S7 (out of the
    # schedule), S4 (lost), deposited or paid ones, those waiting for a decision, the refused X.
    assert _delta(before, after, "dues") == (6, D("1278"))
    rows = _mine(after["dues"], ids)
    assert sorted((r["case"], r["montant"]) for r in rows) == sorted([
        ("A", D("1000")), ("A", D("200")), ("A", D("30")), ("A", D("4")), ("S1", D("11")),
        ("S3", D("33"))])
    first = next(r for r in rows if r["montant"] == D("1000"))
    assert first["echeance"] == _label(1, "avance")
    assert first["echeance"].startswith("Année 1 – Avance (40")
    assert first["date_prevue"] == date(2027, 2, 1)
    assert first["apprenti"] == "DASHTEST Cas A" and first["employeur"]
    assert [r["date_prevue"] for r in after["dues"]["rows"]] == sorted(
        r["date_prevue"] for r in after["dues"]["rows"])


def test_unpaid_claims_are_those_deposited_more_than_30_days_ago(world):
    before, after, ids = world
    assert _delta(before, after, "unpaid") == (2, D("1507"))
    rows = {r["deposee_le"]: r for r in _mine(after["unpaid"], ids)}
    assert set(rows) == {date(2027, 2, 12), date(2026, 12, 1)}  # not 13/02/2027: 30 days
    b2 = rows[date(2027, 2, 12)]
    assert (b2["montant"], b2["reste"], b2["jours"]) == (D("2000"), D("1500"), 31)
    assert b2["facture"].startswith("FA-DASH-") and b2["echeance"] == _label(1, "mois7")


def test_late_decisions_are_received_or_examined_past_their_20_days(world):
    before, after, ids = world
    assert _delta(before, after, "decisions") == (2, None)
    rows = {r["case"]: r for r in _mine(after["decisions"], ids)}
    assert set(rows) == {"R", "I"}  # not R2 (20 days today), nor W (waiting for the CFA)
    assert rows["R"]["deadline"] == date(2027, 3, 14) and rows["R"]["numero_opco"] == "DASH-R"
    assert rows["I"]["deadline"] == date(2027, 1, 21) and rows["I"]["state"] == "En instruction"


def test_balances_at_risk_from_the_contracts_end_to_four_months_after(world):
    before, after, ids = world
    assert _delta(before, after, "balances") == (3, D("99"))
    rows = {r["case"]: r for r in _mine(after["balances"], ids)}
    # Not S2 (ends tomorrow), S4 (lost since yesterday), S6 (paid), S7 (out of the schedule),
    # S8 (0 €), X (refused), A's year-1 balance (the contract goes on).
    assert set(rows) == {"S1", "S3", "S5"}
    assert rows["S3"]["deadline"] == T and rows["S1"]["deadline"] == date(2027, 7, 15)
    assert rows["S5"]["state"] == "En attente : dossier incomplet"
    assert [r["case"] for r in _mine(after["balances"], ids)] == ["S3", "S5", "S1"]


def test_the_last_day_in_time_follows_the_rule_at_month_ends():
    from portal.rules.financing import balance_claim_deadline
    for today in (date(2027, 6, 30), date(2027, 2, 28), date(2028, 2, 29), date(2027, 7, 1)):
        first = first_last_day_in_time(today)
        assert balance_claim_deadline(first) >= today > balance_claim_deadline(
            first - timedelta(days=1))


# --- scope and statements -----------------------------------------------------------------------

def test_a_cfa_adviser_sees_the_same_figures(app, world):
    _, after, _ = world
    with app.app_context():
        assert dashboard(_user(CFA_CONSEIL), T) == after


def _nothing(figures, names=("dues", "unpaid", "decisions", "balances")):
    return (all(figures[name]["count"] == 0 for name in names)
            and figures["cash"]["totals"]["total"] == 0 and figures["received"]["total"] == 0)


@pytest.mark.parametrize("email", NO_FINANCING)
def test_trainings_staff_and_apprentices_get_no_figure_through_the_function(app, world, email):
    with app.app_context():
        assert _nothing(dashboard(_user(email), T))


def test_an_employer_gets_only_its_own_schedules_and_never_the_claims(app, world):
    """Should the function be called for an employer (the page refuses them), the policy's
    filters still hold: its dossiers' instalments (it will be billed), no claim, no payment."""
    _, _, ids = world
    with app.app_context():
        acme, globex = dashboard(_user(RH_ACME), T), dashboard(_user(RH_GLOBEX), T)
    assert {r["case"] for r in _mine(acme["dues"], ids)} == {"A", "S1", "S3"}
    assert acme["unpaid"]["count"] == 0 and acme["received"]["total"] == 0
    assert acme["cash"]["totals"]["deposees"] == 0
    assert not _mine(globex["dues"], ids) and not _mine(globex["balances"], ids)


def test_a_bounded_number_of_statements_whatever_the_rows(app, world):
    from sqlalchemy import event
    with app.app_context():
        seen = []

        def count(*args):
            seen.append(1)
        admin = _user(CFA_ADMIN)
        dashboard(admin, T)  # the person's roles loaded
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            dashboard(admin, T)
            with_rows = len(seen)
            seen.clear()
            dashboard(admin, date(2001, 1, 1))  # nothing due, nothing late
            without = len(seen)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
    assert with_rows == without == 11  # 3 grouped sums, 4 × (count, first rows)


# --- the page -------------------------------------------------------------------------------------

@pytest.mark.parametrize("email", OTHERS)
def test_the_page_is_refused_to_everyone_but_cfa_staff(login, email):
    assert login(email).get(URL).status_code == 403


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    response = client.get(URL)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.fixture()
def today_world(app):
    """One agreed prise en charge with an instalment due ten days ago, on the real today."""
    today = date.today()
    with app.app_context():
        builder = Builder(app, year=2092)
        try:
            builder.pec("HTTP", "accorde", items=[
                no_claim("avance", 1, "1234.56", today - timedelta(days=10)),
                claimed("mois7", 1, "98765.40", today - timedelta(days=60),
                        ("deposee", today - timedelta(days=45), "0", []))])
            db.session.commit()
            yield builder.ids["HTTP"]
        finally:
            builder.cleanup()


@pytest.mark.parametrize("email", [CFA_ADMIN, CFA_CONSEIL])
def test_the_page_shows_the_figures_in_french_with_links_to_the_financing_tab(login, email,
                                                                            today_world):
    response = login(email).get(URL)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    link = f'href="/admin/dossier/{today_world}/financement/"'
    dues = page[page.index('id="fin-dues"'):page.index('id="fin-unpaid"')]
    unpaid = page[page.index('id="fin-unpaid"'):page.index('id="fin-decisions"')]
    assert link in dues and eur(D("1234.56")) in dues and "1\u00a0234,56\u00a0€" in dues
    assert "DASHTEST Cas HTTP" in dues and _label(1, "avance") in dues
    assert link in unpaid and eur(D("98765.40")) in unpaid and "(il y a 45 jours)" in unpaid
    assert (date.today() - timedelta(days=10)).strftime("%d/%m/%Y") in dues
    chart = page[page.index('class="fin-chart"'):page.index('id="fin-cash-table"')]
    assert month_label(date.today()) in chart and "aria-label" in chart
    assert re.search(r'style="height: [\d.]+%"', chart)
    assert "<script" not in page[page.index("Tableau de bord financier"):
                                 page.index('id="fin-received"')]
    table = page[page.index('id="fin-cash-table"'):page.index('id="fin-received"')]
    assert month_label(date.today()) in table and "€" in table
    assert 'href="/admin/financement/tableau-de-bord/"' in page  # in the menu


@pytest.mark.browser
def test_the_chart_draws_in_chromium_without_breaking_the_csp(live_server, browser, today_world,
                                                               screenshots_dir):
    """The bars are sized by style attributes only (CSP: style-src-attr): chromium draws them,
    reports no violation, and the current month's bar is as high as its share."""
    context = browser.new_context(locale="fr-FR")
    violations = []
    context.expose_binding("__sillonCsp", lambda source, v: violations.append(v))
    context.add_init_script(REPORT_VIOLATIONS)
    page = context.new_page()
    page.on("console", lambda m: violations.append(m.text)
            if "Content Security Policy" in m.text else None)
    try:
        browser_login(page, live_server, CFA_ADMIN)
        page.goto(live_server + URL)
        page.wait_for_load_state("networkidle")
        bars = page.locator("ol.fin-chart li.fin-col")
        assert bars.count() == MONTHS
        heights = [bars.nth(k).locator(".fin-bar").bounding_box()["height"]
                   for k in range(MONTHS)]
        segments = [sum(s.bounding_box()["height"] for s in bars.nth(k).locator(".fin-seg").all())
                    for k in range(MONTHS)]
        assert max(segments) == pytest.approx(max(heights), abs=2)  # the highest month fills it
        assert page.locator(".fin-deposees").first.evaluate(
            "e => getComputedStyle(e).backgroundColor") != "rgba(0, 0, 0, 0)"  # finance.css
        page.screenshot(path=str(screenshots_dir / "finance-dashboard.png"), full_page=True)
        assert violations == []
    finally:
        context.close()
