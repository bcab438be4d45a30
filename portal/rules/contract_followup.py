"""Contract checks C14–C16 and C18 (RULES.md §3), what follows the signature: the minimum pay
of every period and the SMC it may need, the OPCO deadlines, the trial period."""
from __future__ import annotations

from datetime import date, timedelta

from . import INFO, WARNING, Finding
from .contract_facts import (OPCO_DEADLINE_WORKING_DAYS, OPCO_DECISION_DAYS, TRIAL_PERIOD_DAYS,
                             ContractFacts)
from .dates import add_working_days, age_on, birthday, first_day_of_next_month
from .formatting import day as fr_day
from .reference import ReferenceData
from .remuneration import APPRENTISSAGE, PROFESSIONNALISATION, minimum_schedule, \
    remuneration_findings


def check_remuneration(f: ContractFacts, reference: ReferenceData | None = None, *,
                       dispositif: str = APPRENTISSAGE) -> list[Finding]:
    """C14: every entered period is paid at least the legal minimum (RULES.md §1–§2)."""
    if f.remuneration is None or not (f.birth_date and f.start and f.end) or f.end < f.start:
        return []
    minimum = minimum_schedule(f.birth_date, f.start, f.end, dispositif=dispositif,
                               smc_monthly=f.smc_monthly, qualified_level4=f.qualified_level4,
                               mayotte=f.mayotte, reference=reference)
    return remuneration_findings(f.remuneration, minimum)


SMC_FROM_AGE = 21   # D6222-27: from 21, the percent applies to the SMC when it is higher


def reaches_smc_age(birth: date, start: date, end: date) -> bool:
    """True when some remuneration period of [start, end] is in a band from 21: the apprentice
    is 21 at the start, or the 21 band begins (1st of the month after the birthday, D6222-31)
    on or before the end."""
    if age_on(birth, start) >= SMC_FROM_AGE:
        return True
    return first_day_of_next_month(birthday(birth, SMC_FROM_AGE)) <= end


def check_smc_asked(f: ContractFacts) -> list[Finding]:
    """C18: the salaire minimum conventionnel is asked when the apprentice is 21 or more in
    some period: the CERFA's grid needs it to choose between the SMIC and the SMC."""
    if f.smc_monthly is not None or not (f.birth_date and f.start and f.end) or f.end < f.start:
        return []
    if not reaches_smc_age(f.birth_date, f.start, f.end):
        return []
    if age_on(f.birth_date, f.start) >= SMC_FROM_AGE:
        when = "dès le début du contrat"
    else:
        band_start = first_day_of_next_month(birthday(f.birth_date, SMC_FROM_AGE))
        when = f"à partir du {fr_day(band_start)}"
    return [Finding(WARNING, "salaire_minimum_conventionnel",
                    f"L'apprenti relève de la tranche des {SMC_FROM_AGE} ans et plus {when} : "
                    "indiquez le salaire minimum "
                    "conventionnel de l'emploi (mensuel), qui remplace le SMIC dans la grille "
                    "de rémunération s'il est plus élevé.")]


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
