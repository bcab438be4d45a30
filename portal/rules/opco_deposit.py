"""The declaration that a contract was sent to the OPCO (SPEC §5): its dossier number (n° de
dépôt / DECA) and the deposit date. Pure: plain values in, French messages by field out."""
from __future__ import annotations

import re
from datetime import date

from .formatting import day as fr_day

NUMBER_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ./_-]{2,49}$")


def normalize_number(value: str | None) -> str:
    return " ".join((value or "").split()).upper()


def deposit_problems(number: str | None, deposit: date | None, today: date,
                     visa: date | None = None) -> dict[str, str]:
    """Field → French message for what is wrong with this declaration; empty when it is
    right. The number: 3 to 50 letters, digits, spaces, dots, slashes, dashes or underscores.
    The date: not in the future, not before the CERFA's visa (``visa``)."""
    problems: dict[str, str] = {}
    number = normalize_number(number)
    if not number:
        problems["numero_opco"] = "Indiquez le numéro du dossier à l'OPCO (n° de dépôt)."
    elif not NUMBER_PATTERN.match(number):
        problems["numero_opco"] = ("Le numéro du dossier à l'OPCO compte de 3 à 50 caractères : "
                                   "lettres, chiffres, espaces, points, tirets ou barres.")
    if deposit is None:
        problems["date_depot"] = "Indiquez la date du dépôt à l'OPCO (jj/mm/aaaa)."
    elif deposit > today:
        problems["date_depot"] = (f"La date du dépôt ({fr_day(deposit)}) est dans le futur : "
                                  "déclarez l'envoi une fois le dossier déposé.")
    elif visa is not None and deposit < visa:
        problems["date_depot"] = (f"La date du dépôt ({fr_day(deposit)}) précède le visa du "
                                  f"CERFA ({fr_day(visa)}).")
    return problems
