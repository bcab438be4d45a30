"""Contract checks C1–C16 (RULES.md §3) and the professionalisation limits.

Every check is a small pure function taking a `ContractFacts` and returning a list of
`Finding(level, field, message)`, messages in French naming the CERFA field. A check whose
inputs are missing returns nothing: completeness (required fields) is checked elsewhere.
Ages are in whole years on the reference date of the check (start of execution, or date of
conclusion for the legal representative and the 35-year exception).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Callable, Mapping, Sequence

from . import ERROR, INFO, WARNING, Finding
from .dates import add_months, add_working_days, age_on, duration_in_months, months_and_days
from .formatting import day as fr_day
from .identifiers import is_valid_cerfa_contract_number
from .reference import ReferenceData
from .remuneration import APPRENTISSAGE, PROFESSIONNALISATION, minimum_schedule, \
    remuneration_findings

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


def _is(code: str | None, *values: str) -> bool:
    return (code or "").strip() in values


def _age_text(age: int) -> str:
    return f"{age} an" if age == 1 else f"{age} ans"


def _duration_text(start: date, end: date) -> str:
    months, days = months_and_days(start, end)
    text = f"{months} mois"
    if days:
        text += f" et {days} jour" + ("s" if days > 1 else "")
    return text


# --- C1–C3: age ------------------------------------------------------------------------------

def check_minimum_age(f: ContractFacts) -> list[Finding]:
    """C1: at least 15 at the start; 15-year-olds need the collège completed and dérogation 11."""
    if not (f.birth_date and f.start):
        return []
    age = age_on(f.birth_date, f.start)
    if age >= MIN_AGE_WITHOUT_DEROGATION:
        return []
    if age < MIN_AGE:
        return [Finding(ERROR, "apprenti_date_naissance",
                        f"L'apprenti aura {_age_text(age)} au début d'exécution du contrat "
                        f"({fr_day(f.start)}) : l'âge minimum est de 15 ans.")]
    findings = []
    if not f.college_completed:
        findings.append(Finding(ERROR, "derniere_classe",
                                "L'apprenti aura 15 ans au début d'exécution du contrat : il "
                                "doit avoir achevé le premier cycle de l'enseignement secondaire "
                                "(collège)."))
    if not _is(f.derogation, DEROGATION_UNDER_16, DEROGATION_CUMULATIVE):
        findings.append(Finding(ERROR, "type_derogation",
                                "L'apprenti aura 15 ans au début d'exécution du contrat : "
                                "indiquez la dérogation 11 (âge inférieur à 16 ans)."))
    return findings


def _no_age_limit(f: ContractFacts) -> bool:
    """RQTH, sportif de haut niveau, business creation or takeover project (L6222-2)."""
    return f.rqth or f.high_level_athlete or f.business_project


def check_maximum_age(f: ContractFacts) -> list[Finding]:
    """C2: at most 29 at the start, unless RQTH, high-level athlete or business project (no
    limit), or a new contract concluded within a year after the previous one (under 35 at
    the conclusion). Overridable by the CFA with a reason (then a warning)."""
    if not (f.birth_date and f.start):
        return []
    age = age_on(f.birth_date, f.start)
    if age <= MAX_AGE:
        return []
    needs_derogation = [] if _is(f.derogation, DEROGATION_OVER_29, DEROGATION_CUMULATIVE) else [
        Finding(WARNING, "type_derogation",
                f"L'apprenti aura {_age_text(age)} au début du contrat : indiquez la "
                "dérogation 12 (âge supérieur à 29 ans).")]
    if _no_age_limit(f):
        return needs_derogation
    reference_day = f.conclusion or f.start
    if f.previous_contract_end and reference_day <= add_months(f.previous_contract_end, 12):
        age_at_conclusion = age_on(f.birth_date, reference_day)
        if age_at_conclusion <= MAX_AGE_AFTER_PREVIOUS_CONTRACT:
            return needs_derogation
        message = (f"L'apprenti aura {_age_text(age_at_conclusion)} à la conclusion du contrat : "
                   "même à la suite d'un précédent contrat d'apprentissage, l'âge maximum est "
                   "de 34 ans révolus (moins de 35 ans).")
    elif f.previous_contract_end:
        message = (f"L'apprenti aura {_age_text(age)} au début du contrat : la limite de 29 ans "
                   "révolus ne peut être portée à 34 ans que si le contrat est conclu dans "
                   f"l'année qui suit la fin du précédent ({fr_day(f.previous_contract_end)}).")
    else:
        message = (f"L'apprenti aura {_age_text(age)} au début du contrat : l'âge maximum est "
                   "de 29 ans révolus, sauf travailleur handicapé, sportif de haut niveau, "
                   "projet de création ou de reprise d'entreprise, ou nouveau contrat conclu "
                   "moins d'un an après le précédent (jusqu'à 34 ans révolus).")
    if f.age_limit_override_reason:
        return [Finding(WARNING, "apprenti_date_naissance",
                        f"{message} Dérogation accordée par le CFA : "
                        f"{f.age_limit_override_reason.strip().rstrip('.')}.")]
    return [Finding(ERROR, "apprenti_date_naissance", message)]


def check_derogation(f: ContractFacts) -> list[Finding]:
    """C3: dérogation 11 only under 16, dérogation 12 only from 30 (age at the start)."""
    if not (f.birth_date and f.start and f.derogation):
        return []
    age = age_on(f.birth_date, f.start)
    if _is(f.derogation, DEROGATION_UNDER_16) and age >= MIN_AGE_WITHOUT_DEROGATION:
        return [Finding(ERROR, "type_derogation",
                        f"La dérogation 11 (âge inférieur à 16 ans) ne s'applique pas : "
                        f"l'apprenti aura {_age_text(age)} au début du contrat.")]
    if _is(f.derogation, DEROGATION_OVER_29) and age <= MAX_AGE:
        return [Finding(ERROR, "type_derogation",
                        f"La dérogation 12 (âge supérieur à 29 ans) ne s'applique pas : "
                        f"l'apprenti aura {_age_text(age)} au début du contrat.")]
    return []


# --- C4–C9: people and dates -----------------------------------------------------------------

def check_legal_representative(f: ContractFacts) -> list[Finding]:
    """C4: a minor not emancipated at the date of conclusion needs a legal representative."""
    reference_day = f.conclusion or f.start
    if not (f.birth_date and reference_day) or f.emancipated:
        return []
    age = age_on(f.birth_date, reference_day)
    if age >= 18 or f.legal_representative_present:
        return []
    return [Finding(ERROR, "representant_legal",
                    f"L'apprenti sera mineur ({_age_text(age)}) à la conclusion du contrat et "
                    "n'est pas émancipé : le représentant légal doit être renseigné et "
                    "signer le contrat.")]


def check_conclusion_date(f: ContractFacts) -> list[Finding]:
    """C5: an initial contract is concluded at the latest on the start of execution."""
    if not (f.conclusion and f.start) or _is(f.contract_type, *AMENDMENT_TYPES):
        return []
    if f.conclusion <= f.start:
        return []
    return [Finding(ERROR, "date_conclusion",
                    f"La date de conclusion ({fr_day(f.conclusion)}) ne peut pas être "
                    f"postérieure à la date de début d'exécution du contrat "
                    f"({fr_day(f.start)}).")]


def max_duration_months(f: ContractFacts) -> int:
    months = MAX_MONTHS_EXTENDED if (
        f.rqth or _is(f.derogation, DEROGATION_LONGER, DEROGATION_CUMULATIVE)) else MAX_MONTHS
    if _is(f.contract_type, PROLONGATION_TYPE):
        months += PROLONGATION_MONTHS
    return months


def _duration_findings(start: date, end: date, min_months: int, max_months: int,
                       max_reason: str) -> list[Finding]:
    if end <= start:
        return [Finding(ERROR, "date_fin_contrat",
                        f"La date de fin du contrat ({fr_day(end)}) doit être postérieure à la "
                        f"date de début d'exécution ({fr_day(start)}).")]
    # n months means end ≥ start + n months − 1 day (01/09 → 28/02 is 6 months).
    earliest = add_months(start, min_months) - timedelta(days=1)
    latest = add_months(start, max_months) - timedelta(days=1)
    if end < earliest:
        return [Finding(ERROR, "date_fin_contrat",
                        f"Le contrat dure {_duration_text(start, end)} : la durée minimale est "
                        f"de {min_months} mois (fin au plus tôt le {fr_day(earliest)}).")]
    if end > latest:
        return [Finding(ERROR, "date_fin_contrat",
                        f"Le contrat dure {_duration_text(start, end)} : la durée maximale est "
                        f"de {max_reason} (fin au plus tard le {fr_day(latest)}).")]
    return []


def check_duration(f: ContractFacts) -> list[Finding]:
    """C6: end after start; from 6 months to 3 years (4 with dérogation 22 or RQTH; + 1 year
    for a prolongation after an exam failure, avenant 33)."""
    if not (f.start and f.end):
        return []
    months = max_duration_months(f)
    years = months // 12
    reason = f"{years} ans"
    if months != MAX_MONTHS:
        causes = []
        if f.rqth or _is(f.derogation, DEROGATION_LONGER, DEROGATION_CUMULATIVE):
            causes.append("allongement (dérogation 22 ou travailleur handicapé)")
        if _is(f.contract_type, PROLONGATION_TYPE):
            causes.append("prolongation d'un an après échec à l'examen")
        reason += " compte tenu de " + " et ".join(causes)
    return _duration_findings(f.start, f.end, MIN_MONTHS, months, reason)


def check_practical_start(f: ContractFacts) -> list[Finding]:
    """C7: practical training at the employer starts within [start, start + 3 months], and
    not after the end of the contract."""
    if not (f.practical_start and f.start):
        return []
    field_ = "date_debut_formation_pratique"
    latest = add_months(f.start, PRACTICAL_START_MAX_MONTHS)
    if f.practical_start < f.start:
        return [Finding(ERROR, field_,
                        f"La formation pratique chez l'employeur ne peut pas commencer "
                        f"({fr_day(f.practical_start)}) avant le début d'exécution du contrat "
                        f"({fr_day(f.start)}).")]
    if f.practical_start > latest:
        return [Finding(ERROR, field_,
                        f"La formation pratique chez l'employeur doit commencer au plus tard "
                        f"3 mois après le début d'exécution du contrat, soit le "
                        f"{fr_day(latest)} (date saisie : {fr_day(f.practical_start)}).")]
    if f.end and f.practical_start > f.end:
        return [Finding(ERROR, field_,
                        f"La formation pratique chez l'employeur ({fr_day(f.practical_start)}) "
                        f"ne peut pas commencer après la fin du contrat ({fr_day(f.end)}).")]
    return []


def check_cfa_start(f: ContractFacts) -> list[Finding]:
    """C8: CFA training starts within [start − 3 months, start + 3 months]."""
    if not (f.cfa_start and f.start):
        return []
    earliest = add_months(f.start, -CFA_START_WINDOW_MONTHS)
    latest = add_months(f.start, CFA_START_WINDOW_MONTHS)
    if earliest <= f.cfa_start <= latest:
        return []
    when = "avant" if f.cfa_start < earliest else "après"
    return [Finding(ERROR, "date_debut_formation_cfa",
                    f"La formation au CFA ({fr_day(f.cfa_start)}) commence plus de 3 mois {when} "
                    f"le début d'exécution du contrat ({fr_day(f.start)}) : elle doit commencer "
                    f"entre le {fr_day(earliest)} et le {fr_day(latest)}.")]


def check_end_after_exams(f: ContractFacts) -> list[Finding]:
    """C9: the contract ends at the latest 2 months after the end of the exams (warning
    beyond, error beyond 3 months)."""
    if not (f.end and f.exams_end):
        return []
    warning_limit = add_months(f.exams_end, EXAMS_WARNING_MONTHS)
    error_limit = add_months(f.exams_end, EXAMS_ERROR_MONTHS)
    if f.end > error_limit:
        return [Finding(ERROR, "date_fin_contrat",
                        f"Le contrat se termine ({fr_day(f.end)}) plus de 3 mois après la fin "
                        f"prévue des épreuves ({fr_day(f.exams_end)}) : il doit se terminer au "
                        f"plus tard le {fr_day(warning_limit)}.")]
    if f.end > warning_limit:
        return [Finding(WARNING, "date_fin_contrat",
                        f"Le contrat se termine ({fr_day(f.end)}) plus de 2 mois après la fin "
                        f"prévue des épreuves ({fr_day(f.exams_end)}) : la fin devrait être au "
                        f"plus tard le {fr_day(warning_limit)}.")]
    return []


def required_training_hours(start: date, end: date,
                            share: Decimal = MIN_TRAINING_SHARE) -> Decimal:
    """`share` % of the contract duration on the basis of 1 607 h a year (prorated by months,
    remaining days counted as 1/30 month)."""
    return ANNUAL_HOURS * duration_in_months(start, end) / 12 * share / 100


def _hours(value: Decimal) -> str:
    rounded = value.quantize(Decimal("1"), rounding="ROUND_CEILING")
    return f"{int(rounded):,}".replace(",", "\u00a0") + "\u00a0h"


def check_training_hours(f: ContractFacts) -> list[Finding]:
    """C10: training hours at least 25 % of the contract duration (1 607 h a year)."""
    if f.training_hours is None or not (f.start and f.end) or f.end <= f.start:
        return []
    required = required_training_hours(f.start, f.end)
    hours = Decimal(f.training_hours)
    if hours >= required:
        return []
    return [Finding(WARNING, "duree_formation_heures",
                    f"La formation compte {_hours(hours)} : elle devrait représenter au moins "
                    f"25 % de la durée du contrat sur la base de 1 607 h par an, soit "
                    f"{_hours(required)}.")]


def check_weekly_hours(f: ContractFacts) -> list[Finding]:
    """C11: at most 35 h a week for a minor (40 h in building, public works and landscaping),
    40 h on the CERFA otherwise; minutes from 0 to 59."""
    findings = []
    if f.weekly_minutes is not None and not 0 <= f.weekly_minutes <= 59:
        findings.append(Finding(ERROR, "duree_hebdo_minutes",
                                "Les minutes de la durée hebdomadaire doivent être comprises "
                                "entre 0 et 59."))
    if f.weekly_hours is None:
        return findings
    if f.weekly_hours < 0:
        return findings + [Finding(ERROR, "duree_hebdo_heures",
                                   "La durée hebdomadaire de travail ne peut pas être "
                                   "négative.")]
    total = f.weekly_hours * 60 + (f.weekly_minutes or 0)
    minor = bool(f.birth_date and f.start and age_on(f.birth_date, f.start) < 18)
    if minor:
        limit = MINOR_BUILDING_WEEKLY_HOURS if f.minor_building_sector else MINOR_WEEKLY_HOURS
        if total > limit * 60:
            sector = (" dans le bâtiment, les travaux publics et le paysage"
                      if f.minor_building_sector else
                      " (40 heures dans le bâtiment, les travaux publics et le paysage)")
            findings.append(Finding(ERROR, "duree_hebdo_heures",
                                    f"L'apprenti sera mineur au début du contrat : sa durée de "
                                    f"travail ne peut dépasser {limit} heures par "
                                    f"semaine{sector}."))
    elif total > CERFA_WEEKLY_HOURS * 60:
        findings.append(Finding(ERROR, "duree_hebdo_heures",
                                "La durée hebdomadaire de travail ne peut dépasser 40 heures."))
    return findings


# --- C12–C13: maîtres d'apprentissage, contract numbers ----------------------------------------

def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def check_masters(f: ContractFacts) -> list[Finding]:
    """C12: maîtres at least 18 at the start; at most 2 apprentices per maître (+1 repeating);
    the 2nd maître is all or nothing; the employer attests the maître's eligibility."""
    findings = []
    if f.master1_birth and f.start and age_on(f.master1_birth, f.start) < MASTER_MIN_AGE:
        findings.append(Finding(ERROR, "maitre_1_date_naissance",
                                "Le maître d'apprentissage doit avoir au moins 18 ans au début "
                                "d'exécution du contrat."))
    master2 = dict(f.master2 or {})
    if any(not _blank(v) for v in master2.values()):
        for key, label in MASTER2_FIELDS.items():
            if _blank(master2.get(key)):
                findings.append(Finding(ERROR, f"maitre_2_{key}",
                                        f"Second maître d'apprentissage : renseignez {label}, "
                                        "ou laissez vide tout le bloc du second maître."))
        birth2 = master2.get("date_naissance")
        if isinstance(birth2, date) and f.start and age_on(birth2, f.start) < MASTER_MIN_AGE:
            findings.append(Finding(ERROR, "maitre_2_date_naissance",
                                    "Le second maître d'apprentissage doit avoir au moins 18 ans "
                                    "au début d'exécution du contrat."))
    if f.master_apprentice_count is not None:
        limit = MASTER_MAX_APPRENTICES + (1 if f.master_repeating_extra else 0)
        if f.master_apprentice_count > limit:
            findings.append(Finding(
                ERROR, "maitre_1_nombre_apprentis",
                f"Le maître d'apprentissage suivrait {f.master_apprentice_count} apprentis : "
                "2 au plus, plus 1 apprenti redoublant après un échec à l'examen."))
    if f.employer_attests_master_eligibility is False:
        findings.append(Finding(ERROR, "employeur_attestation_maitre",
                                "L'employeur doit attester que le maître d'apprentissage "
                                "remplit les conditions pour exercer cette fonction."))
    return findings


