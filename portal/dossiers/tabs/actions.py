"""The workflow buttons a dossier page offers its reader (Suivi – Info: every transition this
person may run now; Résumé: the main path's next step when it is theirs), each with the reason
it is refused when its guard says no. Who may: portal.policy; what exists: the workflow table."""
from __future__ import annotations

from typing import Any

from portal.dossiers import workflow

ECONOMY_STEP = "valider_economie"


def workflow_context(dossier, user, *, steps_only: bool = False) -> dict[str, Any]:
    from portal.dossiers.transitions import available_transitions, refusal
    offered = available_transitions(dossier, user)
    if steps_only:
        offered = [t for t in offered if t.step]
    context = {"transitions": [(t, refusal(t, dossier, user, page=True)) for t in offered],
               "confirm_field": workflow.CONFIRM_FIELD,
               "confirmation_text": workflow.confirmation_text, "economy": None}
    # The employer's step between the economic validation and the CFA's check is no button:
    # returning the signed documents (Suivi – Info's upload fields).
    from portal import policy
    context["returns_signed"] = policy.upload_refusal(user, dossier) is None
    if any(t.code == ECONOMY_STEP for t in offered):
        # The CFA validates the economic elements seeing them (the devis's figures).
        from portal.dossiers.tabs.economy import economy_figures
        context["economy"] = economy_figures(dossier)
    return context
