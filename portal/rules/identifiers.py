"""Identifier checks (RULES.md §4). Pure functions: (str) -> bool."""
import re

from stdnum.fr import nir as _nir
from stdnum.fr import siren as _siren
from stdnum.fr import siret as _siret

UAI_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"


def clean_digits(value: str | None) -> str:
    """Remove spaces, dots and dashes users type in identifiers."""
    return re.sub(r"[\s.\-]", "", value or "")


def is_valid_siren(value: str) -> bool:
    return _siren.is_valid(clean_digits(value))


def is_valid_siret(value: str) -> bool:
    # python-stdnum handles La Poste (SIREN 356000000: digit sum multiple of 5).
    return _siret.is_valid(clean_digits(value))


def is_valid_nir(value: str) -> bool:
    return _nir.is_valid(clean_digits(value).upper())


def uai_letter(digits: str) -> str:
    return UAI_LETTERS[int(digits) % 23]


def is_valid_uai(value: str) -> bool:
    value = clean_digits(value).upper()
    if not re.fullmatch(r"\d{7}[A-Z]", value):
        return False
    return uai_letter(value[:7]) == value[7]


_INE = re.compile(r"^(\d{9}[A-Z]{2}|\d{10}[A-Z]|\d{4}A\d{5}[A-Z])$")


def is_valid_ine(value: str) -> bool:
    return bool(_INE.match(clean_digits(value).upper()))
