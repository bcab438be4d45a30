"""portal.rules.financing: OPCO payment schedule, participation, deadlines, frais annexes (pure).

Every expected figure below is worked out by hand (days counted month by month, NPEC × days ÷
365, then 40/30/20/10 or 40/30/30 rounded half up, the last instalment taking the rest)."""
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.rules import ERROR
from portal.rules.dates import add_months
from portal.rules.financing import (LAST_DAY, REGIME_CHANGE, SCHEDULE_TABLE, Instalment,
                                    balance_at_risk, balance_claim_deadline, balance_lost,
                                    claim_needs_certificate, contract_years, decision_deadline,
                                    decision_overdue, distance_factor, employer_remainder,
                                    frais_annexes_findings, frais_annexes_total,
                                    participation_due, payment_schedule, regime, regime_label,
                                    year_amounts)

D = date.fromisoformat
M = Decimal
NEW_CONCLUDED, OLD_CONCLUDED = "2025-08-01", "2024-07-15"


def rows(schedule):
    return [(i.contract_year, i.kind, str(i.due), str(i.amount)) for i in schedule]


SCHEDULES = {
    "new_full_two_years": (
        dict(concluded=NEW_CONCLUDED, start="2025-09-01", end="2027-08-31", npec="8000"), [
            (1, "avance", "2025-09-01", "3200.00"), (1, "mois7", "2026-03-01", "2400.00"),
            (1, "mois10", "2026-06-01", "1600.00"), (1, "solde", "2026-08-31", "800.00"),
            (2, "avance", "2026-09-01", "3200.00"), (2, "mois7", "2027-03-01", "2400.00"),
            (2, "mois10", "2027-06-01", "1600.00"), (2, "solde", "2027-08-31", "800.00")]),
    # year 2: 15/09/2026 → 30/06/2027 = 16+31+30+31+31+28+31+30+31+30 = 289 days;
    # 7000 × 289 / 365 = 5542.4657… → 5542.47
    "new_partial_last_year": (
        dict(concluded=NEW_CONCLUDED, start="2025-09-15", end="2027-06-30", npec="7000"), [
            (1, "avance", "2025-09-15", "2800.00"), (1, "mois7", "2026-03-15", "2100.00"),
            (1, "mois10", "2026-06-15", "1400.00"), (1, "solde", "2026-09-14", "700.00"),
            (2, "avance", "2026-09-15", "2216.99"), (2, "mois7", "2027-03-15", "1662.74"),
            (2, "mois10", "2027-06-15", "1108.49"), (2, "solde", "2027-06-30", "554.25")]),
    "old_full_two_years": (
        dict(concluded=OLD_CONCLUDED, start="2024-09-01", end="2026-08-31", npec="8000"), [
            (1, "avance", "2024-09-01", "3200.00"), (1, "mois7", "2025-03-01", "2400.00"),
            (1, "mois10", "2025-06-01", "2400.00"),
            (2, "avance", "2025-09-01", "3200.00"), (2, "mois7", "2026-03-01", "2400.00"),
            (2, "mois10", "2026-06-01", "2400.00")]),
    # year 2: 01/09/2025 → 30/06/2026 = 303 days; 9000 × 303 / 365 = 7471.2328… → 7471.23
    "old_partial_last_year": (
        dict(concluded=OLD_CONCLUDED, start="2024-09-01", end="2026-06-30", npec="9000"), [
            (1, "avance", "2024-09-01", "3600.00"), (1, "mois7", "2025-03-01", "2700.00"),
            (1, "mois10", "2025-06-01", "2700.00"),
            (2, "avance", "2025-09-01", "2988.49"), (2, "mois7", "2026-03-01", "2241.37"),
            (2, "mois10", "2026-06-01", "2241.37")]),
    # under one year, old regime: 01/09/2024 → 30/06/2025 = 303 days → 7471.23, 50 / 50
    "old_under_one_year": (
        dict(concluded=OLD_CONCLUDED, start="2024-09-01", end="2025-06-30", npec="9000"), [
            (1, "avance", "2024-09-01", "3735.62"), (1, "solde", "2025-06-30", "3735.61")]),
    # under one year, new regime: 181 days × 20 €/day (7300 / 365) = 3620; dates capped
    "new_under_one_year": (
        dict(concluded="2025-08-20", start="2025-09-01", end="2026-02-28", npec="7300"), [
            (1, "avance", "2025-09-01", "1448.00"), (1, "mois7", "2026-02-28", "1086.00"),
            (1, "mois10", "2026-02-28", "724.00"), (1, "solde", "2026-02-28", "362.00")]),
    "participation_from_advance": (
        dict(concluded=NEW_CONCLUDED, start="2025-09-01", end="2027-08-31", npec="8000",
             participation="750"), [
            (1, "avance", "2025-09-01", "2450.00"), (1, "mois7", "2026-03-01", "2400.00"),
            (1, "mois10", "2026-06-01", "1600.00"), (1, "solde", "2026-08-31", "800.00"),
            (2, "avance", "2026-09-01", "3200.00"), (2, "mois7", "2027-03-01", "2400.00"),
            (2, "mois10", "2027-06-01", "1600.00"), (2, "solde", "2027-08-31", "800.00")]),
    # advance 600 < 750: advance 0, the remaining 150 off the 450 of month 7
    "participation_above_advance": (
        dict(concluded=NEW_CONCLUDED, start="2025-09-01", end="2026-08-31", npec="1500",
             participation="750"), [
            (1, "avance", "2025-09-01", "0.00"), (1, "mois7", "2026-03-01", "300.00"),
            (1, "mois10", "2026-06-01", "300.00"), (1, "solde", "2026-08-31", "150.00")]),
    # year 1 is only 500: everything at 0, nothing carried to year 2
    "participation_above_year_one": (
        dict(concluded=NEW_CONCLUDED, start="2025-09-01", end="2027-08-31", npec="500",
             participation="750"), [
            (1, "avance", "2025-09-01", "0.00"), (1, "mois7", "2026-03-01", "0.00"),
            (1, "mois10", "2026-06-01", "0.00"), (1, "solde", "2026-08-31", "0.00"),
            (2, "avance", "2026-09-01", "200.00"), (2, "mois7", "2027-03-01", "150.00"),
            (2, "mois10", "2027-06-01", "100.00"), (2, "solde", "2027-08-31", "50.00")]),
    "participation_old_regime": (
        dict(concluded=OLD_CONCLUDED, start="2024-09-01", end="2025-08-31", npec="8000",
             participation="100"), [
            (1, "avance", "2024-09-01", "3100.00"), (1, "mois7", "2025-03-01", "2400.00"),
            (1, "mois10", "2025-06-01", "2400.00")]),
    "distance_80_percent": (
        dict(concluded=NEW_CONCLUDED, start="2025-09-01", end="2026-08-31", npec="10000",
             distance_share="0.80"), [
            (1, "avance", "2025-09-01", "3200.00"), (1, "mois7", "2026-03-01", "2400.00"),
            (1, "mois10", "2026-06-01", "1600.00"), (1, "solde", "2026-08-31", "800.00")]),
    "distance_79_percent": (
        dict(concluded=NEW_CONCLUDED, start="2025-09-01", end="2026-08-31", npec="10000",
             distance_share="0.79"), [
            (1, "avance", "2025-09-01", "4000.00"), (1, "mois7", "2026-03-01", "3000.00"),
            (1, "mois10", "2026-06-01", "2000.00"), (1, "solde", "2026-08-31", "1000.00")]),
    # year 2 cut at 15/01/2027: 30+31+30+31+15 = 137 days; 8000 × 137 / 365 = 3002.7397… →
    # 3002.74; months 7 and 10 fall on the rupture
    "rupture_in_year_two": (
        dict(concluded=NEW_CONCLUDED, start="2025-09-01", end="2027-08-31", npec="8000",
             rupture="2027-01-15"), [
            (1, "avance", "2025-09-01", "3200.00"), (1, "mois7", "2026-03-01", "2400.00"),
            (1, "mois10", "2026-06-01", "1600.00"), (1, "solde", "2026-08-31", "800.00"),
            (2, "avance", "2026-09-01", "1201.10"), (2, "mois7", "2027-01-15", "900.82"),
            (2, "mois10", "2027-01-15", "600.55"), (2, "solde", "2027-01-15", "300.27")]),
    # year 2 dropped; year 1 cut at 30/11/2025: 91 days; 8000 × 91 / 365 = 1994.5205… → 1994.52
    "rupture_in_year_one": (
        dict(concluded=NEW_CONCLUDED, start="2025-09-01", end="2027-08-31", npec="8000",
             rupture="2025-11-30"), [
            (1, "avance", "2025-09-01", "797.81"), (1, "mois7", "2025-11-30", "598.36"),
            (1, "mois10", "2025-11-30", "398.90"), (1, "solde", "2025-11-30", "199.45")]),
    "rupture_after_end_ignored": (
        dict(concluded=NEW_CONCLUDED, start="2025-09-01", end="2026-08-31", npec="8000",
             rupture="2026-09-30"), [
            (1, "avance", "2025-09-01", "3200.00"), (1, "mois7", "2026-03-01", "2400.00"),
            (1, "mois10", "2026-06-01", "1600.00"), (1, "solde", "2026-08-31", "800.00")]),
    # old regime: the rupture leaves a contract under one year (start → last day): 50 / 50;
    # 01/09 → 31/12/2024 = 122 days × 20 € = 2440
    "old_rupture_under_one_year": (
        dict(concluded=OLD_CONCLUDED, start="2024-09-01", end="2026-08-31", npec="7300",
             rupture="2024-12-31"), [
            (1, "avance", "2024-09-01", "1220.00"), (1, "solde", "2024-12-31", "1220.00")]),
    # 01/09/2027 → 31/08/2028 holds 29/02/2028: 366 days, still one NPEC
    "leap_full_year": (
        dict(concluded="2027-05-01", start="2027-09-01", end="2028-08-31", npec="5000"), [
            (1, "avance", "2027-09-01", "2000.00"), (1, "mois7", "2028-03-01", "1500.00"),
            (1, "mois10", "2028-06-01", "1000.00"), (1, "solde", "2028-08-31", "500.00")]),
    # partial leap year 01/09/2027 → 31/03/2028 = 30+31+30+31+31+29+31 = 213 days ÷ 365:
    # 6000 × 213 / 365 = 3501.3698… → 3501.37
    "leap_partial_year": (
        dict(concluded="2027-05-01", start="2027-09-01", end="2028-03-31", npec="6000"), [
            (1, "avance", "2027-09-01", "1400.55"), (1, "mois7", "2028-03-01", "1050.41"),
            (1, "mois10", "2028-03-31", "700.27"), (1, "solde", "2028-03-31", "350.14")]),
    # 31/08 + 6 months clamps to 28/02 (29/02 in 2028), + 9 months to 31/05
    "month_clamping": (
        dict(concluded=NEW_CONCLUDED, start="2026-08-31", end="2028-08-30", npec="1000"), [
            (1, "avance", "2026-08-31", "400.00"), (1, "mois7", "2027-02-28", "300.00"),
            (1, "mois10", "2027-05-31", "200.00"), (1, "solde", "2027-08-30", "100.00"),
            (2, "avance", "2027-08-31", "400.00"), (2, "mois7", "2028-02-29", "300.00"),
            (2, "mois10", "2028-05-31", "200.00"), (2, "solde", "2028-08-30", "100.00")]),
    # 33.35: 13.34 + 10.01 (10.005 half up) + 6.67 = 30.02, the balance takes 3.33 (not 3.34)
    "rounding_absorbed_by_balance": (
        dict(concluded=NEW_CONCLUDED, start="2025-09-01", end="2026-08-31", npec="33.35"), [
            (1, "avance", "2025-09-01", "13.34"), (1, "mois7", "2026-03-01", "10.01"),
            (1, "mois10", "2026-06-01", "6.67"), (1, "solde", "2026-08-31", "3.33")]),
    # 10.01: 4.00 + 3.00, the last 30 % takes 3.01
    "rounding_absorbed_old_regime": (
        dict(concluded=OLD_CONCLUDED, start="2024-09-01", end="2025-08-31", npec="10.01"), [
            (1, "avance", "2024-09-01", "4.00"), (1, "mois7", "2025-03-01", "3.00"),
            (1, "mois10", "2025-06-01", "3.01")]),
    "regime_boundary_30_june": (
        dict(concluded="2025-06-30", start="2025-09-01", end="2026-08-31", npec="1000"), [
            (1, "avance", "2025-09-01", "400.00"), (1, "mois7", "2026-03-01", "300.00"),
            (1, "mois10", "2026-06-01", "300.00")]),
    "regime_boundary_1_july": (
        dict(concluded="2025-07-01", start="2025-09-01", end="2026-08-31", npec="1000"), [
            (1, "avance", "2025-09-01", "400.00"), (1, "mois7", "2026-03-01", "300.00"),
            (1, "mois10", "2026-06-01", "200.00"), (1, "solde", "2026-08-31", "100.00")]),
}


