"""Minimum remuneration of apprentices and professionalisation trainees (RULES.md §1–§2).

Public contract: `minimum_schedule(...)` → list of `RemunerationPeriod` in date order, and
`remuneration_findings(periods_entered, minimum_periods)`.

How the schedule is cut:
- contract years are successive 12-month periods from the start of execution
  (year 1 = start … start + 1 year − 1 day); from the 4th year on, the rate is the 3rd year's,
  so year 4 runs to the end of the contract;
- the age band at the start of a period is the age on its first day; when the apprentice
  reaches 18, 21 or 26 (professionalisation: 21 or 26) inside a contract year, the new band
  applies from the first day of the month following the birthday (D6222-31) — and only when
  that day is still inside the contract year (otherwise the next year starts with the new
  band anyway); so a contract year has at most two periods and a contract at most 8;
- the amount is percent × the monthly SMIC in force on the period's first day (the latest known
  value for future dates; the Mayotte column for Mayotte), or × the SMC when it is higher and
  the apprentice is 21 or over; professionalisation from 26: max(100 % SMIC, 85 % SMC);
- the majorations (reduced duration, licence professionnelle, +15 points, previous contract's
  rate) never take the apprenticeship minimum above 100 % of its base (the SMIC, or the SMC
  when it applies and is higher): a 26-year-old on a +15-point contract stays at 100 %.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Iterable, Mapping, Sequence

from . import ERROR, Finding
from .dates import add_months, age_on, birthday, first_day_of_next_month
from .formatting import day as fr_day
from .formatting import eur, percent as fr_percent, round_cents
from .reference import (APPRENTICESHIP_BANDS, DEFAULT_PRO_SMC_PERCENT, PRO_BASE,
                        PRO_QUALIFIED, PRO_SMC, PROFESSIONALISATION_BANDS, ReferenceData,
                        get_reference)

APPRENTISSAGE, PROFESSIONNALISATION = "apprentissage", "professionnalisation"
BASE_SMIC, BASE_SMC = "SMIC", "SMC"
# RULES.md §1: the majorations never take the legal minimum above 100 % of the SMIC (or of the
# SMC, when it applies and is higher).
MAJORATION_CAP_PERCENT = Decimal("100")

_THRESHOLDS = {APPRENTISSAGE: (18, 21, 26), PROFESSIONNALISATION: (21, 26)}
_BANDS = {APPRENTISSAGE: APPRENTICESHIP_BANDS, PROFESSIONNALISATION: PROFESSIONALISATION_BANDS}
_BAND_LABELS = {
    "moins_de_18": "moins de 18 ans", "18_20": "18 à 20 ans", "21_25": "21 à 25 ans",
    "26_et_plus": "26 ans et plus", "moins_de_21": "moins de 21 ans",
}


@dataclass(frozen=True)
class RemunerationPeriod:
    """One line of the CERFA remuneration grid (dates inclusive)."""

    start: date
    end: date
    contract_year: int          # 1–4
    percent: Decimal            # in percent of `base`, e.g. Decimal("43")
    base: str                   # "SMIC" or "SMC"
    monthly_amount: Decimal     # rounded half up to the cent
    age_band: str = ""          # grid key, e.g. "18_20"
    reference_monthly: Decimal | None = None   # the monthly SMIC or SMC the percent applies to

    @property
    def age_band_label(self) -> str:
        return _BAND_LABELS.get(self.age_band, self.age_band)


def _band_index(age: int, thresholds: tuple[int, ...]) -> int:
    return sum(age >= t for t in thresholds)


def _next_change(birth: date, day: date, thresholds: tuple[int, ...]) -> date | None:
    """First day of the next age band after `day` (D6222-31), None if none is left."""
    age = age_on(birth, day)
    for threshold in thresholds:
        if age < threshold:
            return first_day_of_next_month(birthday(birth, threshold))
    return None


def _segments(birth: date, start: date, end: date,
              thresholds: tuple[int, ...]) -> list[tuple[date, date, int]]:
    """[(first day, last day, contract year)] cut at contract years and age-band changes."""
    out: list[tuple[date, date, int]] = []
    year, year_start = 1, start
    while year_start <= end:
        year_end = end if year >= 4 else min(add_months(start, 12 * year) - timedelta(days=1),
                                             end)
        current = year_start
        while current <= year_end:
            change = _next_change(birth, current, thresholds)
            last = year_end if change is None or change > year_end else change - timedelta(days=1)
            out.append((current, last, min(year, 4)))
            current = last + timedelta(days=1)
        year, year_start = year + 1, year_end + timedelta(days=1)
    return out


def minimum_schedule(birth_date: date, start: date, end: date, *,
                     dispositif: str = APPRENTISSAGE, smc_monthly: Decimal | None = None,
                     qualified_level4: bool = False, mayotte: bool = False,
                     reference: ReferenceData | None = None,
                     first_contract_year: int = 1, licence_professionnelle: bool = False,
                     extra_points: Decimal | int = 0,
                     floor_percent: Decimal | None = None) -> list[RemunerationPeriod]:
    """The legal minimum remuneration, period by period, for a contract [start, end].

    Optional adjustments (RULES.md §1), applied to the apprenticeship grid as given:
    - `first_contract_year`: reduced duration (D6222-28-1), the apprentice is deemed to have
      done the previous years (2 = the contract starts at the year-2 rate);
    - `licence_professionnelle`: year-2 rate throughout (D6222-32);
    - `extra_points`: points added to the grid percent (+15: D6222-30, or R6222-48 during an
      RQTH extension);
    - `floor_percent`: at least this percent (D6222-29: last year's rate of the previous
      contract that led to the diploma);
    none of them takes the percent above 100 (MAJORATION_CAP_PERCENT) of the period's base.
    """
    if dispositif not in _THRESHOLDS:
        raise ValueError(f"unknown dispositif: {dispositif!r}")
    if not (birth_date and start and end) or end < start:
        return []
    ref = reference or get_reference()
    thresholds, bands = _THRESHOLDS[dispositif], _BANDS[dispositif]
    smc = Decimal(smc_monthly) if smc_monthly is not None else None

    periods = []
    for first, last, year in _segments(birth_date, start, end, thresholds):
        band = bands[_band_index(age_on(birth_date, first), thresholds)]
        smic = ref.smic_monthly_on(first, mayotte=mayotte)
        base, reference_monthly = BASE_SMIC, smic
        if dispositif == APPRENTISSAGE:
            grid_year = 2 if licence_professionnelle else min(year + first_contract_year - 1, 3)
            grid_pct = ref.apprenticeship_grid[(band, grid_year)]
            pct = grid_pct + Decimal(extra_points)
            if floor_percent is not None:
                pct = max(pct, Decimal(floor_percent))
            # Majorations stop at 100 % (never below the grid itself).
            pct = min(pct, max(grid_pct, MAJORATION_CAP_PERCENT))
            # From 21: percent of the SMIC or, if higher, of the SMC.
            if band not in ("moins_de_18", "18_20") and smc is not None and smc > smic:
                base, reference_monthly = BASE_SMC, smc
        else:
            pct = ref.professionalisation_grid[(band, PRO_QUALIFIED if qualified_level4
                                                else PRO_BASE)]
            if band == "26_et_plus" and smc is not None:
                # A provider without the "smc" cell falls back on the documented default.
                smc_pct = ref.professionalisation_grid.get((band, PRO_SMC),
                                                           DEFAULT_PRO_SMC_PERCENT)
                if smc * smc_pct > smic * pct:
                    pct, base, reference_monthly = smc_pct, BASE_SMC, smc
        periods.append(RemunerationPeriod(
            start=first, end=last, contract_year=year, percent=pct, base=base,
            monthly_amount=round_cents(pct * reference_monthly / 100), age_band=band,
            reference_monthly=reference_monthly))
    return periods


# --- comparing what was entered with the minimum ----------------------------------------------

@dataclass(frozen=True)
class EnteredPeriod:
    """A remuneration line as entered on the CERFA (dates optional)."""

    percent: Decimal | None
    monthly_amount: Decimal | None = None
    start: date | None = None
    end: date | None = None


def _get(item: Any, name: str) -> Any:
    if isinstance(item, Mapping):
        return item.get(name)
    return getattr(item, name, None)


def _dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    return Decimal(str(value).replace(",", "."))


def _label(index: int, period: RemunerationPeriod, start: date | None, end: date | None) -> str:
    return (f"Période {index} (année {period.contract_year}, du {fr_day(start or period.start)} "
            f"au {fr_day(end or period.end)})")


def _minimum(period: RemunerationPeriod) -> str:
    return (f"{fr_percent(period.percent)} minimum du {period.base} "
            f"({eur(period.monthly_amount)} par mois)")


def remuneration_findings(periods_entered: Iterable[Any],
                          minimum_periods: Sequence[RemunerationPeriod]) -> list[Finding]:
    """An error for every entered period paid below the legal minimum (field
    "remuneration_N", N = 1-based line number).

    Entered periods are objects or mappings with `percent`, and optionally `monthly_amount`,
    `start` and `end`. With dates, an entered line is compared with every minimum period it
    overlaps (the highest minimum wins); without dates, line N is compared with minimum
    period N. Minimum periods left without any entered line are reported as missing."""
    entered = list(periods_entered or [])
    findings: list[Finding] = []
    covered: set[int] = set()
    for index, item in enumerate(entered, start=1):
        pct, amount = _dec(_get(item, "percent")), _dec(_get(item, "monthly_amount"))
        start, end = _get(item, "start"), _get(item, "end")
        if start and end:
            matches = [i for i, m in enumerate(minimum_periods)
                       if m.start <= end and start <= m.end]
        else:
            matches = [index - 1] if index - 1 < len(minimum_periods) else []
        covered.update(matches)
        if not matches:
            continue
        # The most demanding minimum among the periods this line covers.
        candidates = [minimum_periods[i] for i in matches]
        by_percent = max(candidates, key=lambda m: (m.percent, m.monthly_amount))
        by_amount = max(candidates, key=lambda m: (m.monthly_amount, m.percent))
        field = f"remuneration_{index}"
        if pct is None and amount is None:
            findings.append(Finding(ERROR, field, f"{_label(index, by_percent, start, end)} : "
                                                  f"rémunération non renseignée ; "
                                                  f"{_minimum(by_percent)}."))
        elif pct is not None and pct < by_percent.percent:
            findings.append(Finding(ERROR, field, f"{_label(index, by_percent, start, end)} : "
                                                  f"{_minimum(by_percent)}, "
                                                  f"{fr_percent(pct)} saisi."))
        elif amount is not None and amount < by_amount.monthly_amount:
            findings.append(Finding(ERROR, field, f"{_label(index, by_amount, start, end)} : "
                                                  f"{_minimum(by_amount)}, "
                                                  f"{eur(amount)} saisi."))
    for i, period in enumerate(minimum_periods):
        if i not in covered:
            findings.append(Finding(
                ERROR, f"remuneration_{i + 1}",
                f"{_label(i + 1, period, None, None)} : période non renseignée ; "
                f"{_minimum(period)}."))
    return findings
