"""Billing information on L'employeur (SPEC §2): required for a professionalisation contract,
a public employer (CERFA type 21–30) or a company from Monaco; its own checks."""
from __future__ import annotations

import re
from typing import Any

from portal.dossiers.establishments import is_public_employer
from portal.dossiers.tabs.base import blank
from portal.dossiers.tabs.employeur_fields import PROFESSIONNALISATION, SIRET_MESSAGE
from portal.rules import ERROR, Finding
from portal.rules.identifiers import is_valid_postal_code, is_valid_siret

__all__ = ["billing_required", "is_public_employer", "findings", "postal_code_ok"]

_MONACO_POSTAL_CODE = re.compile(r"^980[0-9]{2}$")


def billing_required(data: dict[str, Any], dossier) -> bool:
    """Billing data is needed for a professionalisation contract, a public employer
    (type > 20) or a company from Monaco (SPEC §2)."""
    dispositif = data.get("dispositif") or getattr(dossier, "dispositif", None)
    return (dispositif == PROFESSIONNALISATION or is_public_employer(data.get("type_employeur"))
            or bool(data.get("employeur_monaco")))


def postal_code_ok(value: str, monaco: bool) -> bool:
    return is_valid_postal_code(value) or (monaco and bool(_MONACO_POSTAL_CODE.match(value)))


def postal_message(monaco: bool) -> str:
    return ("Code postal invalide : 5 chiffres (980xx pour Monaco)." if monaco else
            "Code postal invalide : 5 chiffres.")


def findings(data: dict[str, Any], dossier) -> list[Finding]:
    """The billing block's own checks, when it is required (hidden otherwise: not checked)."""
    if not billing_required(data, dossier):
        return []
    out = []
    value = data.get("facturation_siret")
    if not blank(value) and not is_valid_siret(value):
        out.append(Finding(ERROR, "facturation_siret", SIRET_MESSAGE))
    monaco = bool(data.get("employeur_monaco"))
    postal = (data.get("facturation_code_postal") or "").strip()
    if postal and not postal_code_ok(postal, monaco):
        out.append(Finding(ERROR, "facturation_code_postal", postal_message(monaco)))
    return out
