"""Contract checks C1–C4 (RULES.md §3): the apprentice's age and the legal representative.

Ages are in whole years on the reference date of the check: the start of execution, or the
date of conclusion for the legal representative and the 35-year exception.
"""
from __future__ import annotations

from . import ERROR, WARNING, Finding
from .contract_facts import (DEROGATION_CUMULATIVE, DEROGATION_OVER_29, DEROGATION_UNDER_16,
                             MAX_AGE, MAX_AGE_AFTER_PREVIOUS_CONTRACT, MIN_AGE,
                             MIN_AGE_WITHOUT_DEROGATION, ContractFacts, age_text, is_code)
from .dates import add_months, age_on
from .formatting import day as fr_day


# --- C1–C3: age; C4: legal representative ---------------------------------------------

def check_minimum_age(f: ContractFacts) -> list[Finding]:
    """C1: at least 15 at the start; 15-year-olds need the collège completed and dérogation 11."""
    if not (f.birth_date and f.start):
        return []
    age = age_on(f.birth_date, f.start)
    if age >= MIN_AGE_WITHOUT_DEROGATION:
        return []
    if age < MIN_AGE:
        return [Finding(ERROR, "apprenti_date_naissance",
                        f"L'apprenti aura {age_text(age)} au début d'exécution du contrat "
                        f"({fr_day(f.start)}) : l'âge minimum est de 15 ans.")]
    findings = []
    if not f.college_completed:
        findings.append(Finding(ERROR, "derniere_classe",
                                "L'apprenti aura 15 ans au début d'exécution du contrat : il "
                                "doit avoir achevé le premier cycle de l'enseignement secondaire "
                                "(collège)."))
    if not is_code(f.derogation, DEROGATION_UNDER_16, DEROGATION_CUMULATIVE):
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
    needs_derogation = [] if is_code(f.derogation, DEROGATION_OVER_29, DEROGATION_CUMULATIVE) else [
        Finding(WARNING, "type_derogation",
                f"L'apprenti aura {age_text(age)} au début du contrat : indiquez la "
                "dérogation 12 (âge supérieur à 29 ans).")]
    if _no_age_limit(f):
        return needs_derogation
    reference_day = f.conclusion or f.start
    if f.previous_contract_end and reference_day <= add_months(f.previous_contract_end, 12):
        age_at_conclusion = age_on(f.birth_date, reference_day)
        if age_at_conclusion <= MAX_AGE_AFTER_PREVIOUS_CONTRACT:
            return needs_derogation
        message = (f"L'apprenti aura {age_text(age_at_conclusion)} à la conclusion du contrat : "
                   "même à la suite d'un précédent contrat d'apprentissage, l'âge maximum est "
                   "de 34 ans révolus (moins de 35 ans).")
    elif f.previous_contract_end:
        message = (f"L'apprenti aura {age_text(age)} au début du contrat : la limite de 29 ans "
                   "révolus ne peut être portée à 34 ans que si le contrat est conclu dans "
                   f"l'année qui suit la fin du précédent ({fr_day(f.previous_contract_end)}).")
    else:
        message = (f"L'apprenti aura {age_text(age)} au début du contrat : l'âge maximum est "
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
    if is_code(f.derogation, DEROGATION_UNDER_16) and age >= MIN_AGE_WITHOUT_DEROGATION:
        return [Finding(ERROR, "type_derogation",
                        f"La dérogation 11 (âge inférieur à 16 ans) ne s'applique pas : "
                        f"l'apprenti aura {age_text(age)} au début du contrat.")]
    if is_code(f.derogation, DEROGATION_OVER_29) and age <= MAX_AGE:
        return [Finding(ERROR, "type_derogation",
                        f"La dérogation 12 (âge supérieur à 29 ans) ne s'applique pas : "
                        f"l'apprenti aura {age_text(age)} au début du contrat.")]
    return []


def check_legal_representative(f: ContractFacts) -> list[Finding]:
    """C4: a minor not emancipated at the date of conclusion needs a legal representative."""
    reference_day = f.conclusion or f.start
    if not (f.birth_date and reference_day) or f.emancipated:
        return []
    age = age_on(f.birth_date, reference_day)
    if age >= 18 or f.legal_representative_present:
        return []
    return [Finding(ERROR, "representant_legal",
                    f"L'apprenti sera mineur ({age_text(age)}) à la conclusion du contrat et "
                    "n'est pas émancipé : le représentant légal doit être renseigné et "
                    "signer le contrat.")]