def check_contract_numbers(f: ContractFacts) -> list[Finding]:
    """C13: previous contract number required for amendments (31–38), asked for new contracts
    (21–23), format DDDYYYYMMNN0000; an amendment's effective date lies within the contract."""
    findings = []
    number = (f.previous_contract_number or "").strip()
    if _is(f.contract_type, *AMENDMENT_TYPES) and not number:
        findings.append(Finding(ERROR, "numero_contrat_precedent",
                                f"Pour un avenant (type {f.contract_type.strip()}), le numéro du "
                                "contrat modifié est obligatoire."))
    elif _is(f.contract_type, *NEW_CONTRACT_TYPES) and not number:
        findings.append(Finding(WARNING, "numero_contrat_precedent",
                                f"Pour un nouveau contrat (type {f.contract_type.strip()}), "
                                "indiquez le numéro du contrat précédent."))
    if number and not is_valid_cerfa_contract_number(number):
        findings.append(Finding(ERROR, "numero_contrat_precedent",
                                "Le numéro du contrat précédent doit suivre le format "
                                "DDDAAAAMMNN0000 (département, année, mois, numéro, "
                                "par exemple 075202601NC0001)."))
    if _is(f.contract_type, *AMENDMENT_TYPES):
        if f.amendment_effective is None:
            findings.append(Finding(ERROR, "date_effet_avenant",
                                    "La date d'effet de l'avenant est obligatoire."))
        elif f.start and f.end and not f.start <= f.amendment_effective <= f.end:
            findings.append(Finding(ERROR, "date_effet_avenant",
                                    f"La date d'effet de l'avenant "
                                    f"({fr_day(f.amendment_effective)}) doit être comprise entre "
                                    f"le début ({fr_day(f.start)}) et la fin ({fr_day(f.end)}) "
                                    "du contrat."))
    return findings


