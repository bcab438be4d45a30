"""portal.rules.remuneration (RULES.md §1–§2), pure: no Flask app needed."""
from datetime import date, timedelta
from decimal import Decimal

import pytest

from portal.rules import ERROR
from portal.rules.dates import add_months
from portal.rules.reference import load_from_csv
from portal.rules.remuneration import (EnteredPeriod, RemunerationPeriod, minimum_schedule,
                                       remuneration_findings)

D = date.fromisoformat
NBSP = "\u00a0"


@pytest.fixture(scope="module")
def ref():
    return load_from_csv()


def lines(periods):
    """Periods as compact tuples: (start, end, year, percent, base, amount)."""
    return [(p.start.isoformat(), p.end.isoformat(), p.contract_year, str(p.percent), p.base,
             str(p.monthly_amount)) for p in periods]


# --- RULES.md check values (SMIC 1 823,03 € from 2026-01-01) -----------------------------------

@pytest.mark.parametrize("birth, start, end, index, percent, amount", [
    ("2009-06-01", "2026-01-01", "2026-12-31", 0, "27", "492.22"),
    ("2007-06-01", "2026-01-01", "2026-12-31", 0, "43", "783.90"),
    ("2004-06-01", "2026-01-01", "2026-12-31", 0, "53", "966.21"),
    ("2003-06-01", "2025-01-01", "2026-12-31", 1, "61", "1112.05"),
    ("2002-06-01", "2024-01-01", "2026-12-31", 2, "78", "1421.96"),
], ids=["27pct_492.22", "43pct_783.90", "53pct_966.21", "61pct_1112.05", "78pct_1421.96"])
def test_rules_check_values(ref, birth, start, end, index, percent, amount):
    period = minimum_schedule(D(birth), D(start), D(end), reference=ref)[index]
    assert period.start == D("2026-01-01")
    assert (period.percent, period.base, period.monthly_amount) == \
        (Decimal(percent), "SMIC", Decimal(amount))


# --- apprenticeship schedules ------------------------------------------------------------------

