"""Search text: what the dossier list's search compares (issue 16 §2). Pure functions.

The searched values are folded once, when they are written (portal/models/search_columns.py),
into one column per table: lower case, no accents (« Lefèvre » → « lefevre », « Œuvre » →
« oeuvre »), typographic apostrophes and dashes as typed on a keyboard. A term is folded the
same way when it is searched, so « LEFEVRE », « lefevre » and « Lefèvre » find the same rows
with a plain ``LIKE`` on that one column, which a trigram index serves on PostgreSQL.

The values are stored between separators (``|nom|prénom|e-mail|siret|``): a term never spans
two values, and Flask-Admin's ``^term`` (starts with) and ``=term`` (equals) keep meaning "one
value starts with / is the term" (search_pattern).
"""
from __future__ import annotations

import unicodedata

SEPARATOR = "|"

# What NFKD does not decompose, and the keyboard's spelling of typographic characters. The
# separator is folded to a space in values and terms alike, so a term cannot contain it.
_TRANSLATE = str.maketrans({
    "œ": "oe", "æ": "ae", "ø": "o", "ß": "ss", "ł": "l", "đ": "d", "ð": "d", "þ": "th",
    "ı": "i", "’": "'", "‘": "'", "ʼ": "'",
    "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "―": "-", "−": "-",
    SEPARATOR: " ",
})


def fold(value) -> str:
    """``value`` in lower case without accents, spaces collapsed; "" for None."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFKD", str(value))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(text.casefold().translate(_TRANSLATE).split())


def search_text(*values) -> str:
    """The stored search column of a row: its folded values between separators."""
    return SEPARATOR + SEPARATOR.join(fold(v) for v in values) + SEPARATOR


def search_pattern(like_pattern: str) -> str:
    """The ``LIKE`` pattern on a search column for a Flask-Admin pattern (``%term%``,
    ``term%`` for ``^term``, ``term`` for ``=term``): the term folded, and a pattern anchored
    to the start or the end of one value where Flask-Admin's was anchored to a column's."""
    pattern = fold(like_pattern)
    if not pattern.startswith("%"):
        pattern = "%" + SEPARATOR + pattern
    if not pattern.endswith("%"):
        pattern += SEPARATOR + "%"
    return pattern
