"""The CERFA FA13 / EJ20 laid out as the official forms: what the templates need beyond the
dossier's values (pure helpers, plain data in and out).

The "Visa du CFA" box: the templates draw it VISA_BOX wide and high, right under the label
VISA_LABEL; portal.documents.stamp finds that label in the signed CERFA and draws the CFA's
stamp inside the box (or, for a scan without text, where Sillon's own layout puts it).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

VISA_LABEL = "Visa du CFA (cachet et signature du directeur)"


@dataclass(frozen=True)
class Box:
    width: float   # points
    height: float


VISA_BOX = Box(width=250, height=78)
# The box's frame starts this far below the label's baseline.
VISA_GAP = 5
# Where Sillon's FA13 and EJ20 print the label (page index, x, baseline y, in points from the
# bottom-left corner of an A4 page): used for a scanned CERFA, whose text cannot be searched.
# The layout test stamps a scan of each generated form and checks the stamp lands in the box.
VISA_FALLBACK = {"fa13": (1, 28.5, 440.9), "ej20": (1, 28.5, 557.4)}
A4 = (595.2756, 841.8898)
# The stamp drawn inside the box (portal.documents.stamp).
STAMP = Box(width=230, height=58)


def stamp_origin(label_x: float, label_y: float) -> tuple[float, float]:
    """Bottom-left corner of the stamp, centred in the visa box under its label."""
    x = label_x + (VISA_BOX.width - STAMP.width) / 2
    top = label_y - VISA_GAP - (VISA_BOX.height - STAMP.height) / 2
    return x, top - STAMP.height


def digits(value) -> str:
    """Only the digits of a phone number or a code (the form's boxes take no separators)."""
    return re.sub(r"\D", "", str(value or ""))


def compact(value) -> str:
    """A code without its separators (NAF 62.01Z → 6201Z), as the form's boxes take it."""
    return re.sub(r"[\s.\-]", "", str(value or ""))


_NUMBER = re.compile(r"^\s*(\d+\s?(?:bis|ter|quater|[A-D])?)\b[\s,]+(.+)$", re.I)


def split_street(address: str | None) -> tuple[str, str]:
    """'12 rue des Lilas' → ('12', 'rue des Lilas'): the form's « N° » and « Voie » boxes for an
    address stored in one piece (the CFA's, the training site's)."""
    if not address:
        return "", ""
    match = _NUMBER.match(address)
    if match:
        return match.group(1).strip(), match.group(2).strip()
    return "", address.strip()


def years_grid(rows: list[dict], years: int = 4) -> list[list[dict | None]]:
    """The form's remuneration grid: one line per contract year, two periods per line (before
    and after the birthday that changes the band): 4 × 2 = the 8 periods of RULES.md §1."""
    grid: list[list[dict | None]] = [[None, None] for _ in range(years)]
    for row in rows:
        year = row.get("contract_year") or 0
        if 1 <= year <= years:
            line = grid[year - 1]
            slot = 0 if line[0] is None else 1
            if line[slot] is None:
                line[slot] = row
    return grid
