"""Contract checks C1–C18 (RULES.md §3) and the professionalisation limits: the whole set.

Every check is a small pure function taking a `ContractFacts` and returning a list of
`Finding(level, field, message)`, messages in French naming the CERFA field. A check whose
inputs are missing returns nothing: completeness (required fields) is checked elsewhere.

The checks live by concern; this module runs them together and keeps every name importable
from ``portal.rules.contract``:

- contract_facts: the facts, the legal limits (constants), the codes, MASTER2_FIELDS;
- contract_age: C1–C4 (minimum and maximum age, dérogations, legal representative);
- contract_dates: C5–C9, C17 (conclusion, duration, practical and CFA start, end after the
  exams but not before them);
- contract_hours: C10–C11 (training hours, weekly working time);
- contract_masters: C12–C13 (maîtres d'apprentissage, contract numbers);
- contract_followup: C14–C16, C18 (minimum pay, OPCO deadlines, trial period, SMC asked);
- professionalisation: the professionalisation contract's own limits.
"""
from __future__ import annotations

from typing import Callable

from . import Finding
from .contract_age import (check_derogation, check_legal_representative, check_maximum_age,
                           check_minimum_age)
from .contract_dates import (check_cfa_start, check_conclusion_date, check_duration,
                             check_end_after_exams, check_end_not_before_exams,
                             check_practical_start, duration_findings, max_duration_months)
from .contract_facts import (
    AMENDMENT_TYPES, ANNUAL_HOURS, CERFA_WEEKLY_HOURS, CFA_START_WINDOW_MONTHS,
    DEROGATION_CUMULATIVE, DEROGATION_LONGER, DEROGATION_OVER_29, DEROGATION_UNDER_16,
    EXAMS_ERROR_MONTHS, EXAMS_WARNING_MONTHS, INITIAL_TYPES, MASTER2_FIELDS,
    MASTER_MAX_APPRENTICES, MASTER_MIN_AGE, MAX_AGE, MAX_AGE_AFTER_PREVIOUS_CONTRACT,
    MAX_MONTHS, MAX_MONTHS_EXTENDED, MIN_AGE, MIN_AGE_WITHOUT_DEROGATION, MIN_MONTHS,
    MIN_TRAINING_SHARE, MINOR_BUILDING_WEEKLY_HOURS, MINOR_WEEKLY_HOURS, NEW_CONTRACT_TYPES,
    OPCO_DEADLINE_WORKING_DAYS, OPCO_DECISION_DAYS, PRACTICAL_START_MAX_MONTHS,
    PRO_MAX_MONTHS, PRO_MAX_MONTHS_BRANCH, PRO_MAX_MONTHS_PRIORITY, PRO_MIN_MONTHS,
    PRO_TRAINING_MAX_SHARE, PRO_TRAINING_MIN_HOURS, PRO_TRAINING_MIN_SHARE,
    PROLONGATION_MONTHS, PROLONGATION_TYPE, TRIAL_PERIOD_DAYS, TUTOR_MAX_TRAINEES,
    TUTOR_MIN_EXPERIENCE_YEARS, ContractFacts)
from .contract_followup import (SMC_FROM_AGE, check_opco_deadline, check_remuneration,
                                check_smc_asked, check_trial_period, opco_deadline,
                                opco_decision_deadline, reaches_smc_age, trial_period_end)
from .contract_hours import check_training_hours, check_weekly_hours, required_training_hours
from .contract_masters import check_contract_numbers, check_masters
from .professionalisation import (
    check_professionalisation, check_professionalisation_age,
    check_professionalisation_duration, check_professionalisation_training, check_tutor)
from .reference import ReferenceData

__all__ = ["AMENDMENT_TYPES", "ANNUAL_HOURS", "APPRENTICESHIP_CHECKS", "CERFA_WEEKLY_HOURS",
           "CFA_START_WINDOW_MONTHS", "DEROGATION_CUMULATIVE", "DEROGATION_LONGER",
           "DEROGATION_OVER_29", "DEROGATION_UNDER_16", "EXAMS_ERROR_MONTHS",
           "EXAMS_WARNING_MONTHS", "INITIAL_TYPES", "MASTER2_FIELDS", "MASTER_MAX_APPRENTICES",
           "MASTER_MIN_AGE", "MAX_AGE", "MAX_AGE_AFTER_PREVIOUS_CONTRACT", "MAX_MONTHS",
           "MAX_MONTHS_EXTENDED", "MIN_AGE", "MIN_AGE_WITHOUT_DEROGATION", "MIN_MONTHS",
           "MIN_TRAINING_SHARE", "MINOR_BUILDING_WEEKLY_HOURS", "MINOR_WEEKLY_HOURS",
           "NEW_CONTRACT_TYPES", "OPCO_DEADLINE_WORKING_DAYS", "OPCO_DECISION_DAYS",
           "PRACTICAL_START_MAX_MONTHS", "PRO_MAX_MONTHS", "PRO_MAX_MONTHS_BRANCH",
           "PRO_MAX_MONTHS_PRIORITY", "PRO_MIN_MONTHS", "PRO_TRAINING_MAX_SHARE",
           "PRO_TRAINING_MIN_HOURS", "PRO_TRAINING_MIN_SHARE", "PROLONGATION_MONTHS",
           "PROLONGATION_TYPE", "SMC_FROM_AGE", "TRIAL_PERIOD_DAYS", "TUTOR_MAX_TRAINEES",
           "TUTOR_MIN_EXPERIENCE_YEARS", "check_apprenticeship", "check_cfa_start",
           "check_conclusion_date", "check_contract_numbers", "check_derogation", "check_duration",
           "check_end_after_exams", "check_end_not_before_exams", "check_legal_representative",
           "check_masters", "check_maximum_age", "check_minimum_age", "check_opco_deadline",
           "check_practical_start", "check_professionalisation", "check_professionalisation_age",
           "check_professionalisation_duration", "check_professionalisation_training",
           "check_remuneration", "check_smc_asked", "check_training_hours", "check_trial_period",
           "check_tutor", "check_weekly_hours", "ContractFacts", "duration_findings",
           "max_duration_months", "opco_deadline", "opco_decision_deadline", "reaches_smc_age",
           "required_training_hours", "trial_period_end"]

APPRENTICESHIP_CHECKS: tuple[Callable[[ContractFacts], list[Finding]], ...] = (
    check_minimum_age,            # C1
    check_maximum_age,            # C2
    check_derogation,             # C3
    check_legal_representative,   # C4
    check_conclusion_date,        # C5
    check_duration,               # C6
    check_practical_start,        # C7
    check_cfa_start,              # C8
    check_end_after_exams,        # C9
    check_training_hours,         # C10
    check_weekly_hours,           # C11
    check_masters,                # C12
    check_contract_numbers,       # C13
    # C14 (remuneration) needs the reference data: see check_apprenticeship
    check_opco_deadline,          # C15
    check_trial_period,           # C16
    check_end_not_before_exams,   # C17
    check_smc_asked,              # C18
    # C19 (training identifiers) is checked where the training is entered:
    # portal.rules.training_identifiers, on the training's form
)


def check_apprenticeship(facts: ContractFacts,
                         reference: ReferenceData | None = None) -> list[Finding]:
    """Every check C1–C18 of an apprenticeship contract."""
    findings: list[Finding] = []
    for check in APPRENTICESHIP_CHECKS:
        findings.extend(check(facts))
    findings.extend(check_remuneration(facts, reference))
    return findings
