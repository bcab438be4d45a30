"""portal.rules.identifiers (RULES.md §4), pure: no Flask app needed."""
from datetime import date

import pytest
from stdnum.fr import nir as stdnum_nir

from portal.rules import ERROR, INFO
from portal.rules.identifiers import (idcc_findings, is_valid_cerfa_contract_number, is_valid_cfd,
                                      is_valid_ine, is_valid_naf, is_valid_nir,
                                      is_valid_postal_code, is_valid_rncp, is_valid_siren,
                                      is_valid_siret, is_valid_uai, nir_findings, normalise_idcc,
                                      normalise_naf)
from portal.rules.reference import load_from_csv

D = date.fromisoformat


def with_key(body: str) -> str:
    """A 13-character NIR body followed by its key (2A → 19, 2B → 18 before computing)."""
    return body + stdnum_nir.calc_check_digits(body)


@pytest.fixture(scope="module")
def reference():
    return load_from_csv()


# --- SIRET / SIREN ---------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("73282932000074", True),
    ("732 829 320 00074", True),
    ("73282932000075", False),
    ("7328293200007", False),
    ("35600000000048", True),    # La Poste head office: ordinary Luhn key
    ("35600000010000", True),    # La Poste: digit sum 15, multiple of 5 (Luhn fails)
    ("35600000010001", False),   # La Poste: digit sum 16
    ("35600000001004", False),   # La Poste: Luhn passes but digit sum 19 is not a multiple of 5
], ids=["valid", "with_spaces", "bad_key", "13_digits", "la_poste_head_office",
        "la_poste_sum_multiple_of_5", "la_poste_sum_not_multiple", "la_poste_luhn_only"])
def test_siret(value, expected):
    assert is_valid_siret(value) is expected


@pytest.mark.parametrize("value, expected", [
    ("732829320", True), ("732829321", False), ("356000000", True), ("73282932", False),
], ids=["valid", "bad_key", "la_poste", "8_digits"])
def test_siren(value, expected):
    assert is_valid_siren(value) is expected


# --- NIR -------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("295109912611193", True),
    ("2 95 10 99 126 111 93", True),
    ("295109912611199", False),
    ("253072B07300470", True),     # Corsica 2B: key computed with 18
    ("253072A07300443", True),     # Corsica 2A: key computed with 19
    ("253072A07300470", False),    # 2B's key on a 2A number
    ("29510991261119", False),
], ids=["valid", "spaces", "bad_key", "corsica_2b", "corsica_2a", "corsica_wrong_key",
        "14_chars"])
def test_is_valid_nir(value, expected):
    assert is_valid_nir(value) is expected


