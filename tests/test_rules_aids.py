"""portal.rules.aids (RULES.md §5), pure: no Flask app needed."""
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from portal.rules.aids import apprentice_aids, employer_aid, employer_participation
from portal.rules.reference import AidRule, ApprenticeAidRule, load_from_csv

D = date.fromisoformat


@pytest.fixture(scope="module")
def ref():
    return load_from_csv()


@pytest.mark.parametrize("concluded, employees, level, rqth, expected", [
    # before the first known band
    ("2025-02-23", 10, 4, False, None),
    # 2025-02-24 → 2025-12-31
    ("2025-02-24", 10, 5, False, "5000"),
    ("2025-12-31", 249, 7, False, "5000"),
    ("2025-12-31", 250, 7, False, "2000"),
    ("2025-06-01", 300, 6, True, "6000"),
    ("2025-06-01", 10, 3, True, "6000"),
    # 2026-01-01 → 2026-03-07: levels 3–4 in companies under 250 only
    ("2026-01-01", 10, 4, False, "5000"),
    ("2026-03-07", 10, 3, False, "5000"),
    ("2026-01-01", 10, 5, False, None),
    ("2026-02-15", 300, 3, False, None),
    ("2026-02-15", 10, 4, True, "6000"),
    ("2026-02-15", 10, 5, True, None),
    ("2026-02-15", 300, 4, True, None),
    # from 2026-03-08
    ("2026-03-08", 10, 3, False, "5000"),
    ("2026-03-08", 10, 4, False, "5000"),
    ("2026-03-08", 10, 5, False, "4500"),
    ("2026-03-08", 10, 6, False, "2000"),
    ("2026-09-01", 10, 7, False, "2000"),
    ("2026-09-01", 250, 4, False, "2000"),
    ("2026-09-01", 250, 5, False, "1500"),
    ("2026-09-01", 5000, 7, False, "750"),
    ("2026-09-01", 10, 6, True, "6000"),
    ("2026-09-01", 5000, 7, True, "6000"),
    ("2026-09-01", 10, 8, False, None),
], ids=["before_2025_02_24",
        "2025_under_250", "2025_249_employees", "2025_250_employees", "2025_rqth_large",
        "2025_rqth_small",
        "early_2026_level_4", "early_2026_last_day_level_3", "early_2026_level_5_none",
        "early_2026_large_none", "early_2026_rqth_level_4", "early_2026_rqth_level_5_none",
        "early_2026_rqth_large_none",
        "from_0308_level_3", "from_0308_level_4", "from_0308_level_5", "from_0308_level_6",
        "from_0308_level_7", "from_0308_large_level_4", "from_0308_large_level_5",
        "from_0308_large_level_7", "from_0308_rqth_small", "from_0308_rqth_large",
        "from_0308_level_8_none"])
def test_employer_aid(ref, concluded, employees, level, rqth, expected):
    amount, label = employer_aid(D(concluded), employees, level, rqth, ref)
    assert amount == (Decimal(expected) if expected else None)
    if expected:
        assert "Aide à l'embauche" in label and "€" in label
    else:
        assert label.startswith("Aucune aide")


def test_employer_aid_needs_inputs(ref):
    amount, label = employer_aid(None, 10, 4, False, ref)
    assert amount is None and label.startswith("Renseignez")


def test_employer_aid_comes_from_reference(ref):
    extra = AidRule(D("2027-01-01"), None, 0, None, 3, 8, False, Decimal("1234"), "Aide test")
    custom = replace(ref, employer_aids=ref.employer_aids + [extra])
    assert employer_aid(D("2027-02-01"), 10, 4, False, custom)[0] == Decimal("5000")
    assert employer_aid(D("2027-02-01"), 10, 8, False, custom)[0] == Decimal("1234")