# --- C14–C16: remuneration, OPCO deadline, trial period --------------------------------------

def check_remuneration(f: ContractFacts, reference: ReferenceData | None = None, *,
                       dispositif: str = APPRENTISSAGE) -> list[Finding]:
    """C14: every entered period is paid at least the legal minimum (RULES.md §1–§2)."""
    if f.remuneration is None or not (f.birth_date and f.start and f.end) or f.end < f.start:
        return []
    minimum = minimum_schedule(f.birth_date, f.start, f.end, dispositif=dispositif,
                               smc_monthly=f.smc_monthly, qualified_level4=f.qualified_level4,
                               mayotte=f.mayotte, reference=reference)
    return remuneration_findings(f.remuneration, minimum)


def opco_deadline(start: date) -> date:
    """C15: the contract must reach the OPCO within the 5 jours ouvrables following the start
    of execution: the last of them."""
    return add_working_days(start, OPCO_DEADLINE_WORKING_DAYS)


def opco_decision_deadline(sent_on: date, dispositif: str = APPRENTISSAGE) -> tuple[date, str]:
    """The OPCO decides within 20 days of receiving the contract; silence means refusal for
    an apprenticeship and acceptance for a professionalisation contract."""
    deadline = sent_on + timedelta(days=OPCO_DECISION_DAYS)
    if dispositif == PROFESSIONNALISATION:
        return deadline, "sans réponse de l'OPCO à cette date, la prise en charge est acceptée"
    return deadline, "sans réponse de l'OPCO à cette date, le dépôt est refusé"


