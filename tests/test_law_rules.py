"""RULES.md's corrections of issue 15 (pure: no Flask app): the majorations' 100 % cap (§1),
the contract number's month (§4), C17 (contract end not before the exams), C18 (SMC asked from
21) and C19 (training identifiers, the rule the training's form calls).

Every expected value is computed by hand in the tables: SMIC 1 823,03 € a month from
01/01/2026 (RULES.md §1), one-year contracts from 01/01/2026 unless said otherwise.
"""
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from portal.rules import ERROR, WARNING
from portal.rules.contract import (APPRENTICESHIP_CHECKS, ContractFacts, check_apprenticeship,
                                   check_contract_numbers, check_end_after_exams,
                                   check_end_not_before_exams, check_smc_asked)
from portal.rules.identifiers import is_valid_cerfa_contract_number
from portal.rules.reference import load_from_csv
from portal.rules.remuneration import minimum_schedule
from portal.rules.training_identifiers import normalise_code, training_identifier_findings

D = date.fromisoformat
REF = load_from_csv()

# Ages on 01/01/2026 (no birthday threshold is crossed during 2026).
AGE_18, AGE_21, AGE_26 = D("2007-06-01"), D("2004-06-01"), D("1999-06-01")


# --- §1: the majorations stop at 100 % of the SMIC (or of the SMC when it applies) --------------

@pytest.mark.parametrize("birth, kwargs, percent, base, amount", [
    # no majoration: the grid (43 / 53 / 100 % of 1 823,03 €)
    (AGE_18, {}, "43", "SMIC", "783.90"),
    (AGE_21, {}, "53", "SMIC", "966.21"),
    (AGE_26, {}, "100", "SMIC", "1823.03"),
    # +15 points (D6222-30): 43 + 15 = 58 → 1 057,36; 53 + 15 = 68 → 1 239,66; 100 + 15 → 100
    (AGE_18, {"extra_points": 15}, "58", "SMIC", "1057.36"),
    (AGE_21, {"extra_points": 15}, "68", "SMIC", "1239.66"),
    (AGE_26, {"extra_points": 15}, "100", "SMIC", "1823.03"),
    # reduced duration deemed in year 3 (D6222-28-1) + 15: 67 + 15 = 82 → 1 494,88;
    # 78 + 15 = 93 → 1 695,42; 100 + 15 → 100
    (AGE_18, {"first_contract_year": 3, "extra_points": 15}, "82", "SMIC", "1494.88"),
    (AGE_21, {"first_contract_year": 3, "extra_points": 15}, "93", "SMIC", "1695.42"),
    (AGE_26, {"first_contract_year": 3, "extra_points": 15}, "100", "SMIC", "1823.03"),
    # licence professionnelle (D6222-32, year-2 rate) + 15: 51 + 15 = 66 → 1 203,20;
    # 61 + 15 = 76 → 1 385,50; 100 + 15 → 100
    (AGE_18, {"licence_professionnelle": True, "extra_points": 15}, "66", "SMIC", "1203.20"),
    (AGE_21, {"licence_professionnelle": True, "extra_points": 15}, "76", "SMIC", "1385.50"),
    (AGE_26, {"licence_professionnelle": True, "extra_points": 15}, "100", "SMIC", "1823.03"),
    # previous contract's last rate (D6222-29) 78 %, and + 15: max(58, 78) = 78 → 1 421,96;
    # for 26: max(115, 78) → capped at 100
    (AGE_18, {"floor_percent": Decimal("78"), "extra_points": 15}, "78", "SMIC", "1421.96"),
    (AGE_26, {"floor_percent": Decimal("78"), "extra_points": 15}, "100", "SMIC", "1823.03"),
    # RQTH extension (R6222-48, + 15) in a 4th year: 26 stays at 100
    (AGE_26, {"first_contract_year": 4, "extra_points": 15}, "100", "SMIC", "1823.03"),
    # SMC 2 000 € (higher than the SMIC, applies from 21): 26 + 15 → 100 % of the SMC,
    # 2 000,00; 21 in year 3 + 15 = 93 % of 2 000 = 1 860,00; 18: the SMC does not apply,
    # 58 % of the SMIC
    (AGE_26, {"extra_points": 15, "smc_monthly": Decimal("2000")}, "100", "SMC", "2000.00"),
    (AGE_21, {"first_contract_year": 3, "extra_points": 15, "smc_monthly": Decimal("2000")},
     "93", "SMC", "1860.00"),
    (AGE_18, {"extra_points": 15, "smc_monthly": Decimal("2000")}, "58", "SMIC", "1057.36"),
], ids=["18_none", "21_none", "26_none", "18_plus15", "21_plus15", "26_plus15_capped",
        "18_year3_plus15", "21_year3_plus15", "26_year3_plus15_capped", "18_licence_plus15",
        "21_licence_plus15", "26_licence_plus15_capped", "18_floor78_plus15",
        "26_floor78_plus15_capped", "26_rqth_year4_capped", "26_smc_plus15_capped_at_smc",
        "21_smc_year3_plus15", "18_smc_not_applicable"])
