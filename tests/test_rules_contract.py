"""portal.rules.contract: checks C1–C18 (RULES.md §3) and professionalisation limits (C17–C18
in detail: test_law_rules.py).

Pure: no Flask app. Every case starts from a valid contract (BASE) and changes a few facts.
"""
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from portal.rules import ERROR, INFO, WARNING, has_errors
from portal.rules.contract import (APPRENTICESHIP_CHECKS, ContractFacts, check_apprenticeship,
                                   check_cfa_start, check_conclusion_date,
                                   check_contract_numbers, check_derogation, check_duration,
                                   check_end_after_exams, check_legal_representative,
                                   check_masters, check_maximum_age, check_minimum_age,
                                   check_opco_deadline, check_practical_start,
                                   check_professionalisation, check_remuneration,
                                   check_training_hours, check_trial_period, check_weekly_hours,
                                   opco_deadline, opco_decision_deadline, trial_period_end)
from portal.rules.reference import load_from_csv
from portal.rules.remuneration import EnteredPeriod

D = date.fromisoformat
REF = load_from_csv()

# 20 at the start (21 on 10/04/2027): minimum 43 %, then 53 % from 01/05/2027, then 61 %; the
# SMC is given (C18) and below the SMIC, so the grid stays on the SMIC.
BASE = ContractFacts(
    birth_date=D("2006-04-10"), conclusion=D("2026-08-20"), start=D("2026-09-01"),
    practical_start=D("2026-09-01"), cfa_start=D("2026-09-14"), end=D("2028-08-31"),
    exams_end=D("2028-07-03"), training_hours=1350, weekly_hours=35, weekly_minutes=0,
    contract_type="11", master1_birth=D("1980-01-01"), master_apprentice_count=1,
    employer_attests_master_eligibility=True,
    remuneration=[EnteredPeriod(Decimal("43")), EnteredPeriod(Decimal("53")),
                  EnteredPeriod(Decimal("61"))],
    smc_monthly=Decimal("1700"),
)

MASTER2 = {"nom": "Durand", "prenom": "Léa", "date_naissance": D("1985-05-05"),
           "courriel": "lea.durand@example.fr", "emploi": "Cheffe de projet",
           "diplome": "Master", "niveau_diplome": "7"}
VALID_NUMBER = "075202601NC0001"


def c14(facts):
    return check_remuneration(facts, REF)


def case(check, changes, *expected, id):
    return pytest.param(check, changes, list(expected), id=id)