def call(args):
    kwargs = {}
    for key, value in args.items():
        kwargs[key] = D(value) if key in ("concluded", "start", "end", "rupture") else M(value)
    return payment_schedule(**kwargs)


@pytest.mark.parametrize("args, expected", SCHEDULES.values(), ids=SCHEDULES.keys())
def test_payment_schedule(args, expected):
    assert rows(call(args)) == expected


def test_instalment_fields_and_labels():
    first = call(SCHEDULES["new_full_two_years"][0])[0]
    assert first == Instalment(1, "avance", M("40"), D("2025-09-01"), M("3200.00"))
    assert first.label == "Avance (40\u00a0%)"
    assert first.full_label == "Année 1 – Avance (40\u00a0%)"
    labels = [i.label for i in call(SCHEDULES["new_full_two_years"][0])[:4]]
    assert labels == ["Avance (40\u00a0%)", "Mois 7 (30\u00a0%)", "Mois 10 (20\u00a0%)",
                      "Solde (10\u00a0%)"]
    assert call(SCHEDULES["old_under_one_year"][0])[1].label == "Solde (50\u00a0%)"


@pytest.mark.parametrize("args, message", [
    (dict(end="2025-08-31"), "précède son début"),
    (dict(npec="-1"), "NPEC"),
    (dict(participation="-750"), "participation"),
    (dict(rupture="2025-08-31"), "rupture"),
    (dict(distance_share="-0.1"), "distance"),
    (dict(distance_share="1.01"), "distance"),
    (dict(end="2029-09-01"), "plus de 4 ans"),
], ids=["end_before_start", "negative_npec", "negative_participation", "rupture_before_start",
        "distance_below_0", "distance_above_1", "over_four_years"])