def test_majoration_cap(birth, kwargs, percent, base, amount):
    [period] = minimum_schedule(birth, D("2026-01-01"), D("2026-12-31"), reference=REF, **kwargs)
    assert (period.percent, period.base, period.monthly_amount) == \
        (Decimal(percent), base, Decimal(amount))


def test_cap_holds_on_every_period_of_a_long_contract():
    """A 26-year-old on a +15-point three-year contract: 100 % in each of the 3 years."""
    periods = minimum_schedule(AGE_26, D("2026-01-01"), D("2028-12-31"), reference=REF,
                               extra_points=15)
    assert [(p.contract_year, str(p.percent), str(p.monthly_amount)) for p in periods] == [
        (1, "100", "1823.03"), (2, "100", "1823.03"), (3, "100", "1823.03")]


# --- §4: the contract number's month is 01–12 -------------------------------------------------

@pytest.mark.parametrize("number, expected", [
    ("075202600NC0001", False),
    ("075202601NC0001", True),
    ("075202612NC0001", True),
    ("075202613NC0001", False),
    ("075202619120001", False),
    ("02A202612000001", True),
    ("974202600NC0001", False),
], ids=["month_00", "month_01", "month_12", "month_13", "month_19", "corsica_month_12",
        "reunion_month_00"])
def test_contract_number_month(number, expected):
    assert is_valid_cerfa_contract_number(number) is expected


NEW_CONTRACT = ContractFacts(contract_type="22", start=D("2026-09-01"), end=D("2028-08-31"))


@pytest.mark.parametrize("number, expected", [
    ("075202600NC0001", [(ERROR, "numero_contrat_precedent")]),
    ("075202601NC0001", []),
    ("075202612NC0001", []),
    ("075202613NC0001", [(ERROR, "numero_contrat_precedent")]),
], ids=["month_00", "month_01", "month_12", "month_13"])
def test_previous_contract_number_month(number, expected):
    findings = check_contract_numbers(replace(NEW_CONTRACT, previous_contract_number=number))
    assert [(f.level, f.field) for f in findings] == expected
    for finding in findings:
        assert "mois de 01 à 12" in finding.message


# --- C17: the contract does not end before the exams ----------------------------------------

EXAMS = ContractFacts(start=D("2026-09-01"), end=D("2028-07-03"), exams_end=D("2028-07-03"))


@pytest.mark.parametrize("end, expected", [
    ("2028-06-30", [(WARNING, "date_fin_contrat", "avant la fin prévue des épreuves "
                                                  "(03/07/2028)")]),
    ("2028-07-02", [(WARNING, "date_fin_contrat", "au plus tôt le 03/07/2028")]),
    ("2028-07-03", []),
    ("2028-07-04", []),
    ("2028-09-03", []),
], ids=["3_days_before", "1_day_before", "at_exam_end", "1_day_after", "2_months_after"])
def test_c17_end_not_before_exams(end, expected):
    findings = check_end_not_before_exams(replace(EXAMS, end=D(end)))
    assert [(f.level, f.field) for f in findings] == [(lvl, fld) for lvl, fld, _ in expected]
    for finding, (_, _, words) in zip(findings, expected):
        assert words in finding.message, finding.message
        assert "L6222-7-1" in finding.message


def test_c17_and_c9_never_fire_together():
    """Before the exams: C17 only; more than 2 months after: C9 only."""
    for end in (D("2028-06-01"), D("2028-09-04"), D("2028-12-01")):
        facts = replace(EXAMS, end=end)
        assert not (check_end_not_before_exams(facts) and check_end_after_exams(facts)), end


@pytest.mark.parametrize("facts", [
    ContractFacts(end=D("2028-06-30")), ContractFacts(exams_end=D("2028-07-03")),
], ids=["no_exams_end", "no_end"])
def test_c17_silent_without_dates(facts):
    assert check_end_not_before_exams(facts) == []


# --- C18: the SMC is asked when the apprentice is 21 or more in some period ------------------

TWO_YEARS = ContractFacts(start=D("2026-09-01"), end=D("2028-08-31"))


@pytest.mark.parametrize("birth, end, smc, expected", [
    # 20 at the start, 21 on 10/04/2027 → the 21 band from 01/05/2027, inside the contract
    ("2006-04-10", "2028-08-31", None, "à partir du 01/05/2027"),
    ("2006-04-10", "2028-08-31", "1900", None),
    # 20 throughout: the contract ends on 30/04/2027, the day before the 21 band
    ("2006-04-10", "2027-04-30", None, None),
    # ... and ending on 01/05/2027, the 21 band's first day, has one 21+ period
    ("2006-04-10", "2027-05-01", None, "à partir du 01/05/2027"),
    # 21 at the start (born 31/08/2005)
    ("2005-08-31", "2028-08-31", None, "dès le début du contrat"),
    ("2005-08-31", "2028-08-31", "1900", None),
    # 21 on the start day itself, ending before the 1st of the next month: 21 from the start
    # (the age on a period's first day), though the birthday's next month is after the end
    ("2005-09-01", "2026-09-30", None, "dès le début du contrat"),
    # 26 at the start
    ("2000-09-01", "2028-08-31", None, "dès le début du contrat"),
    ("2000-09-01", "2028-08-31", "1700", None),     # an SMC below the SMIC is an answer too
    # 17 at the start, 19 at the end: never 21
    ("2009-03-01", "2028-08-31", None, None),
], ids=["20_turning_21", "20_turning_21_with_smc", "20_throughout", "21_on_the_last_day",
        "21_at_start", "21_with_smc", "21_on_the_start_day_short", "26_at_start", "26_with_smc",
        "under_21_throughout"])