@pytest.mark.parametrize("birth, start, end, kwargs, expected", [
    # turning 18 mid-year: the new band from the 1st of the following month
    ("2008-05-15", "2026-01-01", "2027-12-31", {}, [
        ("2026-01-01", "2026-05-31", 1, "27", "SMIC", "492.22"),
        ("2026-06-01", "2026-12-31", 1, "43", "SMIC", "783.90"),
        ("2027-01-01", "2027-12-31", 2, "51", "SMIC", "929.75")]),
    # birthday on the 1st of a month: still the 1st of the FOLLOWING month
    ("2008-03-01", "2025-09-01", "2027-08-31", {}, [
        ("2025-09-01", "2026-03-31", 1, "27", "SMIC", "486.49"),
        ("2026-04-01", "2026-08-31", 1, "43", "SMIC", "783.90"),
        ("2026-09-01", "2027-08-31", 2, "51", "SMIC", "929.75")]),
    # 18th birthday on the first day of year 2: no split, year 2 starts in the new band
    ("2008-09-01", "2025-09-01", "2027-08-31", {}, [
        ("2025-09-01", "2026-08-31", 1, "27", "SMIC", "486.49"),
        ("2026-09-01", "2027-08-31", 2, "51", "SMIC", "929.75")]),
    # birthday late in year 1, the 1st of next month falls on year 2's first day: no split
    ("2008-08-20", "2025-09-01", "2027-08-31", {}, [
        ("2025-09-01", "2026-08-31", 1, "27", "SMIC", "486.49"),
        ("2026-09-01", "2027-08-31", 2, "51", "SMIC", "929.75")]),
    # the 1st of next month falls a few days before the end of year 1: a short 2nd period
    ("2008-08-25", "2025-09-05", "2027-09-04", {}, [
        ("2025-09-05", "2026-08-31", 1, "27", "SMIC", "486.49"),
        ("2026-09-01", "2026-09-04", 1, "43", "SMIC", "783.90"),
        ("2026-09-05", "2027-09-04", 2, "51", "SMIC", "929.75")]),
    # year 2 starts after the 18th birthday but before the 1st of the next month: the age on
    # the period's first day gives the band (RULES.md §1)
    ("2008-09-03", "2025-09-05", "2027-09-04", {}, [
        ("2025-09-05", "2026-09-04", 1, "27", "SMIC", "486.49"),
        ("2026-09-05", "2027-09-04", 2, "51", "SMIC", "929.75")]),
    # turning 21 mid-year
    ("2005-03-10", "2025-09-01", "2027-08-31", {}, [
        ("2025-09-01", "2026-03-31", 1, "43", "SMIC", "774.77"),
        ("2026-04-01", "2026-08-31", 1, "53", "SMIC", "966.21"),
        ("2026-09-01", "2027-08-31", 2, "61", "SMIC", "1112.05")]),
    # turning 26 mid-year
    ("2000-06-15", "2025-09-01", "2026-08-31", {}, [
        ("2025-09-01", "2026-06-30", 1, "53", "SMIC", "954.95"),
        ("2026-07-01", "2026-08-31", 1, "100", "SMIC", "1823.03")]),
    # SMC above the SMIC from 21
    ("2004-05-15", "2026-01-01", "2027-12-31", {"smc_monthly": Decimal("2000")}, [
        ("2026-01-01", "2026-12-31", 1, "53", "SMC", "1060.00"),
        ("2027-01-01", "2027-12-31", 2, "61", "SMC", "1220.00")]),
    # SMC below the SMIC: the SMIC applies
    ("2004-05-15", "2026-01-01", "2026-12-31", {"smc_monthly": Decimal("1700")}, [
        ("2026-01-01", "2026-12-31", 1, "53", "SMIC", "966.21")]),
    # SMC ignored before 21, applied from the band change to 21–25
    ("2005-03-10", "2026-01-01", "2026-12-31", {"smc_monthly": Decimal("2000")}, [
        ("2026-01-01", "2026-03-31", 1, "43", "SMIC", "783.90"),
        ("2026-04-01", "2026-12-31", 1, "53", "SMC", "1060.00")]),
    # Mayotte: Mayotte monthly SMIC (1 415,05 € from 2026-01-01)
    ("2007-06-01", "2026-01-01", "2026-12-31", {"mayotte": True}, [
        ("2026-01-01", "2026-12-31", 1, "43", "SMIC", "608.47")]),
    # year 4 at the year-3 rate
    ("2004-01-10", "2026-01-01", "2029-12-31", {"smc_monthly": None}, [
        ("2026-01-01", "2026-12-31", 1, "53", "SMIC", "966.21"),
        ("2027-01-01", "2027-12-31", 2, "61", "SMIC", "1112.05"),
        ("2028-01-01", "2028-12-31", 3, "78", "SMIC", "1421.96"),
        ("2029-01-01", "2029-12-31", 4, "78", "SMIC", "1421.96")]),
    # SMIC of the period's first day: 2025 periods use 1 801,80 €
    ("2007-06-01", "2025-09-01", "2026-08-31", {}, [
        ("2025-09-01", "2026-08-31", 1, "43", "SMIC", "774.77")]),
    # reduced duration: the apprentice is deemed to have done year 1
    ("2004-06-01", "2026-01-01", "2026-12-31", {"first_contract_year": 2}, [
        ("2026-01-01", "2026-12-31", 1, "61", "SMIC", "1112.05")]),
    # licence professionnelle: year-2 rate throughout
    ("2004-06-01", "2026-01-01", "2026-12-31", {"licence_professionnelle": True}, [
        ("2026-01-01", "2026-12-31", 1, "61", "SMIC", "1112.05")]),
    # +15 points (D6222-30)
    ("2004-06-01", "2026-01-01", "2026-12-31", {"extra_points": 15}, [
        ("2026-01-01", "2026-12-31", 1, "68", "SMIC", "1239.66")]),
    # floor: last year's rate of the previous contract (D6222-29)
    ("2004-06-01", "2026-01-01", "2026-12-31", {"floor_percent": Decimal("78")}, [
        ("2026-01-01", "2026-12-31", 1, "78", "SMIC", "1421.96")]),
], ids=["turning_18_mid_year", "birthday_on_the_1st", "birthday_on_year_2_start",
        "change_on_year_2_start", "short_split_before_year_2", "year_start_uses_age_that_day",
        "turning_21_mid_year", "turning_26_mid_year", "smc_above_smic", "smc_below_smic",
        "smc_from_21_only", "mayotte", "year_4_uses_year_3_rate", "smic_2025",
        "reduced_duration", "licence_pro", "plus_15_points", "floor_percent"])
