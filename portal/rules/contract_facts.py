"""The facts of a contract (CERFA FA13 / EJ20) and the legal limits the checks apply.

`ContractFacts` holds plain values, every one optional (None = not known yet); the checks of
portal.rules.contract_age, contract_dates, contract_hours, contract_masters, contract_followup
and portal.rules.professionalisation read it. Dated figures (SMIC, grids, aids) are in
ReferenceData, never here.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Mapping, Sequence

from .dates import months_and_days

# Legal limits of the contract itself (Code du travail); dated figures (SMIC, grids, aids) are
# in ReferenceData, never here.
MIN_AGE, MIN_AGE_WITHOUT_DEROGATION = 15, 16          # L6222-1
MAX_AGE, MAX_AGE_AFTER_PREVIOUS_CONTRACT = 29, 34     # L6222-1, L6222-2, D6222-1-1 (34 révolus)
MIN_MONTHS, MAX_MONTHS, MAX_MONTHS_EXTENDED = 6, 36, 48   # L6222-7-1, L6222-37 (RQTH)
PROLONGATION_MONTHS = 12                               # L6222-11 (échec à l'examen)
PRACTICAL_START_MAX_MONTHS = 3                         # L6222-12
CFA_START_WINDOW_MONTHS = 3                            # L6222-12, L6222-12-1
EXAMS_WARNING_MONTHS, EXAMS_ERROR_MONTHS = 2, 3
ANNUAL_HOURS = Decimal("1607")                         # L3121-41
MIN_TRAINING_SHARE = Decimal("25")                     # L6211-2: 25 % of the contract duration
MINOR_WEEKLY_HOURS, MINOR_BUILDING_WEEKLY_HOURS, CERFA_WEEKLY_HOURS = 35, 40, 40  # L3162-1
MASTER_MIN_AGE, MASTER_MAX_APPRENTICES = 18, 2         # R6223-6
OPCO_DEADLINE_WORKING_DAYS, OPCO_DECISION_DAYS = 5, 20  # R6224-1, R6224-2 / D6325-2
TRIAL_PERIOD_DAYS = 45                                 # L6222-18
PRO_MIN_MONTHS, PRO_MAX_MONTHS = 6, 12                 # L6325-11
PRO_MAX_MONTHS_BRANCH, PRO_MAX_MONTHS_PRIORITY = 24, 36  # L6325-12
PRO_TRAINING_MIN_SHARE, PRO_TRAINING_MAX_SHARE = Decimal("15"), Decimal("25")  # L6325-13
PRO_TRAINING_MIN_HOURS = 150                           # L6325-13
TUTOR_MIN_EXPERIENCE_YEARS, TUTOR_MAX_TRAINEES = 2, 3  # D6325-6, D6325-9

INITIAL_TYPES = {"11", "21", "22", "23"}
NEW_CONTRACT_TYPES = {"21", "22", "23"}
AMENDMENT_TYPES = {"31", "32", "33", "34", "35", "36", "37", "38"}
PROLONGATION_TYPE = "33"
DEROGATION_UNDER_16, DEROGATION_OVER_29 = "11", "12"
DEROGATION_LONGER, DEROGATION_CUMULATIVE = "22", "50"

# Keys of ContractFacts.master2; the CERFA field is "maitre_2_<key>".
MASTER2_FIELDS = {
    "nom": "le nom de naissance", "prenom": "le prénom",
    "date_naissance": "la date de naissance", "courriel": "le courriel",
    "emploi": "l'emploi occupé", "diplome": "le diplôme ou titre le plus élevé",
    "niveau_diplome": "le niveau de ce diplôme",
}


@dataclass
class ContractFacts:
    """Plain facts of a contract, every field optional (None = not known yet)."""

    # Apprentice
    birth_date: date | None = None
    emancipated: bool = False
    college_completed: bool = False          # dernière classe: collège achevé (code 40 or more)
    rqth: bool = False
    high_level_athlete: bool = False
    business_project: bool = False           # création / reprise d'entreprise
    previous_contract_end: date | None = None  # end of a previous apprenticeship (35-year rule)
    legal_representative_present: bool = False
    age_limit_override_reason: str | None = None  # CFA override of C2, with its reason
    # Dates
    conclusion: date | None = None
    start: date | None = None                # début d'exécution du contrat
    practical_start: date | None = None      # début de la formation pratique chez l'employeur
    cfa_start: date | None = None            # début de la formation au CFA
    end: date | None = None
    exams_end: date | None = None            # date prévue de fin des épreuves ou examens
    # Training and working time
    training_hours: Decimal | int | None = None
    weekly_hours: int | None = None
    weekly_minutes: int | None = None
    minor_building_sector: bool = False      # BTP / paysage: 40 h for minors
    # Codes
    derogation: str | None = None            # type_derogation (11, 12, 21, 22, 50, 60)
    contract_type: str | None = None         # type_contrat (11, 21–23, 31–38)
    previous_contract_number: str | None = None
    amendment_effective: date | None = None  # date d'effet de l'avenant
    # Maîtres d'apprentissage
    master1_birth: date | None = None
    master2: Mapping[str, Any] | None = None  # keys of MASTER2_FIELDS; all or nothing
    master_apprentice_count: int | None = None  # apprentices of maître 1, this one included
    master_repeating_extra: bool = False     # one of them repeats after an exam failure (+1)
    employer_attests_master_eligibility: bool | None = None
    # Remuneration (C14)
    remuneration: Sequence[Any] | None = None   # entered periods (see remuneration_findings)
    smc_monthly: Decimal | None = None
    mayotte: bool = False
    qualified_level4: bool = False           # professionalisation: bac pro / level 4+
    # OPCO (C15)
    sent_to_opco: date | None = None
    today: date | None = None
    # Professionalisation
    branch_extended_duration: bool = False   # up to 24 months by branch agreement
    priority_group: bool = False             # up to 36 months (L6325-1-1)
    branch_training_above_25: bool = False   # training above 25 % allowed by branch agreement
    tutor_experience_years: Decimal | int | None = None
    tutor_trainee_count: int | None = None


def is_code(code: str | None, *values: str) -> bool:
    return (code or "").strip() in values


def age_text(age: int) -> str:
    return f"{age} an" if age == 1 else f"{age} ans"


def duration_text(start: date, end: date) -> str:
    months, days = months_and_days(start, end)
    text = f"{months} mois"
    if days:
        text += f" et {days} jour" + ("s" if days > 1 else "")
    return text