def check_opco_deadline(f: ContractFacts) -> list[Finding]:
    """C15: gives the deadline; warns when the contract was (or is still not) sent in time."""
    if not f.start:
        return []
    deadline = opco_deadline(f.start)
    if f.sent_to_opco and f.sent_to_opco > deadline:
        return [Finding(WARNING, "date_debut_contrat",
                        f"Le contrat a été transmis à l'OPCO le {fr_day(f.sent_to_opco)}, "
                        f"après la date limite du {fr_day(deadline)} (5 jours ouvrables après "
                        "le début d'exécution).")]
    if not f.sent_to_opco and f.today and f.today > deadline:
        return [Finding(WARNING, "date_debut_contrat",
                        f"Le contrat n'a pas été transmis à l'OPCO alors que la date limite du "
                        f"{fr_day(deadline)} est dépassée (5 jours ouvrables après le début "
                        "d'exécution).")]
    if f.sent_to_opco:
        return []
    return [Finding(INFO, "date_debut_contrat",
                    f"Le contrat doit être transmis à l'OPCO au plus tard le {fr_day(deadline)} "
                    "(5 jours ouvrables après le début d'exécution).")]


def trial_period_end(practical_start: date, days_at_employer: int = TRIAL_PERIOD_DAYS) -> date:
    """C16: end of the trial period, the first 45 days, consecutive or not, of practical
    training at the employer (L6222-18).

    Assumption: without the alternation calendar, the days are taken as consecutive calendar
    days from the start of practical training, so this is the 45th calendar day (start + 44).
    Days at the CFA do not count: with a real calendar the trial period ends later, never
    earlier, so this date is the earliest possible end."""
    return practical_start + timedelta(days=days_at_employer - 1)


