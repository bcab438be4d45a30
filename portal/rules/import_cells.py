"""The cell values of an import file of apprentices (portal.rules.imports): what a cell says as
text, a date, an e-mail address, a SIRET. Pure functions: no database, no Flask; each cached
where a file repeats its values (hundreds of rows name the same SIRET or domain).
"""
from __future__ import annotations

import functools
import re
from datetime import date, datetime, timedelta
from typing import Any

from email_validator import EmailNotValidError, validate_email

from .formatting import day as fr_day
from .identifiers import clean_digits, is_valid_siret


# --- cell values ------------------------------------------------------------------------------

EXCEL_EPOCH = date(1899, 12, 30)
_DATE_FR = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$")
_DATE_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_SCIENTIFIC = re.compile(r"^\d+(?:[.,]\d+)?[eE]\+?\d+$")


def cell_text(value: Any) -> str:
    """What the person typed, as text (dates as JJ/MM/AAAA, whole numbers without '.0')."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return fr_day(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = value if isinstance(value, str) else str(value)
    if _PLAIN.fullmatch(text):  # no run of spaces, no other blank: the common cell
        return text
    return _SPACES.sub(" ", text).strip()


_SPACES = re.compile(r"\s+")
_PLAIN = re.compile(r"(?:\S+(?: \S+)*)?")  # no leading, trailing or repeated blank


@functools.lru_cache(maxsize=4096)
def _valid_siret(digits: str) -> bool:
    """is_valid_siret, once per distinct SIRET of a file (hundreds of rows name the same)."""
    return is_valid_siret(digits)


class _BadDate(ValueError):
    pass


def parse_date(value: Any) -> date | None:
    """A real date (spreadsheet cell), an Excel serial number, 'JJ/MM/AAAA' (or with '-' or
    '.') or ISO 'AAAA-MM-JJ'. Empty → None; anything else raises _BadDate."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if 1 <= value < 2958466:  # Excel serials up to 31/12/9999
            return EXCEL_EPOCH + timedelta(days=int(value))
        raise _BadDate(str(value))
    text = str(value).strip()
    if not text:
        return None
    match = _DATE_FR.match(text)
    try:
        if match:
            return date(int(match[3]), int(match[2]), int(match[1]))
        match = _DATE_ISO.match(text)
        if match:
            return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        pass
    raise _BadDate(text)


# An ASCII dot-atom local part (RFC 5322 atext, dots neither first, last nor doubled): what
# email-validator accepts without looking further; anything else goes to email-validator.
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


@functools.lru_cache(maxsize=4096)
def _domain_ok(domain: str) -> bool:
    """email-validator's verdict on a domain (the costly half of a validation), once per
    domain: a file of 20 000 apprentices has a handful of domains."""
    try:
        validate_email(f"a@{domain}", check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def is_valid_email(address: str) -> bool:
    """Same acceptance as the dossier form (email-validator, no DNS look-up); the common case
    (an ASCII dot-atom local part of at most 64 characters) checks the domain once per domain."""
    if not address or "@" not in address or len(address) > 254:
        return False
    local, _, domain = address.rpartition("@")
    if len(local) <= 64 and _DOT_ATOM.fullmatch(local):
        return _domain_ok(domain)
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def _siret_digits(value: Any) -> str:
    """A SIRET typed in a number cell lost its leading zeros: put them back."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(int(value)).zfill(14)
    return clean_digits(str(value or ""))
