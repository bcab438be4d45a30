"""portal.rules.dates: ages, months, Easter, French public holidays, jours ouvrables (pure)."""
from datetime import date

import pytest

from portal.rules.dates import (add_months, add_working_days, age_on, easter_sunday,
                                first_day_of_next_month, french_public_holidays,
                                is_working_day, months_and_days)

D = date.fromisoformat


@pytest.mark.parametrize("birth, day, expected", [
    ("2008-05-15", "2026-05-14", 17),
    ("2008-05-15", "2026-05-15", 18),
    ("2008-05-15", "2026-05-16", 18),
    ("2008-03-01", "2026-02-28", 17),
    ("2008-03-01", "2026-03-01", 18),
    ("2008-02-29", "2026-02-27", 17),
    ("2008-02-29", "2026-02-28", 18),   # common year: birthday on 28 February
    ("2008-02-29", "2028-02-28", 19),
    ("2008-02-29", "2028-02-29", 20),
], ids=["day_before", "birthday", "day_after", "first_of_month_before", "first_of_month",
        "leap_day_before", "leap_day_common_year", "leap_day_leap_year_before",
        "leap_day_leap_year"])
def test_age_on(birth, day, expected):
    assert age_on(D(birth), D(day)) == expected


@pytest.mark.parametrize("day, months, expected", [
    ("2026-01-31", 1, "2026-02-28"),
    ("2028-01-31", 1, "2028-02-29"),
    ("2026-09-01", 6, "2027-03-01"),
    ("2026-12-15", 1, "2027-01-15"),
    ("2026-03-31", -1, "2026-02-28"),
    ("2026-09-01", -3, "2026-06-01"),
    ("2024-02-29", 12, "2025-02-28"),
], ids=["clamp_february", "clamp_leap_february", "six_months", "year_change", "negative_clamp",
        "negative", "leap_day_plus_a_year"])
def test_add_months(day, months, expected):
    assert add_months(D(day), months) == D(expected)


@pytest.mark.parametrize("day, expected", [
    ("2026-05-15", "2026-06-01"), ("2026-05-01", "2026-06-01"), ("2026-12-31", "2027-01-01"),
], ids=["mid_month", "first_of_month", "december"])
def test_first_day_of_next_month(day, expected):
    assert first_day_of_next_month(D(day)) == D(expected)


@pytest.mark.parametrize("start, end, expected", [
    ("2026-09-01", "2027-02-28", (6, 0)),
    ("2026-09-01", "2027-02-27", (5, 27)),
    ("2025-01-01", "2025-06-30", (6, 0)),
    ("2025-01-01", "2025-06-29", (5, 29)),
    ("2026-09-01", "2029-08-31", (36, 0)),
    ("2026-09-01", "2026-09-01", (0, 1)),
], ids=["six_months_feb", "five_months_27", "six_months_june", "five_months_29",
        "three_years", "one_day"])
def test_months_and_days_inclusive(start, end, expected):
    assert months_and_days(D(start), D(end)) == expected


@pytest.mark.parametrize("year, expected", [
    (2000, "2000-04-23"), (2019, "2019-04-21"), (2024, "2024-03-31"), (2025, "2025-04-20"),
    (2026, "2026-04-05"), (2027, "2027-03-28"), (2038, "2038-04-25"), (2285, "2285-03-22"),
], ids=lambda v: str(v))
def test_easter_sunday(year, expected):
    assert easter_sunday(year) == D(expected)


def test_french_public_holidays_2026():
    assert list(french_public_holidays(2026)) == [D(d) for d in (
        "2026-01-01", "2026-04-06", "2026-05-01", "2026-05-08", "2026-05-14", "2026-05-25",
        "2026-07-14", "2026-08-15", "2026-11-01", "2026-11-11", "2026-12-25")]
    assert french_public_holidays(2026)[D("2026-05-14")] == "Ascension"


def test_alsace_moselle_adds_good_friday_and_saint_stephen():
    days = french_public_holidays(2026, alsace_moselle=True)
    assert D("2026-04-03") in days and D("2026-12-26") in days and len(days) == 13


@pytest.mark.parametrize("day, expected", [
    ("2026-09-07", True),    # Monday
    ("2026-09-12", True),    # Saturday is a jour ouvrable
    ("2026-09-13", False),   # Sunday
    ("2026-05-01", False),   # Fête du Travail
    ("2026-04-06", False),   # Easter Monday
    ("2026-05-14", False),   # Ascension
    ("2026-05-25", False),   # Whit Monday
    ("2026-07-14", False),
    ("2026-08-15", False),   # a Saturday, but a public holiday
    ("2026-04-03", True),    # Good Friday outside Alsace-Moselle
], ids=["monday", "saturday", "sunday", "1_may", "easter_monday", "ascension", "whit_monday",
        "14_july", "15_august", "good_friday"])
def test_is_working_day(day, expected):
    assert is_working_day(D(day)) is expected


@pytest.mark.parametrize("day, n, expected", [
    ("2026-09-01", 5, "2026-09-07"),   # Tue → Mon (Saturday counts, Sunday does not)
    ("2026-04-30", 1, "2026-05-02"),   # skips Friday 1 May
    ("2026-04-30", 5, "2026-05-07"),
    ("2026-05-06", 5, "2026-05-13"),   # skips Friday 8 May
    ("2026-05-13", 5, "2026-05-20"),   # skips Ascension (Thu 14 May)
    ("2026-05-22", 2, "2026-05-26"),   # skips Sunday and Whit Monday
    ("2026-07-13", 5, "2026-07-20"),   # skips 14 July
    ("2026-08-14", 1, "2026-08-17"),   # skips Saturday 15 August and Sunday
    ("2026-04-04", 1, "2026-04-07"),   # skips Sunday and Easter Monday
    ("2026-12-31", 1, "2027-01-02"),   # skips 1 January
    ("2026-05-02", -1, "2026-04-30"),  # backwards over 1 May
    ("2026-09-01", 0, "2026-09-01"),
], ids=["plain_week", "1_may", "1_may_five_days", "8_may", "ascension", "whit_monday",
        "14_july", "15_august_saturday", "easter_monday", "new_year", "backwards", "zero"])
def test_add_working_days(day, n, expected):
    assert add_working_days(D(day), n) == D(expected)