def check_trial_period(f: ContractFacts) -> list[Finding]:
    """C16: information on the trial period."""
    if not f.practical_start:
        return []
    return [Finding(INFO, "date_debut_formation_pratique",
                    "Période d'essai : les 45 premiers jours, consécutifs ou non, de formation "
                    "pratique chez l'employeur ; sans calendrier d'alternance, elle prend fin au "
                    f"plus tôt le {fr_day(trial_period_end(f.practical_start))} (les jours "
                    "passés au CFA ne comptent pas).")]


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
)


def check_apprenticeship(facts: ContractFacts,
                         reference: ReferenceData | None = None) -> list[Finding]:
    """Every check C1–C16 of an apprenticeship contract."""
    findings: list[Finding] = []
    for check in APPRENTICESHIP_CHECKS:
        findings.extend(check(facts))
    findings.extend(check_remuneration(facts, reference))
    return findings


# --- professionalisation -----------------------------------------------------------------------

def check_professionalisation_age(f: ContractFacts) -> list[Finding]:
    """At least 16 at the start (L6325-1)."""
    if not (f.birth_date and f.start):
        return []
    age = age_on(f.birth_date, f.start)
    if age >= MIN_AGE_WITHOUT_DEROGATION:
        return []
    return [Finding(ERROR, "apprenti_date_naissance",
                    f"Le salarié aura {_age_text(age)} au début du contrat : un contrat de "
                    "professionnalisation est possible à partir de 16 ans.")]


