"""Check C19 (RULES.md §3, §4): the identifiers of a training, checked where it is entered.

The training's form names its fields `cfa`, `etablissement_formation`, `code_diplome` and
`code_rncp`; each finding carries that name so the form shows the message next to the field.
The CFA and the main training site are chosen in lists: their UAI is the one stored on them,
and a chosen main training site must have one (the CERFA prints the site's UAI).

Public contract: `training_identifier_findings(...)` → list of Finding (errors only).
"""
from __future__ import annotations

from . import ERROR, Finding
from .identifiers import clean_digits, is_valid_cfd, is_valid_rncp, is_valid_uai

UAI_FORMAT = "7 chiffres suivis d'une lettre de contrôle (par exemple 0751234J)"
CFD_FORMAT = "8 caractères, chiffres ou lettres (par exemple 32031218)"
RNCP_FORMAT = "« RNCP » suivi de 3 à 5 chiffres (par exemple RNCP38362)"

_UNSET = object()


def normalise_code(value: str | None) -> str:
    """A code as stored: spaces removed, upper case ('rncp 38362' → 'RNCP38362')."""
    return "".join((value or "").split()).upper()


def _uai_finding(field: str, subject: str, of: str, name: str | None,
                 uai: str | None) -> Finding | None:
    """subject: 'Le CFA'; of: 'du CFA' (French needs both forms)."""
    named = f" « {name} »" if name else ""
    value = clean_digits(uai).upper()
    if not value:
        return Finding(ERROR, field, f"{subject}{named} n'a pas de numéro UAI, obligatoire : "
                                     f"{UAI_FORMAT}.")
    if not is_valid_uai(value):
        return Finding(ERROR, field, f"Le numéro UAI {value} {of}{named} n'est pas valide : "
                                     f"{UAI_FORMAT}.")
    return None


def training_identifier_findings(*, cfa_uai=_UNSET, cfa_name: str | None = None,
                                 site_uai=_UNSET, site_name: str | None = None,
                                 code_diplome: str | None = None,
                                 code_rncp: str | None = None) -> list[Finding]:
    """C19: UAI of the CFA and of the main training site, code diplôme (CFD), RNCP.

    A UAI argument left out is not checked (no CFA or no site chosen); passed as None or ''
    it is missing, an error. The code diplôme and the RNCP code are optional: checked when
    given."""
    findings: list[Finding] = []
    if cfa_uai is not _UNSET:
        finding = _uai_finding("cfa", "Le CFA", "du CFA", cfa_name, cfa_uai)
        if finding:
            findings.append(finding)
    if site_uai is not _UNSET:
        finding = _uai_finding("etablissement_formation", "Le lieu de formation principal",
                               "du lieu de formation principal", site_name, site_uai)
        if finding:
            findings.append(finding)
    cfd = normalise_code(code_diplome)
    if cfd and not is_valid_cfd(cfd):
        findings.append(Finding(ERROR, "code_diplome",
                                f"Le code diplôme (CFD) {cfd} n'est pas valide : {CFD_FORMAT}."))
    rncp = normalise_code(code_rncp)
    if rncp and not is_valid_rncp(rncp):
        findings.append(Finding(ERROR, "code_rncp",
                                f"Le code RNCP {rncp} n'est pas valide : {RNCP_FORMAT}."))
    return findings