@pytest.mark.parametrize("nir, identity, expected_words", [
    (with_key("1050375056123"), dict(sex="M", birth_date=D("2005-03-14"),
                                     birth_departement="75"), []),
    (with_key("1050375056123"), dict(sex="F", birth_date=D("2005-03-14")), ["sexe"]),
    (with_key("1050375056123"), dict(birth_date=D("2006-03-14")), ["année"]),
    (with_key("1050375056123"), dict(birth_date=D("2005-04-14")), ["mois"]),
    (with_key("1050375056123"), dict(birth_departement="69"), ["département"]),
    (with_key("1050375056123"), dict(birth_departement="99"), ["département"]),
    (with_key("1050375056123"), dict(birth_departement="2A"), ["département"]),
    (with_key("1050375056123"), dict(sex="F", birth_date=D("2006-04-14"),
                                     birth_departement="13"),
     ["sexe", "année", "mois", "département"]),
    # unknown birth month: 20–42 or 50 and more, the month is not compared
    (with_key("1053375056123"), dict(birth_date=D("2005-07-01")), []),
    (with_key("1054275056123"), dict(birth_date=D("2005-07-01")), []),
    (with_key("1059975056123"), dict(birth_date=D("2005-07-01")), []),
    (with_key("1051375056123"), dict(birth_date=D("2005-01-01")), ["invalide"]),
    (with_key("1054375056123"), dict(birth_date=D("2005-01-01")), ["invalide"]),
    # born abroad
    (with_key("2050999123456"), dict(sex="F", birth_date=D("2005-09-02"),
                                     birth_departement="99"), []),
    # overseas: département on three digits
    (with_key("1053097105612"), dict(birth_departement="971"), []),
    (with_key("1053097105612"), dict(birth_departement="972"), ["département"]),
    # Corsica
    ("253072B07300470", dict(sex="F", birth_date=D("1953-07-10"), birth_departement="2B"), []),
    ("253072A07300443", dict(sex="F", birth_date=D("1953-07-10"), birth_departement="2A"), []),
    ("253072A07300443", dict(birth_departement="2B"), ["département"]),
    (with_key("1690520123456"), dict(birth_date=D("1969-05-20"), birth_departement="2A"), []),
    (with_key("1080520123456"), dict(birth_date=D("2008-05-20"), birth_departement="2A"),
     ["département"]),
    # temporary number (NIA) of a man born abroad
    (with_key("7059975056123"), dict(sex="M"), []),
    (with_key("3059975056123"), dict(sex="M"), ["premier chiffre"]),
], ids=["consistent", "sex", "year", "month", "departement", "abroad_expected",
        "corsica_expected", "everything_wrong", "month_33_unknown", "month_42_unknown",
        "month_99_unknown", "month_13_invalid", "month_43_invalid", "born_abroad",
        "overseas_971", "overseas_mismatch", "corsica_2b", "corsica_2a", "corsica_2a_vs_2b",
        "corsica_20_before_1976", "corsica_20_after_1976", "nia_7_man", "first_digit_3"])
def test_nir_findings(nir, identity, expected_words):
    findings = nir_findings(nir, **identity)
    assert all(f.level == ERROR and f.field == "nir" for f in findings)
    assert len(findings) == len(expected_words), findings
    for finding, word in zip(findings, expected_words):
        assert word in finding.message


@pytest.mark.parametrize("nir, word", [
    ("295109912611199", "clé"), ("2951099126111", "15 caractères"),
], ids=["bad_key", "too_short"])
def test_nir_findings_invalid_number(nir, word):
    [finding] = nir_findings(nir, sex="F", birth_date=D("1995-10-01"))
    assert finding.field == "nir" and word in finding.message


def test_nir_findings_empty_is_not_checked():
    assert nir_findings(None) == [] and nir_findings("") == []


# --- UAI / INE -------------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("0751234J", True), ("0751234j", True), ("0333333U", True), ("0751234K", False),
    ("075123J", False), ("07512345", False),
], ids=["valid", "lowercase_letter", "other_valid", "wrong_letter", "six_digits", "no_letter"])
def test_uai(value, expected):
    assert is_valid_uai(value) is expected


@pytest.mark.parametrize("value, expected", [
    ("123456789AB", True), ("1234567890A", True), ("1234A12345B", True), ("12345678901", False),
    ("123456789A", False), ("1234B12345C", False),
], ids=["9_digits_2_letters", "10_digits_1_letter", "4_digits_A", "11_digits", "10_chars",
        "4_digits_B"])
def test_ine(value, expected):
    assert is_valid_ine(value) is expected


# --- NAF, CFD, RNCP, postal code, CERFA number ----------------------------------------------

@pytest.mark.parametrize("value, normalised", [
    ("6201Z", "62.01Z"), ("62.01Z", "62.01Z"), ("62.01z", "62.01Z"), (" 62 01Z ", "62.01Z"),
    ("620Z", None), ("62011", None), ("62.01", None), ("", None),
], ids=["compact", "dotted", "lowercase", "spaces", "3_digits", "no_letter", "dotted_no_letter",
        "empty"])
def test_naf(value, normalised):
    assert normalise_naf(value) == normalised
    assert is_valid_naf(value) is (normalised is not None)