def check_professionalisation_duration(f: ContractFacts) -> list[Finding]:
    """6 to 12 months; 24 by branch agreement; 36 for priority groups."""
    if not (f.start and f.end):
        return []
    if f.priority_group:
        months, reason = PRO_MAX_MONTHS_PRIORITY, "36 mois pour les publics prioritaires"
    elif f.branch_extended_duration:
        months, reason = PRO_MAX_MONTHS_BRANCH, "24 mois par accord de branche"
    else:
        months, reason = PRO_MAX_MONTHS, ("12 mois (24 par accord de branche, 36 pour les "
                                          "publics prioritaires)")
    return _duration_findings(f.start, f.end, PRO_MIN_MONTHS, months, reason)


def check_professionalisation_training(f: ContractFacts) -> list[Finding]:
    """Training 15–25 % of the duration (more by branch agreement) and at least 150 h."""
    if f.training_hours is None or not (f.start and f.end) or f.end <= f.start:
        return []
    hours = Decimal(f.training_hours)
    minimum = max(required_training_hours(f.start, f.end, PRO_TRAINING_MIN_SHARE),
                  Decimal(PRO_TRAINING_MIN_HOURS))
    maximum = required_training_hours(f.start, f.end, PRO_TRAINING_MAX_SHARE)
    if hours < minimum:
        return [Finding(ERROR, "duree_formation_heures",
                        f"La formation compte {_hours(hours)} : elle doit représenter au moins "
                        "15 % de la durée du contrat (sur la base de 1 607 h par an) et au moins "
                        f"150 h, soit {_hours(minimum)}.")]
    if hours > maximum and not f.branch_training_above_25:
        return [Finding(WARNING, "duree_formation_heures",
                        f"La formation compte {_hours(hours)}, plus de 25 % de la durée du "
                        f"contrat ({_hours(maximum)}) : un accord de branche doit le prévoir.")]
    return []