def test_payment_schedule_rejects_nonsense(args, message):
    base = dict(concluded=NEW_CONCLUDED, start="2025-09-01", end="2027-08-31", npec="8000")
    with pytest.raises(ValueError, match=message):
        call({**base, **args})


@pytest.mark.parametrize("start, last, message", [
    ("2025-09-01", "2025-08-31", "La fin du contrat \\(31/08/2025\\) précède son début"),
    ("2025-09-01", "2029-09-01", "plus de 4 ans"),
])
def test_contract_years_rejects_nonsense(start, last, message):
    with pytest.raises(ValueError, match=message):
        contract_years(D(start), D(last))


def test_four_years_exactly_is_accepted():
    assert [y for y, _ in year_amounts(start=D("2025-09-01"), end=D("2029-08-31"),
                                       npec=M("1000"))] == [1, 2, 3, 4]


@pytest.mark.parametrize("start, last, expected", [
    ("2027-09-01", "2029-08-31", [(1, "2027-09-01", "2028-08-31", 366),
                                  (2, "2028-09-01", "2029-08-31", 365)]),
    ("2025-09-15", "2027-06-30", [(1, "2025-09-15", "2026-09-14", 365),
                                  (2, "2026-09-15", "2027-06-30", 289)]),
    ("2028-02-29", "2029-03-31", [(1, "2028-02-29", "2029-02-27", 365),
                                  (2, "2029-02-28", "2029-03-31", 32)]),
    ("2025-09-01", "2025-09-01", [(1, "2025-09-01", "2025-09-01", 1)]),
    ("2025-09-01", "2026-09-01", [(1, "2025-09-01", "2026-08-31", 365),
                                  (2, "2026-09-01", "2026-09-01", 1)]),
], ids=["leap_year_first", "partial_second", "start_on_29_february", "one_day",
        "one_year_and_a_day"])
