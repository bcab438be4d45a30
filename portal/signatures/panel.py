"""What Suivi – Info shows of the electronic signature: each document's latest request with
each signer's status, the signed PDF (« signé électroniquement ») and the evidence file
(« dossier de preuve ») for those who follow it, and the CFA's buttons."""
from __future__ import annotations

from portal import policy
from portal.rules.formatting import moment
from portal.rules.signature import ROLE_LABELS

from .service import requests_of
from .steps import DOCUMENTS, REQUEST_STATUSES, RUNNING, SIGNER_STATUSES


def panel(dossier, user) -> dict | None:
    """None when the person has nothing to see or do here."""
    follow = policy.may_follow_signatures(user, dossier)
    start_refusal = policy.signature_start_refusal(user, dossier)
    latest: dict[str, object] = {}
    for request in requests_of(dossier):
        latest.setdefault(request.document, request)
    if not follow and start_refusal:
        return None
    running = any(r.status == RUNNING for r in latest.values())
    if not latest and start_refusal:
        return None
    return {
        "requests": [latest[doc] for doc in DOCUMENTS if doc in latest],
        "documents": DOCUMENTS, "statuses": REQUEST_STATUSES, "signer_statuses": SIGNER_STATUSES,
        "roles": ROLE_LABELS, "moment": moment, "follow": follow,
        "can_start": start_refusal is None and not running,
        "can_cancel": running and policy.signature_cancel_refusal(user, dossier) is None,
    }