def check_tutor(f: ContractFacts) -> list[Finding]:
    """Tutor with 2 years' experience, following at most 3 trainees (this one included)."""
    findings = []
    if f.tutor_experience_years is not None and \
            Decimal(f.tutor_experience_years) < TUTOR_MIN_EXPERIENCE_YEARS:
        findings.append(Finding(ERROR, "tuteur_experience",
                                "Le tuteur doit justifier d'au moins 2 ans d'expérience "
                                "professionnelle en rapport avec la qualification visée."))
    if f.tutor_trainee_count is not None and f.tutor_trainee_count > TUTOR_MAX_TRAINEES:
        findings.append(Finding(ERROR, "tuteur_nombre_salaries",
                                f"Le tuteur suivrait {f.tutor_trainee_count} salariés en "
                                "alternance : 3 au plus."))
    return findings


def check_professionalisation(facts: ContractFacts,
                              reference: ReferenceData | None = None) -> list[Finding]:
    """Checks of a professionalisation contract: age, legal representative, conclusion date,
    duration, training share, working time, tutor, minimum pay, OPCO deadline."""
    findings: list[Finding] = []
    for check in (check_professionalisation_age, check_legal_representative,
                  check_conclusion_date, check_professionalisation_duration,
                  check_professionalisation_training, check_weekly_hours, check_tutor,
                  check_opco_deadline):
        findings.extend(check(facts))
    findings.extend(check_remuneration(facts, reference, dispositif=PROFESSIONNALISATION))
    return findings