def test_contract_years(start, last, expected):
    assert contract_years(D(start), D(last)) == [
        (k, D(first), D(end), days) for k, first, end, days in expected]


@pytest.mark.parametrize("start, end, expected", [
    ("2027-09-01", "2029-08-31", ["5000.00", "5000.00"]),        # 366 then 365 days
    ("2027-09-01", "2028-08-30", ["5000.00"]),                   # 365 of 366 days: 365 / 365
    ("2027-09-01", "2028-08-29", ["4986.30"]),                   # 5000 × 364 / 365 = 4986.301…
    ("2025-09-01", "2025-09-01", ["13.70"]),                     # 5000 / 365 = 13.698…
], ids=["leap_year_is_one_npec", "leap_year_less_a_day", "leap_year_less_two_days",
        "one_day"])
def test_year_amounts(start, end, expected):
    assert [str(a) for _, a in year_amounts(start=D(start), end=D(end), npec=M("5000"))] \
        == expected


@pytest.mark.parametrize("share, expected", [
    ("0", "1"), ("0.79", "1"), ("0.7999", "1"), ("0.8", "0.8"), ("1", "0.8"),
])
def test_distance_factor(share, expected):
    assert distance_factor(M(share)) == M(expected)


@pytest.mark.parametrize("share", ["-0.01", "1.5"])
def test_distance_factor_out_of_range(share):
    with pytest.raises(ValueError, match="entre 0 et 1"):
        distance_factor(M(share))


