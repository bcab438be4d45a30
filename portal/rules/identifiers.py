"""Identifier checks (RULES.md §4). Pure functions.

Public contract (kept stable): is_valid_siret / is_valid_siren / is_valid_nir / is_valid_uai /
is_valid_ine, each (str) -> bool; clean_digits, uai_letter, UAI_LETTERS; normalize_email.
SIREN, SIRET and NIR checksums come from python-stdnum.
"""
from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING

from stdnum.fr import nir as _nir
from stdnum.fr import siren as _siren
from stdnum.fr import siret as _siret

from . import ERROR, INFO, Finding

if TYPE_CHECKING:  # pragma: no cover
    from .reference import ReferenceData

UAI_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"


def normalize_email(address: str | None) -> str:
    """An e-mail address as Sillon compares and stores it: no surrounding blank, lower case
    (accounts, dossiers and import rows alike)."""
    return (address or "").strip().lower()


def clean_digits(value: str | None) -> str:
    """Remove spaces, dots and dashes users type in identifiers."""
    return re.sub(r"[\s.\-]", "", value or "")


def is_valid_siren(value: str) -> bool:
    return _siren.is_valid(clean_digits(value))


def is_valid_siret(value: str) -> bool:
    # python-stdnum handles La Poste (SIREN 356000000: digit sum multiple of 5; its head
    # office 356 000 000 00048 keeps the Luhn key). Tested in tests/test_rules_identifiers.py.
    return _siret.is_valid(clean_digits(value))


def is_valid_nir(value: str) -> bool:
    # python-stdnum replaces 2A by 19 and 2B by 18 before computing the key.
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


# --- NIR consistency with the identity tab ----------------------------------------------------

_SEX_DIGITS = {"M": "1", "H": "1", "1": "1", "F": "2", "2": "2"}
# Temporary registration numbers (NIA) of people born abroad use 7 (men) and 8 (women).
_NIR_SEX = {"1": "1", "7": "1", "2": "2", "8": "2"}
_ABROAD = {"99", "ETRANGER", "ÉTRANGER"}


def _normalise_departement(value: str) -> str:
    value = clean_digits(value).upper()
    if value.isdigit() and len(value) == 1:
        value = "0" + value
    return value


def nir_findings(nir: str | None, *, sex: str | None = None, birth_date: date | None = None,
                 birth_departement: str | None = None) -> list[Finding]:
    """Check a NIR against the identity tab (RULES.md §4): key, sex (1st digit), birth year
    (digits 2–3), birth month (digits 4–5, skipped when 20–42 or ≥ 50, i.e. unknown) and
    birth département (digits 6–7; 99 = born abroad; 2A/2B, or 20 before 1976, for Corsica;
    97x on three digits for overseas départements). Each mismatch is an error on "nir".
    Missing identity values skip the matching comparison."""
    if not nir:
        return []
    value = clean_digits(nir).upper()
    if not is_valid_nir(value):
        if len(value) != 15:
            return [Finding(ERROR, "nir", "Le NIR doit comporter 15 caractères "
                                          "(13 pour le numéro et 2 pour la clé).")]
        return [Finding(ERROR, "nir", "Le NIR est invalide : la clé de contrôle (2 derniers "
                                      "chiffres) ne correspond pas au numéro.")]
    findings: list[Finding] = []

    if sex:
        expected = _SEX_DIGITS.get(sex.strip().upper()[:1])
        actual = _NIR_SEX.get(value[0])
        if actual is None:
            findings.append(Finding(ERROR, "nir", "Le premier chiffre du NIR doit être 1 "
                                                  "(homme) ou 2 (femme)."))
        elif expected and actual != expected:
            findings.append(Finding(
                ERROR, "nir", f"Le premier chiffre du NIR ({value[0]}) ne correspond pas au "
                              f"sexe indiqué ({'homme' if expected == '1' else 'femme'})."))

    if birth_date:
        if value[1:3] != f"{birth_date.year % 100:02d}":
            findings.append(Finding(
                ERROR, "nir", f"L'année de naissance du NIR ({value[1:3]}) ne correspond pas "
                              f"à la date de naissance ({birth_date:%d/%m/%Y})."))
        month = int(value[3:5])
        if 20 <= month <= 42 or month >= 50:
            pass  # birth month unknown when the number was assigned: nothing to compare
        elif not 1 <= month <= 12:
            findings.append(Finding(
                ERROR, "nir", f"Le mois de naissance du NIR ({value[3:5]}) est invalide."))
        elif month != birth_date.month:
            findings.append(Finding(
                ERROR, "nir", f"Le mois de naissance du NIR ({value[3:5]}) ne correspond pas "
                              f"à la date de naissance ({birth_date:%d/%m/%Y})."))

    if birth_departement:
        dep = _normalise_departement(birth_departement)
        nir_dep = value[5:7]
        if dep in _ABROAD:
            ok, shown = nir_dep == "99", nir_dep
        elif dep.startswith("97") and len(dep) == 3:
            ok, shown = value[5:8] == dep, value[5:8]
        elif dep in ("2A", "2B", "20"):
            # Corsica was département 20 until 1976: older NIRs keep 20.
            ok = nir_dep == dep or (nir_dep == "20" and (birth_date is None
                                                         or birth_date.year < 1976)) \
                or (dep == "20" and nir_dep in ("2A", "2B"))
            shown = nir_dep
        else:
            ok, shown = nir_dep == dep[:2], nir_dep
        if not ok:
            where = "né à l'étranger" if dep in _ABROAD else f"département {dep}"
            findings.append(Finding(
                ERROR, "nir", f"Le département de naissance du NIR ({shown}) ne correspond pas "
                              f"au lieu de naissance indiqué ({where})."))
    return findings