def test_apprenticeship_schedule(ref, birth, start, end, kwargs, expected):
    assert lines(minimum_schedule(D(birth), D(start), D(end), reference=ref, **kwargs)) == expected


# --- professionalisation ------------------------------------------------------------------------

@pytest.mark.parametrize("birth, start, end, kwargs, expected", [
    ("2006-06-01", "2026-01-01", "2026-12-31", {}, [
        ("2026-01-01", "2026-12-31", 1, "55", "SMIC", "1002.67")]),
    ("2006-06-01", "2026-01-01", "2026-12-31", {"qualified_level4": True}, [
        ("2026-01-01", "2026-12-31", 1, "65", "SMIC", "1184.97")]),
    ("2003-06-01", "2026-01-01", "2026-12-31", {}, [
        ("2026-01-01", "2026-12-31", 1, "70", "SMIC", "1276.12")]),
    ("2003-06-01", "2026-01-01", "2026-12-31", {"qualified_level4": True}, [
        ("2026-01-01", "2026-12-31", 1, "80", "SMIC", "1458.42")]),
    # turning 21 mid-contract: new band from the 1st of the following month
    ("2005-03-10", "2026-01-01", "2026-12-31", {}, [
        ("2026-01-01", "2026-03-31", 1, "55", "SMIC", "1002.67"),
        ("2026-04-01", "2026-12-31", 1, "70", "SMIC", "1276.12")]),
    # turning 18 changes nothing in professionalisation
    ("2008-03-10", "2026-01-01", "2026-12-31", {}, [
        ("2026-01-01", "2026-12-31", 1, "55", "SMIC", "1002.67")]),
    # 26 and over: max(100 % SMIC, 85 % SMC)
    ("1990-06-01", "2026-01-01", "2026-12-31", {}, [
        ("2026-01-01", "2026-12-31", 1, "100", "SMIC", "1823.03")]),
    ("1990-06-01", "2026-01-01", "2026-12-31", {"smc_monthly": Decimal("2000")}, [
        ("2026-01-01", "2026-12-31", 1, "100", "SMIC", "1823.03")]),
    ("1990-06-01", "2026-01-01", "2026-12-31", {"smc_monthly": Decimal("2300")}, [
        ("2026-01-01", "2026-12-31", 1, "85", "SMC", "1955.00")]),
    # SMC is not used before 26 in professionalisation
    ("2003-06-01", "2026-01-01", "2026-12-31", {"smc_monthly": Decimal("3000")}, [
        ("2026-01-01", "2026-12-31", 1, "70", "SMIC", "1276.12")]),
], ids=["under_21", "under_21_level4", "21_25", "21_25_level4", "turning_21",
        "turning_18_no_change", "26_plus", "26_plus_smc_85pct_below_smic",
        "26_plus_smc_85pct_above_smic", "smc_ignored_before_26"])
def test_professionalisation_schedule(ref, birth, start, end, kwargs, expected):
    periods = minimum_schedule(D(birth), D(start), D(end), dispositif="professionnalisation",
                               reference=ref, **kwargs)
    assert lines(periods) == expected


def test_schedule_invariants(ref):
    """Over many birthdays and starts: contiguous periods covering the contract, at most 2 per
    contract year and 8 in all, years 1–4 in order, amounts = percent × base."""
    for start in (D("2025-09-01"), D("2026-01-15"), D("2026-02-28"), D("2026-10-31")):
        end = add_months(start, 48) - timedelta(days=1)
        for offset in range(0, 4 * 365, 11):
            birth = D("2004-01-01") + timedelta(days=offset)
            periods = minimum_schedule(birth, start, end, reference=ref)
            assert periods[0].start == start and periods[-1].end == end
            assert all(a.end + timedelta(days=1) == b.start for a, b in zip(periods, periods[1:]))
            assert len(periods) <= 8
            years = [p.contract_year for p in periods]
            assert years == sorted(years) and set(years) == {1, 2, 3, 4}
            assert all(years.count(y) <= 2 for y in years)
            assert all(p.monthly_amount == (p.percent * p.reference_monthly / 100)
                       .quantize(Decimal("0.01"), rounding="ROUND_HALF_UP") for p in periods)