@pytest.mark.parametrize("concluded, expected", [
    ("2025-06-30", "avant_2025"), ("2025-07-01", "2025"), ("2019-01-01", "avant_2025"),
    ("2030-01-01", "2025"),
])
def test_regime(concluded, expected):
    assert regime(D(concluded)) == expected


def test_regime_labels_and_table():
    assert REGIME_CHANGE == D("2025-07-01")
    assert regime_label(D("2025-07-01")) == \
        "Contrat conclu à partir du 01/07/2025 (décret 2025-585)"
    assert regime_label(D("2025-06-30")) == "Contrat conclu avant le 01/07/2025"
    assert [(k, str(p), o) for k, p, o in SCHEDULE_TABLE["2025"]] == [
        ("avance", "40", 0), ("mois7", "30", 6), ("mois10", "20", 9), ("solde", "10", LAST_DAY)]
    assert [(k, str(p), o) for k, p, o in SCHEDULE_TABLE["avant_2025"]] == [
        ("avance", "40", 0), ("mois7", "30", 6), ("mois10", "30", 9)]
    for table in SCHEDULE_TABLE.values():
        assert sum(p for _, p, _ in table) == 100


@pytest.mark.parametrize("concluded, level, public, expected", [
    ("2025-07-01", 6, False, "750"), ("2025-09-01", 7, False, "750"),
    ("2025-06-30", 6, False, "0"), ("2025-09-01", 5, False, "0"),
    ("2025-09-01", None, False, "0"), ("2025-09-01", 7, True, "0"),
    ("2025-09-01", 3, False, "0"),
], ids=["level_6_first_day", "level_7", "before_july_2025", "level_5", "level_unknown",
        "public_employer", "level_3"])
def test_participation_due(concluded, level, public, expected):
    assert participation_due(concluded=D(concluded), level=level,
                             employer_public=public) == M(expected)


