"""French formatting of figures in user-facing messages (pure)."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

NBSP = "\u00a0"
CENT = Decimal("0.01")


def round_cents(value: Decimal) -> Decimal:
    """Round to the nearest cent, half up (as published grids are)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def eur(value: Decimal | int | None) -> str:
    """1421.96 → '1 421,96 €' (non-breaking spaces); whole amounts lose their decimals:
    '5 000 €'."""
    if value is None:
        return ""
    value = Decimal(value)
    text = f"{value:,.0f}" if value == value.to_integral_value() else f"{round_cents(value):,.2f}"
    return text.replace(",", NBSP).replace(".", ",") + NBSP + "€"


def percent(value: Decimal | int | None) -> str:
    """Decimal('43') → '43 %', Decimal('43.50') → '43,5 %'."""
    if value is None:
        return ""
    value = Decimal(value)
    text = format(value.normalize(), "f") if value != value.to_integral_value() \
        else str(int(value))
    return text.replace(".", ",") + NBSP + "%"


def day(value: date | None) -> str:
    """01/03/2027."""
    return value.strftime("%d/%m/%Y") if value else ""


def moment(value: datetime | None) -> str:
    """A stored time (naive UTC) as a person in France reads it: « 01/03/2027 à 14:05 »."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(ZoneInfo("Europe/Paris")).strftime("%d/%m/%Y à %H:%M")