def test_schedule_edge_cases(ref):
    assert minimum_schedule(D("2005-01-01"), D("2026-09-01"), D("2026-08-31"), reference=ref) == []
    with pytest.raises(ValueError):
        minimum_schedule(D("2005-01-01"), D("2026-09-01"), D("2027-08-31"), dispositif="cdd",
                         reference=ref)
    period = minimum_schedule(D("2005-01-01"), D("2026-09-01"), D("2027-08-31"), reference=ref)[0]
    assert isinstance(period, RemunerationPeriod)
    with pytest.raises(Exception):
        period.percent = Decimal("99")   # frozen


# --- remuneration_findings ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def minimum(ref):
    # born 10/02/2009: 18 on 10/02/2027, so year 1 splits on 01/03/2027
    return minimum_schedule(D("2009-02-10"), D("2026-09-01"), D("2028-08-31"), reference=ref)


def test_fixture_schedule(minimum):
    assert [(p.start.isoformat(), p.end.isoformat(), p.contract_year, str(p.percent))
            for p in minimum] == [("2026-09-01", "2027-02-28", 1, "27"),
                                  ("2027-03-01", "2027-08-31", 1, "43"),
                                  ("2027-09-01", "2028-08-31", 2, "51")]


@pytest.mark.parametrize("entered, expected", [
    ([EnteredPeriod(Decimal("27")), EnteredPeriod(Decimal("43")), EnteredPeriod(Decimal("51"))],
     []),
    ([EnteredPeriod(Decimal("30")), EnteredPeriod(Decimal("50")), EnteredPeriod(Decimal("60"))],
     []),
    ([EnteredPeriod(Decimal("27")), EnteredPeriod(Decimal("40")), EnteredPeriod(Decimal("51"))],
     [("remuneration_2", f"Période 2 (année 1, du 01/03/2027 au 31/08/2027) : 43{NBSP}% minimum "
                         f"du SMIC (783,90{NBSP}€ par mois), 40{NBSP}% saisi.")]),
    ([{"percent": "27"}, {"percent": "43"}],
     [("remuneration_3", "Période 3 (année 2, du 01/09/2027 au 31/08/2028) : période non "
                         "renseignée")]),
    ([EnteredPeriod(Decimal("27"), Decimal("400")), EnteredPeriod(Decimal("43")),
      EnteredPeriod(Decimal("51"))],
     [("remuneration_1", f"400{NBSP}€ saisi")]),
    ([EnteredPeriod(None), EnteredPeriod(Decimal("43")), EnteredPeriod(Decimal("51"))],
     [("remuneration_1", "rémunération non renseignée")]),
    # dated lines: one line over the whole year 1 must reach the higher minimum (43 %)
    ([EnteredPeriod(Decimal("27"), start=D("2026-09-01"), end=D("2027-08-31")),
      EnteredPeriod(Decimal("51"), start=D("2027-09-01"), end=D("2028-08-31"))],
     [("remuneration_1",
       f"Période 1 (année 1, du 01/09/2026 au 31/08/2027) : 43{NBSP}% minimum")]),
    ([EnteredPeriod(Decimal("43"), start=D("2026-09-01"), end=D("2027-08-31")),
      EnteredPeriod(Decimal("51"), start=D("2027-09-01"), end=D("2028-08-31"))],
     []),
], ids=["at_minimum", "above_minimum", "period_2_below", "missing_period", "amount_below",
        "nothing_entered", "dated_line_over_two_periods", "dated_lines_ok"])
def test_remuneration_findings(minimum, entered, expected):
    findings = remuneration_findings(entered, minimum)
    assert [f.field for f in findings] == [field for field, _ in expected]
    assert all(f.level == ERROR for f in findings)
    for finding, (_, text) in zip(findings, expected):
        assert text in finding.message, finding.message
