"""Aids shown to the employer and to the apprentice (RULES.md §5). Pure functions; every
amount comes from ReferenceData (aides_employeur.csv, participation_employeur.csv, apprentice
aids)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import NamedTuple

from .dates import age_on, birthday
from .formatting import day as fr_day
from .formatting import eur
from .formatting import percent as fr_percent
from .reference import ReferenceData, get_reference
from .remuneration import APPRENTISSAGE


def employer_aid(conclusion: date | None, employees: int | None, diploma_level: int | None,
                 rqth: bool = False,
                 reference: ReferenceData | None = None) -> tuple[Decimal | None, str]:
    """Employer aid for an apprenticeship contract (paid the first year), by date of
    conclusion, headcount (effectif), diploma level (3–8) and RQTH.

    Returns (amount, French label), amount None when no aid applies. An RQTH apprentice gets
    the RQTH aid where one matches, otherwise the ordinary aid."""
    if conclusion is None or employees is None or diploma_level is None:
        return None, ("Renseignez la date de conclusion, l'effectif de l'entreprise et le niveau "
                      "du diplôme préparé pour connaître l'aide à l'embauche.")
    ref = reference or get_reference()
    level = int(diploma_level)

    def best(rqth_rule: bool):
        rules = [r for r in ref.employer_aids if r.matches(conclusion, employees, level, rqth_rule)]
        return max(rules, key=lambda r: r.amount) if rules else None

    rule = (best(True) if rqth else None) or best(False)
    if rule is None:
        return None, (f"Aucune aide à l'embauche pour ce contrat conclu le {fr_day(conclusion)} "
                      f"(entreprise de {employees} salarié{'s' if employees > 1 else ''}, "
                      f"diplôme de niveau {level}"
                      f"{', apprenti reconnu travailleur handicapé' if rqth else ''}).")
    return rule.amount, f"{rule.label} : {eur(rule.amount)} (versée la première année)."


def employer_participation(conclusion: date | None, diploma_level: int | None,
                           dispositif: str = APPRENTISSAGE,
                           reference: ReferenceData | None = None) -> Decimal:
    """The employer's flat participation in the training cost (décret 2025-1031): 750 € for
    a level 6–7 apprenticeship contract concluded from 2025-07-01, per
    participation_employeur.csv; Decimal("0") when none is due."""
    if dispositif != APPRENTISSAGE or conclusion is None or diploma_level is None:
        return Decimal("0")
    ref = reference or get_reference()
    rules = [r for r in ref.employer_participation
             if r.concluded_from <= conclusion and r.level_min <= int(diploma_level) <= r.level_max]
    return max(rules, key=lambda r: r.concluded_from).amount if rules else Decimal("0")


class ApprenticeAid(NamedTuple):
    name: str
    amount: str
    where: str
    eligible: bool
    reason: str


def apprentice_aids(birth_date: date | None, start: date | None, end: date | None,
                    monthly_pay: Decimal | None, smic_monthly: Decimal | None = None,
                    reference: ReferenceData | None = None) -> list[ApprenticeAid]:
    """Aids to show the apprentice (Vie étudiante): aide au permis B, Mobili-Jeune, APL, prime
    d'activité, carte d'étudiant des métiers, frais annexes. Ages are taken at the start of the
    contract; a minimum age reached during the contract makes the aid available from the
    birthday. `smic_monthly` defaults to the SMIC in force at the start."""
    ref = reference or get_reference()
    if smic_monthly is None and start is not None:
        smic_monthly = ref.smic_monthly_on(start)
    aids = []
    for rule in ref.apprentice_aids:
        eligible, reasons = True, []
        if rule.age_min is not None or rule.age_below is not None:
            if birth_date is None or start is None:
                eligible = False
                reasons.append("renseignez la date de naissance et le début du contrat")
            else:
                age = age_on(birth_date, start)
                if rule.age_min is not None:
                    turns = birthday(birth_date, rule.age_min)
                    if age >= rule.age_min:
                        reasons.append(f"l'apprenti a {age} ans au début du contrat")
                    elif end is not None and turns <= end:
                        reasons.append(f"à partir du {fr_day(turns)} ({rule.age_min} ans)")
                    else:
                        eligible = False
                        reasons.append(f"réservée aux apprentis d'au moins {rule.age_min} ans")
                if rule.age_below is not None:
                    if age < rule.age_below:
                        reasons.append(f"l'apprenti a moins de {rule.age_below} ans")
                    else:
                        eligible = False
                        reasons.append(f"réservée aux moins de {rule.age_below} ans")
        if rule.pay_min_percent_smic is not None:
            if monthly_pay is None or smic_monthly is None:
                eligible = False
                reasons.append("renseignez le salaire pour le savoir")
            else:
                threshold = Decimal(smic_monthly) * rule.pay_min_percent_smic / 100
                share = f"environ {fr_percent(rule.pay_min_percent_smic)} du SMIC"
                if Decimal(monthly_pay) >= threshold:
                    reasons.append(f"le salaire atteint {share} ({eur(threshold)})")
                else:
                    eligible = False
                    reasons.append(f"le salaire n'atteint pas {share} ({eur(threshold)})")
        if rule.note:
            reasons.append(rule.note)
        reason = " ; ".join(reasons)
        aids.append(ApprenticeAid(rule.name, rule.amount, rule.where, eligible,
                                  reason[:1].upper() + reason[1:] + "." if reason else ""))
    return aids
