"""portal.rules.search: the folding of searched values and terms (issue 16 §2), as tables."""
import pytest

from portal.rules.search import SEPARATOR, fold, search_pattern, search_text

FOLD = [
    ("Lefèvre", "lefevre"),
    ("LEFEVRE", "lefevre"),
    ("lefevre", "lefevre"),
    ("Hélène", "helene"),
    ("HÉLÈNE", "helene"),
    ("François Çà Où Île Noël", "francois ca ou ile noel"),
    ("Œuvre Cœur", "oeuvre coeur"),
    ("Ægir", "aegir"),
    ("Straße", "strasse"),
    ("Łódź", "lodz"),
    ("Søren", "soren"),
    ("İstanbul", "istanbul"),
    ("ﬁlature", "filature"),          # a ligature of a PDF copy
    ("L’Oréal", "l'oreal"),            # typographic apostrophe
    ("ACME – Lyon", "acme - lyon"),    # en dash
    ("  Le   Gall\t", "le gall"),      # spaces collapsed
    ("738 340 850 01141", "738 340 850 01141"),
    ("Jean.Dupont@Exemple.FR", "jean.dupont@exemple.fr"),
    ("a|b", "a b"),                    # the separator never survives
    ("%lefèvre%", "%lefevre%"),        # LIKE wildcards are kept
    ("dup_nt", "dup_nt"),
    ("", ""),
    (None, ""),
    (12345, "12345"),
]


@pytest.mark.parametrize("value, expected", FOLD)
def test_fold(value, expected):
    assert fold(value) == expected


@pytest.mark.parametrize("values, expected", [
    (("Lefèvre", "Hélène", "H.Lefevre@Exemple.fr", "73834085001141"),
     "|lefevre|helene|h.lefevre@exemple.fr|73834085001141|"),
    (("Dupont", None, "d@x.fr", None), "|dupont||d@x.fr||"),
    (("A|B",), "|a b|"),
    ((), "||"),
])
def test_search_text(values, expected):
    assert search_text(*values) == expected


@pytest.mark.parametrize("flask_admin, expected", [
    ("%Lefèvre%", "%lefevre%"),          # a word anywhere in a value
    ("%LEFEVRE%", "%lefevre%"),
    ("Lef%", "%|lef%"),                  # ^Lef: a value starts with it
    ("Dupont", "%|dupont|%"),            # =Dupont: a value is exactly it
    ("%œuvre", "%oeuvre|%"),
])
def test_search_pattern(flask_admin, expected):
    assert search_pattern(flask_admin) == expected


def _like(pattern: str, text: str) -> bool:
    """SQL LIKE (no escape) in Python, to read the table below as the database would."""
    import re
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.S) is not None


ROW = search_text("Le Gall", "Hélène", "h.legall@exemple.fr", "73834085001141")


@pytest.mark.parametrize("flask_admin, found", [
    ("%gall%", True),
    ("%GALL%", True),
    ("%helene%", True),
    ("%Hélène%", True),
    ("%le gall%", True),
    ("%gallhelene%", False),             # never across two values
    ("%gall|helene%", False),            # the separator typed is a space: no match
    ("Hél%", True),                      # ^Hél: the first name starts with it
    ("ène%", False),                     # ^ène: no value starts with it
    ("le gall", True),                   # =le gall
    ("gall", False),                     # =gall: no value is exactly gall
    ("%73834085001141%", True),
    ("%738340850%", True),
])
def test_a_pattern_on_a_stored_row(flask_admin, found):
    assert _like(search_pattern(flask_admin), ROW) is found


def test_separator_is_one_character():
    assert len(SEPARATOR) == 1 and fold(SEPARATOR) == ""