def test_c18_smc_asked(birth, end, smc, expected):
    facts = replace(TWO_YEARS, birth_date=D(birth), end=D(end),
                    smc_monthly=Decimal(smc) if smc else None)
    findings = check_smc_asked(facts)
    if expected is None:
        assert findings == []
    else:
        [finding] = findings
        assert (finding.level, finding.field) == (WARNING, "salaire_minimum_conventionnel")
        assert expected in finding.message and "salaire minimum conventionnel" in \
            finding.message, finding.message


def test_c18_silent_without_dates():
    assert check_smc_asked(ContractFacts(birth_date=D("2000-01-01"))) == []
    assert check_smc_asked(ContractFacts(birth_date=D("2000-01-01"), start=D("2026-09-01"),
                                         end=D("2026-08-01"))) == []


def test_c17_and_c18_run_with_the_other_checks():
    """Wired like C1–C16: in APPRENTICESHIP_CHECKS, so check_apprenticeship reports them."""
    assert check_end_not_before_exams in APPRENTICESHIP_CHECKS
    assert check_smc_asked in APPRENTICESHIP_CHECKS
    facts = ContractFacts(birth_date=D("2000-09-01"), conclusion=D("2026-08-20"),
                          start=D("2026-09-01"), end=D("2028-06-30"),
                          exams_end=D("2028-07-03"), contract_type="11")
    found = {(f.level, f.field) for f in check_apprenticeship(facts, REF)}
    assert {(WARNING, "date_fin_contrat"), (WARNING, "salaire_minimum_conventionnel")} <= found


# --- C19: the training's identifiers (the rule behind the training's form) -------------------

@pytest.mark.parametrize("kwargs, expected", [
    # UAI: 7 digits + the letter of int(7 digits) mod 23: 0751234 mod 23 = 8 → "J"
    ({"cfa_uai": "0751234J"}, []),
    ({"cfa_uai": "0751234j"}, []),
    ({"cfa_uai": "0751234A", "cfa_name": "CFA Sud"},
     [("cfa", "Le numéro UAI 0751234A du CFA « CFA Sud » n'est pas valide")]),
    ({"cfa_uai": ""}, [("cfa", "Le CFA n'a pas de numéro UAI")]),
    ({"site_uai": "0751234J"}, []),
    ({"site_uai": "075123J"}, [("etablissement_formation",
                                "du lieu de formation principal n'est pas valide")]),
    ({"site_uai": None, "site_name": "IUT"},
     [("etablissement_formation", "Le lieu de formation principal « IUT » n'a pas")]),
    ({}, []),                                       # nothing chosen: nothing to check
    # code diplôme: 8 alphanumeric characters
    ({"code_diplome": "32031218"}, []),
    ({"code_diplome": "3203 121a"}, []),
    ({"code_diplome": "3203121"}, [("code_diplome", "Le code diplôme (CFD) 3203121")]),
    ({"code_diplome": "32031218X"}, [("code_diplome", "8 caractères")]),
    ({"code_diplome": "3203-218"}, [("code_diplome", "n'est pas valide")]),
    ({"code_diplome": ""}, []),                     # optional
    # RNCP: "RNCP" + 3 to 5 digits
    ({"code_rncp": "RNCP38362"}, []),
    ({"code_rncp": "rncp 123"}, []),
    ({"code_rncp": "RNCP12"}, [("code_rncp", "Le code RNCP RNCP12 n'est pas valide")]),
    ({"code_rncp": "RNCP123456"}, [("code_rncp", "3 à 5 chiffres")]),
    ({"code_rncp": "38362"}, [("code_rncp", "« RNCP » suivi")]),
    ({"code_rncp": None}, []),
], ids=["cfa_ok", "cfa_lower_case", "cfa_bad_letter", "cfa_missing", "site_ok",
        "site_6_digits", "site_missing", "nothing", "cfd_ok", "cfd_spaces_lower", "cfd_7",
        "cfd_9", "cfd_dash", "cfd_empty", "rncp_ok", "rncp_3_digits_spaced", "rncp_2_digits",
        "rncp_6_digits", "rncp_no_prefix", "rncp_none"])
def test_c19_training_identifiers(kwargs, expected):
    findings = training_identifier_findings(**kwargs)
    assert [(f.level, f.field) for f in findings] == [(ERROR, fld) for fld, _ in expected]
    for finding, (_, words) in zip(findings, expected):
        assert words in finding.message, finding.message


def test_codes_are_stored_normalised():
    assert normalise_code(" rncp 38362 ") == "RNCP38362"
    assert normalise_code("3203 121a") == "3203121A"
    assert normalise_code(None) == ""