CASES = [
    # C1 — minimum age
    case(check_minimum_age, {"birth_date": D("2010-09-01")}, id="C1_pass_16_on_start"),
    case(check_minimum_age, {"birth_date": D("2012-01-15")},
         (ERROR, "apprenti_date_naissance", "15 ans"), id="C1_fail_14"),
    case(check_minimum_age, {"birth_date": D("2011-01-15"), "college_completed": True,
                             "derogation": "11"}, id="C1_pass_15_college_derogation_11"),
    case(check_minimum_age, {"birth_date": D("2011-01-15"), "derogation": "11"},
         (ERROR, "derniere_classe", "collège"), id="C1_fail_15_college_not_completed"),
    case(check_minimum_age, {"birth_date": D("2011-01-15"), "college_completed": True},
         (ERROR, "type_derogation", "dérogation 11"), id="C1_fail_15_without_derogation"),
    case(check_minimum_age, {"birth_date": D("2011-01-15")},
         (ERROR, "derniere_classe", "collège"), (ERROR, "type_derogation", "dérogation 11"),
         id="C1_fail_15_neither"),
    # C2 — maximum age and exceptions
    case(check_maximum_age, {"birth_date": D("1996-09-02")}, id="C2_pass_29"),
    case(check_maximum_age, {"birth_date": D("1996-09-01")},
         (ERROR, "apprenti_date_naissance", "29 ans révolus"), id="C2_fail_30"),
    case(check_maximum_age, {"birth_date": D("1996-09-01"), "rqth": True, "derogation": "12"},
         id="C2_pass_30_rqth"),
    case(check_maximum_age, {"birth_date": D("1991-01-15"), "rqth": True, "derogation": "12"},
         id="C2_pass_35_rqth_no_limit"),
    case(check_maximum_age, {"birth_date": D("1996-09-01"), "high_level_athlete": True,
                             "derogation": "12"}, id="C2_pass_30_athlete"),
    case(check_maximum_age, {"birth_date": D("1996-09-01"), "business_project": True,
                             "derogation": "12"}, id="C2_pass_30_business_project"),
    case(check_maximum_age, {"birth_date": D("1996-09-01"), "rqth": True},
         (WARNING, "type_derogation", "dérogation 12"), id="C2_warn_30_rqth_no_derogation_12"),
    case(check_maximum_age, {"birth_date": D("1993-01-15"), "derogation": "12",
                             "previous_contract_end": D("2026-06-30")},
         id="C2_pass_33_new_contract_within_a_year"),
    case(check_maximum_age, {"birth_date": D("1993-01-15"), "derogation": "12",
                             "previous_contract_end": D("2025-08-20")},
         id="C2_pass_33_exactly_one_year_after"),
    case(check_maximum_age, {"birth_date": D("1993-01-15"), "derogation": "12",
                             "previous_contract_end": D("2025-08-19")},
         (ERROR, "apprenti_date_naissance", "dans l'année"), id="C2_fail_33_more_than_a_year"),
    case(check_maximum_age, {"birth_date": D("1992-01-15"), "derogation": "12",
                             "previous_contract_end": D("2026-06-30")},
         id="C2_pass_34_new_contract"),
    case(check_maximum_age, {"birth_date": D("1991-01-15"), "derogation": "12",
                             "previous_contract_end": D("2026-06-30")},
         (ERROR, "apprenti_date_naissance", "34 ans révolus"), id="C2_fail_35_new_contract"),
    case(check_maximum_age, {"birth_date": D("1996-09-01"),
                             "age_limit_override_reason": "Accord de l'inspection"},
         (WARNING, "apprenti_date_naissance", "Dérogation accordée par le CFA : Accord"),
         id="C2_override_by_cfa_is_a_warning"),
    # C3 — dérogations 11 and 12
    case(check_derogation, {"birth_date": D("2011-01-15"), "derogation": "11"},
         id="C3_pass_11_at_15"),
    case(check_derogation, {"birth_date": D("2010-09-01"), "derogation": "11"},
         (ERROR, "type_derogation", "16 ans au début"), id="C3_fail_11_at_16"),
    case(check_derogation, {"birth_date": D("1996-09-01"), "derogation": "12"},
         id="C3_pass_12_at_30"),
    case(check_derogation, {"birth_date": D("2001-01-15"), "derogation": "12"},
         (ERROR, "type_derogation", "25 ans au début"), id="C3_fail_12_at_25"),
    case(check_derogation, {"derogation": "21"}, id="C3_pass_other_derogation"),
    # C4 — legal representative
    case(check_legal_representative, {}, id="C4_pass_adult"),
    case(check_legal_representative, {"birth_date": D("2009-01-15")},
         (ERROR, "representant_legal", "mineur (17 ans)"), id="C4_fail_minor_no_representative"),
    case(check_legal_representative, {"birth_date": D("2009-01-15"),
                                      "legal_representative_present": True},
         id="C4_pass_minor_with_representative"),
    case(check_legal_representative, {"birth_date": D("2009-01-15"), "emancipated": True},
         id="C4_pass_minor_emancipated"),
    case(check_legal_representative, {"birth_date": D("2008-08-25")},
         (ERROR, "representant_legal", "mineur"), id="C4_fail_minor_at_conclusion_adult_at_start"),
    # C5 — conclusion before start
    case(check_conclusion_date, {"conclusion": D("2026-09-01")}, id="C5_pass_same_day"),
    case(check_conclusion_date, {"conclusion": D("2026-09-02")},
         (ERROR, "date_conclusion", "postérieure"), id="C5_fail_after_start"),
    case(check_conclusion_date, {"conclusion": D("2027-01-10"), "contract_type": "36"},
         id="C5_pass_amendment_concluded_later"),
    # C6 — duration (6 months = end ≥ start + 6 months − 1 day)
    case(check_duration, {"end": D("2027-02-28")}, id="C6_pass_exactly_6_months"),
    case(check_duration, {"end": D("2027-02-27")},
         (ERROR, "date_fin_contrat", "5 mois et 27 jours : la durée minimale est de 6 mois (fin "
                                     "au plus tôt le 28/02/2027)"),
         id="C6_fail_one_day_short_of_6_months"),
    case(check_duration, {"start": D("2025-01-01"), "end": D("2025-06-30")},
         id="C6_pass_jan_to_june_not_5_months_29_days"),
    case(check_duration, {"start": D("2025-01-01"), "end": D("2025-06-29")},
         (ERROR, "date_fin_contrat", "5 mois et 29 jours"), id="C6_fail_5_months_29_days"),
    case(check_duration, {"end": D("2026-09-01")},
         (ERROR, "date_fin_contrat", "postérieure"), id="C6_fail_end_equals_start"),
    case(check_duration, {"end": D("2026-08-01")},
         (ERROR, "date_fin_contrat", "postérieure"), id="C6_fail_end_before_start"),
    case(check_duration, {"end": D("2029-08-31")}, id="C6_pass_3_years"),
    case(check_duration, {"end": D("2029-09-01")},
         (ERROR, "date_fin_contrat", "3 ans (fin au plus tard le 31/08/2029)"),
         id="C6_fail_3_years_and_a_day"),
    case(check_duration, {"end": D("2030-08-31"), "derogation": "22"},
         id="C6_pass_4_years_derogation_22"),
    case(check_duration, {"end": D("2030-08-31"), "rqth": True}, id="C6_pass_4_years_rqth"),
    case(check_duration, {"end": D("2030-09-01"), "rqth": True},
         (ERROR, "date_fin_contrat", "4 ans compte tenu"), id="C6_fail_4_years_and_a_day_rqth"),
    case(check_duration, {"end": D("2030-08-31"), "contract_type": "33"},
         id="C6_pass_prolongation_after_exam_failure"),
    case(check_duration, {"end": D("2030-08-31")},
         (ERROR, "date_fin_contrat", "3 ans"), id="C6_fail_4_years_without_reason"),
    # C7 — start of practical training
    case(check_practical_start, {"practical_start": D("2026-12-01")},
         id="C7_pass_start_plus_3_months"),
    case(check_practical_start, {"practical_start": D("2026-08-31")},
         (ERROR, "date_debut_formation_pratique", "avant le début"), id="C7_fail_before_start"),
    case(check_practical_start, {"practical_start": D("2026-12-02")},
         (ERROR, "date_debut_formation_pratique", "01/12/2026"), id="C7_fail_after_3_months"),
    case(check_practical_start, {"practical_start": D("2026-11-20"), "end": D("2026-11-15")},
         (ERROR, "date_debut_formation_pratique", "après la fin"), id="C7_fail_after_end"),
    # C8 — start of CFA training
    case(check_cfa_start, {"cfa_start": D("2026-06-01")}, id="C8_pass_3_months_before"),
    case(check_cfa_start, {"cfa_start": D("2026-12-01")}, id="C8_pass_3_months_after"),
    case(check_cfa_start, {"cfa_start": D("2026-05-31")},
         (ERROR, "date_debut_formation_cfa", "plus de 3 mois avant"), id="C8_fail_too_early"),
    case(check_cfa_start, {"cfa_start": D("2026-12-02")},
         (ERROR, "date_debut_formation_cfa", "plus de 3 mois après"), id="C8_fail_too_late"),
    # C9 — end after the exams
    case(check_end_after_exams, {"end": D("2028-09-03")}, id="C9_pass_exams_plus_2_months"),
    case(check_end_after_exams, {"end": D("2028-09-04")},
         (WARNING, "date_fin_contrat", "plus de 2 mois"), id="C9_warn_beyond_2_months"),
    case(check_end_after_exams, {"end": D("2028-10-03")},
         (WARNING, "date_fin_contrat", "plus de 2 mois"), id="C9_warn_exams_plus_3_months"),
    case(check_end_after_exams, {"end": D("2028-10-04")},
         (ERROR, "date_fin_contrat", "plus de 3 mois"), id="C9_fail_beyond_3_months"),
    # C10 — training hours (2 years: 25 % × 1 607 × 2 = 803,5 h)
    case(check_training_hours, {"training_hours": Decimal("803.5")}, id="C10_pass_25_percent"),
    case(check_training_hours, {"training_hours": 803},
         (WARNING, "duree_formation_heures", "804\u00a0h"), id="C10_warn_below_25_percent"),
    case(check_training_hours, {"end": D("2027-08-31"), "training_hours": 400},
         (WARNING, "duree_formation_heures", "402\u00a0h"), id="C10_warn_one_year_contract"),
    # C11 — weekly hours
    case(check_weekly_hours, {"weekly_hours": 40}, id="C11_pass_adult_40h"),
    case(check_weekly_hours, {"weekly_hours": 40, "weekly_minutes": 30},
         (ERROR, "duree_hebdo_heures", "40 heures"), id="C11_fail_adult_40h30"),
    case(check_weekly_hours, {"birth_date": D("2009-01-15"), "weekly_hours": 35},
         id="C11_pass_minor_35h"),
    case(check_weekly_hours, {"birth_date": D("2009-01-15"), "weekly_hours": 35,
                              "weekly_minutes": 1},
         (ERROR, "duree_hebdo_heures", "35 heures"), id="C11_fail_minor_35h01"),
    case(check_weekly_hours, {"birth_date": D("2009-01-15"), "weekly_hours": 40,
                              "minor_building_sector": True}, id="C11_pass_minor_building_40h"),
    case(check_weekly_hours, {"birth_date": D("2009-01-15"), "weekly_hours": 41,
                              "minor_building_sector": True},
         (ERROR, "duree_hebdo_heures", "40 heures"), id="C11_fail_minor_building_41h"),
    case(check_weekly_hours, {"weekly_minutes": 60},
         (ERROR, "duree_hebdo_minutes", "entre 0 et 59"), id="C11_fail_minutes_60"),
    # C12 — maîtres d'apprentissage
    case(check_masters, {"master1_birth": D("2008-09-01")}, id="C12_pass_master_18"),
    case(check_masters, {"master1_birth": D("2008-09-02")},
         (ERROR, "maitre_1_date_naissance", "18 ans"), id="C12_fail_master_17"),
    case(check_masters, {"master2": MASTER2}, id="C12_pass_complete_second_master"),
    case(check_masters, {"master2": {k: "" for k in MASTER2}}, id="C12_pass_empty_second_master"),
    case(check_masters, {"master2": {"nom": "Durand", "prenom": "Léa"}},
         (ERROR, "maitre_2_date_naissance", "date de naissance"),
         (ERROR, "maitre_2_courriel", "courriel"), (ERROR, "maitre_2_emploi", "emploi"),
         (ERROR, "maitre_2_diplome", "diplôme"), (ERROR, "maitre_2_niveau_diplome", "niveau"),
         id="C12_fail_partial_second_master"),
    case(check_masters, {"master2": dict(MASTER2, date_naissance=D("2008-09-02"))},
         (ERROR, "maitre_2_date_naissance", "18 ans"), id="C12_fail_second_master_17"),
    case(check_masters, {"master_apprentice_count": 3},
         (ERROR, "maitre_1_nombre_apprentis", "3 apprentis"), id="C12_fail_3_apprentices"),
    case(check_masters, {"master_apprentice_count": 3, "master_repeating_extra": True},
         id="C12_pass_3_apprentices_one_repeating"),
    case(check_masters, {"master_apprentice_count": 4, "master_repeating_extra": True},
         (ERROR, "maitre_1_nombre_apprentis", "4 apprentis"), id="C12_fail_4_apprentices"),
    case(check_masters, {"employer_attests_master_eligibility": False},
         (ERROR, "employeur_attestation_maitre", "atteste"), id="C12_fail_no_attestation"),
    # C13 — previous contract number, amendment date
    case(check_contract_numbers, {"contract_type": "22",
                                  "previous_contract_number": VALID_NUMBER},
         id="C13_pass_new_contract_with_number"),
    case(check_contract_numbers, {"contract_type": "22"},
         (WARNING, "numero_contrat_precedent", "type 22"), id="C13_warn_new_contract_without"),
    case(check_contract_numbers, {"contract_type": "36", "previous_contract_number": VALID_NUMBER,
                                  "amendment_effective": D("2027-01-01")},
         id="C13_pass_amendment"),
    case(check_contract_numbers, {"contract_type": "36", "amendment_effective": D("2027-01-01")},
         (ERROR, "numero_contrat_precedent", "obligatoire"), id="C13_fail_amendment_no_number"),
    case(check_contract_numbers, {"contract_type": "22", "previous_contract_number": "0752026"},
         (ERROR, "numero_contrat_precedent", "DDDAAAAMMNN0000"), id="C13_fail_bad_format"),
    case(check_contract_numbers, {"contract_type": "36", "previous_contract_number": VALID_NUMBER},
         (ERROR, "date_effet_avenant", "obligatoire"), id="C13_fail_amendment_without_date"),
    case(check_contract_numbers, {"contract_type": "36", "previous_contract_number": VALID_NUMBER,
                                  "amendment_effective": D("2028-09-01")},
         (ERROR, "date_effet_avenant", "comprise entre"), id="C13_fail_amendment_date_after_end"),
    # C14 — remuneration
    case(c14, {}, id="C14_pass_at_minimum"),
    case(c14, {"remuneration": [EnteredPeriod(Decimal("43")), EnteredPeriod(Decimal("50")),
                                EnteredPeriod(Decimal("61"))]},
         (ERROR, "remuneration_2", "53\u00a0% minimum"), id="C14_fail_period_2_below"),
    case(c14, {"remuneration": [EnteredPeriod(Decimal("43"))]},
         (ERROR, "remuneration_2", "non renseignée"), (ERROR, "remuneration_3", "non renseignée"),
         id="C14_fail_missing_periods"),
    # C15 — OPCO deadline (start Tuesday 01/09/2026 → Monday 07/09/2026)
    case(check_opco_deadline, {}, (INFO, "date_debut_contrat", "07/09/2026"),
         id="C15_info_deadline"),
    case(check_opco_deadline, {"sent_to_opco": D("2026-09-07")}, id="C15_pass_sent_on_time"),
    case(check_opco_deadline, {"sent_to_opco": D("2026-09-08")},
         (WARNING, "date_debut_contrat", "après la date limite"), id="C15_warn_sent_late"),
    case(check_opco_deadline, {"today": D("2026-09-08")},
         (WARNING, "date_debut_contrat", "dépassée"), id="C15_warn_not_sent_after_deadline"),
    # C16 — trial period
    case(check_trial_period, {}, (INFO, "date_debut_formation_pratique", "15/10/2026"),
         id="C16_info_trial_period"),
    case(check_trial_period, {"practical_start": None}, id="C16_nothing_without_practical_start"),
]


