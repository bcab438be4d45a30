"""The statuses of a signature request and of its signers: the one table that gives them a
meaning (labels, which are over, which may still act)."""
from __future__ import annotations

from dataclasses import dataclass

RUNNING, SIGNED, REFUSED, CANCELLED = "en_cours", "signee", "refusee", "annulee"
WAITING, TURN, SIGNER_SIGNED, SIGNER_REFUSED, SIGNER_CANCELLED = (
    "attente", "a_signer", "signe", "refuse", "annule")


@dataclass(frozen=True)
class Status:
    code: str
    label: str
    over: bool          # nothing more happens to it
    css: str            # the badge on Suivi – Info


REQUEST_STATUSES = {s.code: s for s in (
    Status(RUNNING, "Signature en cours", False, "info"),
    Status(SIGNED, "Signé électroniquement", True, "success"),
    Status(REFUSED, "Signature refusée", True, "danger"),
    Status(CANCELLED, "Annulée par le CFA", True, "secondary"),
)}

SIGNER_STATUSES = {s.code: s for s in (
    Status(WAITING, "En attente des signataires précédents", False, "secondary"),
    Status(TURN, "À signer", False, "warning"),
    Status(SIGNER_SIGNED, "Signé", True, "success"),
    Status(SIGNER_REFUSED, "Refusé", True, "danger"),
    Status(SIGNER_CANCELLED, "Annulé", True, "secondary"),
)}

DOCUMENTS = {"cerfa": "CERFA", "convention": "Convention de formation"}
# The signed copy of each document: the kind the paper return stores (portal.documents.uploads)
SIGNED_KIND = {"cerfa": "cerfa_signe", "convention": "convention_signee"}

EVENT_LABELS = {
    "demande_creee": "Demande de signature créée",
    "invitation": "Invitation envoyée",
    "tour": "Tour de signer : e-mail envoyé",
    "lien_ouvert": "Lien ouvert, document affiché",
    "code_envoye": "Code à usage unique envoyé",
    "code_refuse": "Code erroné",
    "code_bloque": "Code bloqué après trop d'essais",
    "signature": "Document signé",
    "refus": "Signature refusée",
    "rappel": "Rappel envoyé",
    "annulation": "Demande annulée",
    "scellement": "Document scellé (cachet du CFA)",
    "fournisseur": "Événement du prestataire",
}


def request_label(code: str) -> str:
    status = REQUEST_STATUSES.get(code)
    return status.label if status else code


def signer_label(code: str) -> str:
    status = SIGNER_STATUSES.get(code)
    return status.label if status else code