@pytest.mark.parametrize("price, coverage, participation, expected", [
    ("9500", "8000", "750", "2250.00"), ("7000", "8000", "750", "750.00"),
    (None, "8000", "750", "750.00"), ("9500.50", "8000", "0", "1500.50"),
    ("8000", "8000", "0", "0.00"),
], ids=["above_coverage", "below_coverage", "no_price", "no_participation", "exact"])
def test_employer_remainder(price, coverage, participation, expected):
    assert employer_remainder(price=None if price is None else M(price), coverage=M(coverage),
                              participation=M(participation)) == M(expected)


@pytest.mark.parametrize("deposit, expected", [
    ("2025-09-01", "2025-09-21"), ("2025-12-20", "2026-01-09"), ("2028-02-20", "2028-03-11"),
])
def test_decision_deadline(deposit, expected):
    assert decision_deadline(D(deposit)) == D(expected)


@pytest.mark.parametrize("decided, today, expected", [
    (False, "2025-09-21", False), (False, "2025-09-22", True), (True, "2025-12-01", False),
    (False, "2025-09-01", False),
], ids=["deadline_day", "day_after", "decided", "deposit_day"])
def test_decision_overdue(decided, today, expected):
    assert decision_overdue(D("2025-09-01"), decided, D(today)) is expected


@pytest.mark.parametrize("last, expected", [
    ("2026-08-31", "2026-12-31"), ("2026-10-31", "2027-02-28"), ("2027-10-31", "2028-02-29"),
])
def test_balance_claim_deadline(last, expected):
    assert balance_claim_deadline(D(last)) == D(expected)


@pytest.mark.parametrize("today, claimed, at_risk, lost", [
    ("2026-08-30", False, False, False), ("2026-08-31", False, True, False),
    ("2026-12-31", False, True, False), ("2027-01-01", False, False, True),
    ("2026-10-01", True, False, False), ("2027-01-01", True, False, False),
], ids=["before_end", "last_day", "deadline_day", "after_deadline", "claimed", "claimed_late"])
def test_balance_at_risk_and_lost(today, claimed, at_risk, lost):
    assert balance_at_risk(D("2026-08-31"), D(today), claimed) is at_risk
    assert balance_lost(D("2026-08-31"), D(today), claimed) is lost


@pytest.mark.parametrize("kind, year, expected", [
    ("avance", 1, False), ("avance", 2, True), ("mois7", 1, True), ("mois10", 1, True),
    ("solde", 1, True), ("solde", 3, True),
])
def test_claim_needs_certificate(kind, year, expected):
    assert claim_needs_certificate(kind, year) is expected


def test_claim_needs_certificate_unknown_kind():
    with pytest.raises(ValueError, match="inconnue"):
        claim_needs_certificate("acompte", 1)


CEILINGS = {"premier_equipement": M("500"), "hebergement_nuit": M("6"),
            "restauration_repas": M("3")}
NO_FRAIS = dict(equipement=None, nuits=None, repas=None, montant_hebergement=None,
                montant_restauration=None)
N = "\u00a0"


@pytest.mark.parametrize("frais, expected", [
    ({}, []),
    (dict(equipement=M("500"), nuits=10, montant_hebergement=M("60"), repas=20,
          montant_restauration=M("60")), []),
    (dict(equipement=M("500.01")), [
        ("equipement", f"Le premier équipement est plafonné à 500,00{N}€ par contrat.")]),
    (dict(nuits=10, montant_hebergement=M("80")), [
        ("montant_hebergement", f"L'hébergement est plafonné à 6,00{N}€ par nuit : 10 nuits, "
                                f"soit 60,00{N}€ au plus (montant saisi : 80,00{N}€).")]),
    (dict(repas=1, montant_restauration=M("3.50")), [
        ("montant_restauration", f"La restauration est plafonnée à 3,00{N}€ par repas : "
                                 f"1 repas, soit 3,00{N}€ au plus (montant saisi : "
                                 f"3,50{N}€).")]),
    (dict(montant_hebergement=M("12")), [
        ("nuits", f"Indiquez le nombre de nuits pour le montant de 12,00{N}€.")]),
    (dict(repas=0, montant_restauration=M("9")), [
        ("repas", f"Indiquez le nombre de repas pour le montant de 9,00{N}€.")]),
    (dict(equipement=M("-1"), nuits=-2), [
        ("equipement", "Le premier équipement ne peut pas être négatif."),
        ("nuits", "Le nombre de nuits ne peut pas être négatif.")]),
], ids=["nothing", "at_the_ceilings", "equipment_above", "nights_above", "meals_above",
        "nights_missing", "meals_zero", "negative"])