@pytest.mark.parametrize("check, changes, expected", CASES)
def test_check(check, changes, expected):
    findings = check(replace(BASE, **changes))
    assert [(f.level, f.field) for f in findings] == [(level, fld) for level, fld, _ in expected], \
        findings
    for finding, (_, _, words) in zip(findings, expected):
        assert words in finding.message, finding.message


def test_base_contract_has_only_information():
    findings = check_apprenticeship(BASE, REF)
    assert {f.level for f in findings} == {INFO}
    assert {f.field for f in findings} == {"date_debut_contrat", "date_debut_formation_pratique"}


def test_every_check_is_run():
    assert len(APPRENTICESHIP_CHECKS) == 17          # C1–C18, C14 run with the reference data
    facts = replace(BASE, birth_date=D("1996-09-01"), conclusion=D("2026-09-02"),
                    end=D("2027-02-27"), weekly_minutes=75, contract_type="36",
                    remuneration=[EnteredPeriod(Decimal("10"))], smc_monthly=None)
    findings = check_apprenticeship(facts, REF)
    fields = {f.field for f in findings if f.level == ERROR}
    assert {"apprenti_date_naissance", "date_fin_contrat", "duree_hebdo_minutes",
            "numero_contrat_precedent", "date_effet_avenant", "remuneration_1"} <= fields
    warnings = {f.field for f in findings if f.level == WARNING}
    assert {"date_fin_contrat", "salaire_minimum_conventionnel"} <= warnings   # C17, C18
    assert "date_conclusion" not in fields            # an amendment is concluded later


