"""The date of a contract's rupture (SPEC §3, "Déclarer une rupture"). Pure: plain dates in,
a French message out (None when the date is acceptable)."""
from __future__ import annotations

from datetime import date

from .formatting import day as fr_day


def rupture_date_problem(start: date | None, rupture: date | None, today: date,
                         end: date | None = None) -> str | None:
    """Why ``rupture`` cannot be the date of the rupture of a contract that started on
    ``start`` (and ends on ``end``, when known), declared on ``today``; None when it can.

    A rupture happens once the contract has started, is declared once it has happened (never
    in the future) and cannot come after the contract's end."""
    if start is None or start > today:
        return "Une rupture n'est possible qu'après le début d'exécution du contrat."
    if rupture is None:
        return "Indiquez la date de la rupture (jj/mm/aaaa)."
    if rupture < start:
        return (f"La date de la rupture ({fr_day(rupture)}) ne peut pas précéder le début "
                f"d'exécution du contrat ({fr_day(start)}).")
    if rupture > today:
        return (f"La date de la rupture ({fr_day(rupture)}) est dans le futur : déclarez la "
                f"rupture une fois qu'elle a eu lieu (au plus tard aujourd'hui, "
                f"{fr_day(today)}).")
    if end is not None and rupture > end:
        return (f"La date de la rupture ({fr_day(rupture)}) est postérieure à la fin du contrat "
                f"({fr_day(end)}) : le contrat a pris fin normalement.")
    return None
