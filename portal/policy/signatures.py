"""The electronic signature (SPEC §8): who sends a dossier's documents for signature, cancels
it, and who follows it (each signer's status, the signed PDF, the evidence file). A signer
acts through their personal link, not through an account: portal/signatures/links.py."""
from __future__ import annotations

from portal.dossiers.workflow import CFA, PARTIES, STATES, state_label
from portal.models import Dossier, User
from portal.policy.dossier_writes import roles_on_dossier


def signature_start_refusal(user: User, dossier: Dossier) -> str | None:
    """The CFA's staff send the CERFA and the convention for signature, in the states of the
    workflow table where that is offered (from « Éléments économiques validés »)."""
    if not roles_on_dossier(user, dossier) & CFA:
        return "Seul le CFA envoie les documents en signature électronique."
    state = STATES.get(dossier.state or "")
    if state is None or not state.e_signature:
        return ("La signature électronique se lance une fois les éléments économiques validés "
                f"par le CFA (état actuel : « {state_label(dossier.state)} »).")
    return None


def signature_cancel_refusal(user: User, dossier: Dossier) -> str | None:
    if not roles_on_dossier(user, dossier) & CFA:
        return "Seul le CFA annule une signature électronique."
    return None


def may_follow_signatures(user: User, dossier: Dossier) -> bool:
    """The CFA and the parties (the apprentice, the employer) see each signer's status and
    download the signed PDF and the evidence file."""
    return bool(roles_on_dossier(user, dossier) & (CFA | PARTIES))