def test_missing_facts_give_no_findings():
    assert check_apprenticeship(ContractFacts(), REF) == []


@pytest.mark.parametrize("start, expected", [
    ("2026-09-01", "2026-09-07"), ("2026-04-30", "2026-05-07"), ("2026-05-06", "2026-05-13"),
    ("2026-07-10", "2026-07-17"), ("2026-05-12", "2026-05-19"), ("2026-08-12", "2026-08-19"),
], ids=["plain_week", "over_1_may", "over_8_may", "over_14_july", "over_ascension",
        "over_15_august"])
def test_opco_deadline(start, expected):
    assert opco_deadline(D(start)) == D(expected)


@pytest.mark.parametrize("dispositif, word", [("apprentissage", "refusé"),
                                              ("professionnalisation", "acceptée")],
                         ids=["apprenticeship_silence_refusal", "pro_silence_acceptance"])
def test_opco_decision_deadline(dispositif, word):
    deadline, meaning = opco_decision_deadline(D("2026-09-07"), dispositif)
    assert deadline == D("2026-09-27") and word in meaning


@pytest.mark.parametrize("start, days, expected", [
    ("2026-09-01", 45, "2026-10-15"), ("2026-09-01", 30, "2026-09-30"),
    ("2026-12-20", 45, "2027-02-02"),
], ids=["default_45", "custom_days", "over_new_year"])
def test_trial_period_end(start, days, expected):
    assert trial_period_end(D(start), days) == D(expected)