@pytest.mark.parametrize("value, expected", [
    ("32031309", True), ("3203130a", True), ("1352541B", True), ("3203130", False),
    ("320313091", False), ("3203-130", False),
], ids=["digits", "lowercase_letter", "letter", "7_chars", "9_chars", "dash"])
def test_cfd(value, expected):
    assert is_valid_cfd(value) is expected


@pytest.mark.parametrize("value, expected", [
    ("RNCP35185", True), ("rncp123", True), ("RNCP 34825", True), ("RNCP12", False),
    ("RNCP123456", False), ("35185", False), ("RS5185", False),
], ids=["5_digits", "lowercase_3_digits", "space", "2_digits", "6_digits", "no_prefix",
        "rs_code"])
def test_rncp(value, expected):
    assert is_valid_rncp(value) is expected


@pytest.mark.parametrize("value, expected", [
    ("75001", True), ("01000", True), ("95000", True), ("20000", True), ("20200", True),
    ("97100", True), ("97600", True), ("97700", False), ("98000", False), ("96000", False),
    ("00100", False), ("7500", False), ("7500A", False),
], ids=["paris", "ain", "val_d_oise", "corsica_2a", "corsica_2b", "guadeloupe", "mayotte",
        "saint_barthelemy", "monaco", "dep_96", "dep_00", "4_digits", "letter"])
def test_postal_code(value, expected):
    assert is_valid_postal_code(value) is expected


@pytest.mark.parametrize("value, expected", [
    ("075202601NC0001", True),
    ("075202601120001", True),
    ("02A202601000001", True),
    ("974202612NC0001", True),
    ("977202601NC0001", False),
    ("075202620NC0001", False),
    ("075202601XX0001", False),
    ("75202601NC0001", False),
    ("91202601NC0001", True),   # the regex's 2-character "9[0-5]" branch, kept verbatim
], ids=["nc", "chamber_number", "corsica", "reunion", "dep_977", "month_20", "letters",
        "2_digit_department", "regex_quirk_9x"])
def test_cerfa_contract_number(value, expected):
    assert is_valid_cerfa_contract_number(value) is expected


# --- IDCC ------------------------------------------------------------------------------------

@pytest.mark.parametrize("idcc, expected", [
    ("1486", []),
    ("0016", []),
    (" 3248 ", []),
    ("16", [(ERROR, "4 chiffres")]),
    ("ABCD", [(ERROR, "4 chiffres")]),
    ("12345", [(ERROR, "4 chiffres")]),
    ("1234", [(ERROR, "inconnu")]),
    ("9999", [(INFO, "aucune convention")]),
    ("9998", [(INFO, "en cours de négociation")]),
    ("", []),
    (None, []),
], ids=["syntec", "leading_zeros", "spaces", "too_short", "letters", "too_long", "unknown",
        "no_convention", "being_negotiated", "empty", "none"])
def test_idcc_findings(idcc, expected, reference):
    findings = idcc_findings(idcc, reference)
    assert [(f.level, f.field) for f in findings] == [(level, "idcc") for level, _ in expected]
    for finding, (_, word) in zip(findings, expected):
        assert word in finding.message


def test_idcc_reference_keeps_leading_zeros(reference):
    label, branch, opco = reference.idcc["0016"]
    assert opco == "MOBILITES" and "Transports routiers" in label and branch


@pytest.mark.parametrize("value, expected", [("16", "0016"), ("0016", "0016"), ("1486", "1486"),
                                             (" 29 ", "0029")],
                         ids=["pad", "kept", "four_digits", "spaces"])
def test_normalise_idcc(value, expected):
    assert normalise_idcc(value) == expected


def test_an_email_is_compared_without_blank_or_case():
    from portal.rules.identifiers import normalize_email
    assert normalize_email("  Alice.Martin@Exemple.FR \t") == "alice.martin@exemple.fr"
    assert normalize_email(None) == normalize_email("") == normalize_email("   ") == ""