@pytest.mark.parametrize("concluded, level, dispositif, expected", [
    ("2025-06-30", 7, "apprentissage", "0"),
    ("2025-07-01", 6, "apprentissage", "750"),
    ("2026-09-01", 7, "apprentissage", "750"),
    ("2026-09-01", 5, "apprentissage", "0"),
    ("2026-09-01", 8, "apprentissage", "0"),
    ("2026-09-01", 7, "professionnalisation", "0"),
], ids=["before_2025_07_01", "level_6_from_2025_07_01", "level_7", "level_5", "level_8",
        "professionalisation"])
def test_employer_participation(ref, concluded, level, dispositif, expected):
    assert employer_participation(D(concluded), level, dispositif, ref) == Decimal(expected)


def by_code(aids, ref):
    return {rule.code: aid for rule, aid in zip(ref.apprentice_aids, aids)}


@pytest.mark.parametrize("birth, start, end, pay, expected", [
    # 20, pay 1 000 €: below 78 % of the SMIC (1 421,96 €)
    ("2006-04-10", "2026-09-01", "2028-08-31", "1000",
     {"permis_b": True, "mobili_jeune": True, "apl": True, "prime_activite": False,
      "carte_etudiant_metiers": True, "frais_annexes": True}),
    # 23, pay 1 500 €: prime d'activité possible
    ("2003-04-10", "2026-09-01", "2028-08-31", "1500",
     {"permis_b": True, "mobili_jeune": True, "prime_activite": True}),
    # 17 turning 18 during the contract: permis B from the birthday
    ("2008-10-03", "2026-09-01", "2028-08-31", "1500",
     {"permis_b": True, "prime_activite": True}),
    # 16, still a minor at the end of the contract
    ("2010-06-01", "2026-09-01", "2027-08-31", "600",
     {"permis_b": False, "prime_activite": False, "mobili_jeune": True}),
    # 29 vs 30 for Mobili-Jeune
    ("1996-09-02", "2026-09-01", "2027-08-31", "1900", {"mobili_jeune": True}),
    ("1996-09-01", "2026-09-01", "2027-08-31", "1900", {"mobili_jeune": False}),
    # pay unknown: prime d'activité cannot be determined
    ("2003-04-10", "2026-09-01", "2028-08-31", None, {"prime_activite": False}),
], ids=["20_low_pay", "23_pay_above_78pct", "turning_18", "minor_throughout", "mobili_29",
        "mobili_30", "pay_unknown"])
def test_apprentice_aids(ref, birth, start, end, pay, expected):
    aids = by_code(apprentice_aids(D(birth), D(start), D(end),
                                   Decimal(pay) if pay else None, None, ref), ref)
    for code, eligible in expected.items():
        assert aids[code].eligible is eligible, (code, aids[code])


def test_apprentice_aid_texts(ref):
    aids = by_code(apprentice_aids(D("2008-10-03"), D("2026-09-01"), D("2028-08-31"),
                                   Decimal("800"), Decimal("1823.03"), ref), ref)
    assert aids["permis_b"].amount == "500 €" and "CFA" in aids["permis_b"].where
    assert aids["permis_b"].reason.startswith("À partir du 03/10/2026 (18 ans)")
    assert "n'atteint pas environ 78\u00a0% du SMIC (1\u00a0421,96\u00a0€)" in \
        aids["prime_activite"].reason
    annexes = aids["frais_annexes"].amount
    assert "500 €" in annexes and "6 € par nuit" in annexes and "3 € par repas" in annexes
    assert "OPCO" in aids["frais_annexes"].where
    name, amount, where, eligible, reason = aids["mobili_jeune"]    # a plain tuple too
    assert "Mobili-Jeune" in name and eligible and reason


def test_apprentice_aids_come_from_reference(ref):
    custom = replace(ref, apprentice_aids=[ApprenticeAidRule("test", "Aide test", "42 €", "CFA",
                                                             age_min=21)])
    [aid] = apprentice_aids(D("2006-04-10"), D("2026-09-01"), D("2027-03-31"), None, None, custom)
    assert (aid.name, aid.amount, aid.eligible) == ("Aide test", "42 €", False)