def test_frais_annexes_findings(frais, expected):
    findings = frais_annexes_findings(**{**NO_FRAIS, **frais}, ceilings=CEILINGS)
    assert [(f.field, f.message) for f in findings] == expected
    assert all(f.level == ERROR for f in findings)


@pytest.mark.parametrize("frais, expected", [
    ({}, "0.00"),
    (dict(equipement=M("650"), nuits=10, montant_hebergement=M("80"), repas=20,
          montant_restauration=M("40")), "600.00"),                  # 500 + 60 + 40
    (dict(equipement=M("120.50"), nuits=3, repas=5), "153.50"),       # 120.50 + 18 + 15 flat
    (dict(montant_hebergement=M("50"), montant_restauration=M("9")), "0.00"),  # no counts
], ids=["nothing", "capped", "flat_rates", "amounts_without_counts"])
def test_frais_annexes_total(frais, expected):
    assert frais_annexes_total(**{**NO_FRAIS, **frais}, ceilings=CEILINGS) == M(expected)


def test_frais_annexes_guards():
    with pytest.raises(ValueError, match="négatifs"):
        frais_annexes_total(**{**NO_FRAIS, "repas": -1}, ceilings=CEILINGS)
    with pytest.raises(ValueError, match="restauration_repas"):
        frais_annexes_findings(**NO_FRAIS, ceilings={"premier_equipement": M("500"),
                                                     "hebergement_nuit": M("6")})


# -- Properties over generated contracts (expected amounts computed independently) ------------

def expected_year_amounts(start, last, npec, factor):
    """NPEC × factor × days ÷ 365 per contract year, a whole year counting as one NPEC."""
    amounts, k = [], 1
    while add_months(start, 12 * (k - 1)) <= last:
        first = add_months(start, 12 * (k - 1))
        nominal_last = add_months(start, 12 * k) - timedelta(days=1)
        days = (min(nominal_last, last) - first).days + 1
        value = npec * factor if nominal_last <= last else npec * factor * days / 365
        amounts.append(value.quantize(M("0.01"), rounding="ROUND_HALF_UP"))
        k += 1
    return amounts


@settings(max_examples=300, deadline=None)
@given(concluded=st.dates(date(2023, 1, 1), date(2027, 12, 31)),
       start=st.dates(date(2023, 1, 1), date(2030, 12, 31)),
       length=st.integers(0, 4 * 365), cut=st.one_of(st.none(), st.integers(0, 4 * 365)),
       cents=st.integers(0, 3_000_000), participation=st.sampled_from(["0", "200", "750"]),
       share=st.sampled_from(["0", "0.5", "0.79", "0.8", "1"]))
def test_every_year_sums_exactly(concluded, start, length, cut, cents, participation, share):
    end = start + timedelta(days=length)
    rupture = None if cut is None else start + timedelta(days=cut)
    npec, part = M(cents) / 100, M(participation)
    schedule = payment_schedule(concluded=concluded, start=start, end=end, npec=npec,
                                distance_share=M(share), participation=part, rupture=rupture)
    last = min(end, rupture) if rupture else end
    factor = M("0.8") if M(share) >= M("0.8") else M("1")
    expected = expected_year_amounts(start, last, npec, factor)
    assert sorted({i.contract_year for i in schedule}) == list(range(1, len(expected) + 1))
    for year, amount in enumerate(expected, start=1):
        paid = sum(i.amount for i in schedule if i.contract_year == year)
        assert paid == (max(amount - part, M("0")) if year == 1 else amount)
    for instalment in schedule:
        assert instalment.amount >= 0 and instalment.amount == instalment.amount.quantize(M("0.01"))
        assert start <= instalment.due <= last
    assert [(i.contract_year, i.due) for i in schedule] == \
        sorted((i.contract_year, i.due) for i in schedule)
