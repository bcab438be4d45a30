"""Date arithmetic for the rules: ages, months, French public holidays, jours ouvrables.

Conventions (French "de date à date" computation):
- adding months keeps the day of the month, clamped to the month's last day
  (31/01 + 1 month = 28/02 or 29/02);
- a person born on 29 February has a birthday on 28 February in common years, so
  `age_on` and `birthday` agree with `add_months`.
"""
from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache


def add_months(day: date, months: int) -> date:
    """`day` + `months` calendar months (negative allowed), clamped to the month's end."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def add_years(day: date, years: int) -> date:
    return add_months(day, 12 * years)


def birthday(birth: date, age: int) -> date:
    """The day a person born on `birth` reaches `age`."""
    return add_years(birth, age)


def age_on(birth: date, day: date) -> int:
    """Age in whole years (années révolues) on `day`."""
    years = day.year - birth.year
    if birthday(birth, years) > day:
        years -= 1
    return years


def first_day_of_next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def months_and_days(start: date, end: date) -> tuple[int, int]:
    """Duration of the inclusive period [start, end] as (whole months, remaining days).

    01/09/2026 → 28/02/2027 is (6, 0): six whole months; 01/09/2026 → 27/02/2027 is (5, 27).
    """
    if end < start:
        return (0, 0)
    after = end + timedelta(days=1)   # exclusive end
    months = (after.year - start.year) * 12 + (after.month - start.month)
    while months > 0 and add_months(start, months) > after:
        months -= 1
    return months, (after - add_months(start, months)).days


def duration_in_months(start: date, end: date) -> Decimal:
    """Duration of [start, end] in months as a Decimal (remaining days counted as 1/30)."""
    months, days = months_and_days(start, end)
    return Decimal(months) + Decimal(days) / Decimal(30)


def easter_sunday(year: int) -> date:
    """Easter Sunday (anonymous Gregorian algorithm, a.k.a. Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 (the algorithm's own name)
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=256)
def _holidays(year: int, alsace_moselle: bool) -> dict[date, str]:
    easter = easter_sunday(year)
    days = {
        date(year, 1, 1): "Jour de l'an",
        easter + timedelta(days=1): "Lundi de Pâques",
        date(year, 5, 1): "Fête du Travail",
        date(year, 5, 8): "Victoire 1945",
        easter + timedelta(days=39): "Ascension",
        easter + timedelta(days=50): "Lundi de Pentecôte",
        date(year, 7, 14): "Fête nationale",
        date(year, 8, 15): "Assomption",
        date(year, 11, 1): "Toussaint",
        date(year, 11, 11): "Armistice 1918",
        date(year, 12, 25): "Noël",
    }
    if alsace_moselle:
        days[easter - timedelta(days=2)] = "Vendredi saint"
        days[date(year, 12, 26)] = "Saint-Étienne"
    return dict(sorted(days.items()))


def french_public_holidays(year: int, *, alsace_moselle: bool = False) -> dict[date, str]:
    """The eleven jours fériés of L3133-1 (plus Good Friday and 26 December in
    Alsace-Moselle when asked), as {date: French name}, in date order."""
    return dict(_holidays(year, alsace_moselle))


def is_public_holiday(day: date, *, alsace_moselle: bool = False) -> bool:
    return day in _holidays(day.year, alsace_moselle)


def is_working_day(day: date, *, alsace_moselle: bool = False) -> bool:
    """Jour ouvrable: Monday to Saturday, public holidays excluded."""
    return day.weekday() != 6 and not is_public_holiday(day, alsace_moselle=alsace_moselle)


def add_working_days(day: date, n: int, *, alsace_moselle: bool = False) -> date:
    """The n-th jour ouvrable after `day` (`day` itself is not counted; n < 0 goes back).

    add_working_days(start, 5) is the last day of "the five jours ouvrables following start".
    """
    step = 1 if n >= 0 else -1
    remaining = abs(n)
    current = day
    while remaining:
        current += timedelta(days=step)
        if is_working_day(current, alsace_moselle=alsace_moselle):
            remaining -= 1
    return current