# --- other identifiers ------------------------------------------------------------------------

_NAF = re.compile(r"^(\d{2})\.?(\d{2})([A-Z])$")


def normalise_naf(value: str | None) -> str | None:
    """'6201Z', '62.01Z' or '62 01 z' → '62.01Z'; None when not a NAF/APE code."""
    match = _NAF.match(re.sub(r"\s", "", value or "").upper())
    return f"{match[1]}.{match[2]}{match[3]}" if match else None


def is_valid_naf(value: str) -> bool:
    """NAF/APE code: 4 digits + 1 letter, typed 'NNNNL' or 'NN.NNL'."""
    return normalise_naf(value) is not None


def is_valid_cfd(value: str) -> bool:
    """Code formation diplôme (CFD): 8 alphanumeric characters."""
    return bool(re.fullmatch(r"[0-9A-Z]{8}", re.sub(r"\s", "", value or "").upper()))


def is_valid_rncp(value: str) -> bool:
    """RNCP code: 'RNCP' followed by 3 to 5 digits."""
    return bool(re.fullmatch(r"RNCP\d{3,5}", re.sub(r"\s", "", value or "").upper()))


def is_valid_postal_code(value: str) -> bool:
    """5 digits whose département is 01–95 (Corsica 2A/2B uses 20xxx) or 971–976."""
    value = (value or "").strip()
    if not re.fullmatch(r"\d{5}", value):
        return False
    if value.startswith("97"):
        return "1" <= value[2] <= "6"
    return 1 <= int(value[:2]) <= 95


# Regex of RULES.md §4, kept verbatim (it mirrors the State's CERFA tool): the month is
# 01–12, never 00 or 13–19.
CERFA_CONTRACT_NUMBER = re.compile(
    r"^(0[0-9][0-9]|02[AB]|9[0-5]|97[1-6])[0-9]{4}(0[1-9]|1[0-2])(NC|[0-9]{2})[0-9]{4}$")


def is_valid_cerfa_contract_number(value: str) -> bool:
    """Number of a registered contract, DDDYYYYMMNN0000, month 01–12 (RULES.md §4)."""
    return bool(CERFA_CONTRACT_NUMBER.match(re.sub(r"\s", "", value or "").upper()))


IDCC_NONE, IDCC_PENDING = "9999", "9998"


def normalise_idcc(value: str | None) -> str:
    """Strip spaces; pad 1–3 digits with leading zeros ('16' → '0016')."""
    value = re.sub(r"\s", "", value or "")
    return value.zfill(4) if value.isdigit() and len(value) < 4 else value


def idcc_findings(idcc: str | None, reference: "ReferenceData | None" = None) -> list[Finding]:
    """IDCC: 4 digits with leading zeros kept, present in the reference table (which gives
    label, branch and OPCO). 9999 (no convention) and 9998 (being negotiated) are accepted
    with an information: the OPCO cannot be deduced from them."""
    if idcc is None or not str(idcc).strip():
        return []
    value = re.sub(r"\s", "", str(idcc))
    if not re.fullmatch(r"\d{4}", value):
        return [Finding(ERROR, "idcc", "Le code IDCC doit comporter exactement 4 chiffres, "
                                       "zéros initiaux compris (par exemple 0016).")]
    if value == IDCC_NONE:
        return [Finding(INFO, "idcc", "IDCC 9999 : aucune convention collective ne "
                                      "s'applique ; l'OPCO doit être choisi selon l'activité "
                                      "de l'entreprise.")]
    if value == IDCC_PENDING:
        return [Finding(INFO, "idcc", "IDCC 9998 : convention collective en cours de "
                                      "négociation ; l'OPCO doit être choisi selon l'activité "
                                      "de l'entreprise.")]
    if reference is None:
        from .reference import get_reference
        reference = get_reference()
    if value not in reference.idcc:
        return [Finding(ERROR, "idcc", f"Le code IDCC {value} est inconnu de la table des "
                                       "conventions collectives ; vérifiez-le ou demandez à "
                                       "l'administrateur du CFA de l'ajouter.")]
    return []
