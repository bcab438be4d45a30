"""Contract checks C10–C11 (RULES.md §3): training hours and weekly working time."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from . import ERROR, WARNING, Finding
from .contract_facts import (ANNUAL_HOURS, CERFA_WEEKLY_HOURS, MIN_TRAINING_SHARE,
                             MINOR_BUILDING_WEEKLY_HOURS, MINOR_WEEKLY_HOURS, ContractFacts)
from .dates import age_on, duration_in_months


def required_training_hours(start: date, end: date,
                            share: Decimal = MIN_TRAINING_SHARE) -> Decimal:
    """`share` % of the contract duration on the basis of 1 607 h a year (prorated by months,
    remaining days counted as 1/30 month)."""
    return ANNUAL_HOURS * duration_in_months(start, end) / 12 * share / 100


def hours_text(value: Decimal) -> str:
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
                    f"La formation compte {hours_text(hours)} : elle devrait représenter au moins "
                    f"25 % de la durée du contrat sur la base de 1 607 h par an, soit "
                    f"{hours_text(required)}.")]


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