# --- professionalisation -------------------------------------------------------------------

PRO = ContractFacts(
    birth_date=D("2003-06-01"), conclusion=D("2026-08-20"), start=D("2026-09-01"),
    end=D("2027-08-31"), training_hours=300, weekly_hours=35, weekly_minutes=0,
    tutor_experience_years=5, tutor_trainee_count=1,
    remuneration=[EnteredPeriod(Decimal("70"))],
)


@pytest.mark.parametrize("changes, expected", [
    ({}, []),
    ({"end": D("2027-02-28"), "training_hours": 150}, []),
    ({"end": D("2027-02-27"), "training_hours": 150},
     [("date_fin_contrat", ERROR, "6 mois")]),
    ({"end": D("2027-09-30"), "remuneration": None}, [("date_fin_contrat", ERROR, "12 mois")]),
    ({"end": D("2027-09-30"), "branch_extended_duration": True, "training_hours": 330,
      "remuneration": None}, []),
    ({"end": D("2028-09-30"), "branch_extended_duration": True, "training_hours": 800,
      "remuneration": None}, [("date_fin_contrat", ERROR, "24 mois")]),
    ({"end": D("2029-08-31"), "priority_group": True, "training_hours": 800,
      "remuneration": None}, []),
    ({"end": D("2029-09-01"), "priority_group": True, "training_hours": 800,
      "remuneration": None},
     [("date_fin_contrat", ERROR, "36 mois")]),
    ({"training_hours": 241}, [("duree_formation_heures", ERROR, "242\u00a0h")]),
    ({"training_hours": 242}, []),
    ({"end": D("2027-02-28"), "training_hours": 149},
     [("duree_formation_heures", ERROR, "150 h")]),
    ({"training_hours": 402}, [("duree_formation_heures", WARNING, "accord de branche")]),
    ({"training_hours": 402, "branch_training_above_25": True}, []),
    ({"tutor_experience_years": 1}, [("tuteur_experience", ERROR, "2 ans")]),
    ({"tutor_experience_years": 2}, []),
    ({"tutor_trainee_count": 4}, [("tuteur_nombre_salaries", ERROR, "3 au plus")]),
    ({"tutor_trainee_count": 3}, []),
    ({"birth_date": D("2011-01-15"), "legal_representative_present": True},
     [("apprenti_date_naissance", ERROR, "16 ans")]),
    ({"remuneration": [EnteredPeriod(Decimal("55"))]},
     [("remuneration_1", ERROR, "70\u00a0% minimum")]),
    ({"remuneration": [EnteredPeriod(Decimal("70"))], "qualified_level4": True},
     [("remuneration_1", ERROR, "80\u00a0% minimum")]),
], ids=["valid", "pass_6_months", "fail_under_6_months", "fail_13_months",
        "pass_13_months_branch", "fail_25_months_branch", "pass_36_months_priority",
        "fail_over_36_months_priority", "fail_training_under_15_percent",
        "pass_training_15_percent",
        "fail_training_under_150h", "warn_training_over_25_percent",
        "pass_training_over_25_percent_branch", "fail_tutor_1_year", "pass_tutor_2_years",
        "fail_tutor_4_trainees", "pass_tutor_3_trainees", "fail_age_15", "fail_pay_below_70",
        "fail_pay_below_80_level4"])
def test_check_professionalisation(changes, expected):
    findings = [f for f in check_professionalisation(replace(PRO, **changes), REF)
                if f.level != INFO]
    assert [(f.field, f.level) for f in findings] == [(fld, lvl) for fld, lvl, _ in expected], \
        findings
    for finding, (_, _, words) in zip(findings, expected):
        assert words in finding.message, finding.message
    assert has_errors(findings) is any(lvl == ERROR for _, lvl, _ in expected)
