"""The limits of a professionalisation contract (L6325-1 to L6325-13, D6325-6 and D6325-9):
age, duration, training share, tutor; with the checks it shares with an apprenticeship."""
from __future__ import annotations

from decimal import Decimal

from . import ERROR, WARNING, Finding
from .contract_age import check_legal_representative
from .contract_dates import check_conclusion_date, duration_findings
from .contract_facts import (MIN_AGE_WITHOUT_DEROGATION, PRO_MAX_MONTHS, PRO_MAX_MONTHS_BRANCH,
                             PRO_MAX_MONTHS_PRIORITY, PRO_MIN_MONTHS, PRO_TRAINING_MAX_SHARE,
                             PRO_TRAINING_MIN_HOURS, PRO_TRAINING_MIN_SHARE, TUTOR_MAX_TRAINEES,
                             TUTOR_MIN_EXPERIENCE_YEARS, ContractFacts, age_text)
from .contract_followup import check_opco_deadline, check_remuneration
from .contract_hours import check_weekly_hours, hours_text, required_training_hours
from .dates import age_on
from .reference import ReferenceData
from .remuneration import PROFESSIONNALISATION


def check_professionalisation_age(f: ContractFacts) -> list[Finding]:
    """At least 16 at the start (L6325-1)."""
    if not (f.birth_date and f.start):
        return []
    age = age_on(f.birth_date, f.start)
    if age >= MIN_AGE_WITHOUT_DEROGATION:
        return []
    return [Finding(ERROR, "apprenti_date_naissance",
                    f"Le salarié aura {age_text(age)} au début du contrat : un contrat de "
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
    return duration_findings(f.start, f.end, PRO_MIN_MONTHS, months, reason)


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
                        f"La formation compte {hours_text(hours)} : elle doit représenter au "
                        "moins 15 % de la durée du contrat (sur la base de 1 607 h par an) et au "
                        f"moins 150 h, soit {hours_text(minimum)}.")]
    if hours > maximum and not f.branch_training_above_25:
        return [Finding(WARNING, "duree_formation_heures",
                        f"La formation compte {hours_text(hours)}, plus de 25 % de la durée du "
                        f"contrat ({hours_text(maximum)}) : un accord de branche doit le "
                        "prévoir.")]
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
