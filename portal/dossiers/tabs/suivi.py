"""Suivi – Info (SPEC §2): state, next action and who must act, the CFA contact, history."""
from __future__ import annotations

from typing import Any

from portal.dossiers.tabs.base import Tab

ACTOR_LABELS = {"alternant": "l'alternant·e", "employeur": "l'employeur",
                "formation_responsable": "la formation", "cfa_conseiller": "le CFA",
                "cfa_admin": "le CFA"}


class SuiviTab(Tab):
    code = "suivi"
    label = "Suivi – Info"
    editable = False
    template = "admin/dossier/tab_suivi.html"

    def extra_context(self, dossier, data) -> dict[str, Any]:
        from portal.models import DossierHistory
        from portal.dossiers.workflow import STATES, state_label
        state = STATES.get(dossier.state)
        actors = ", ".join(ACTOR_LABELS.get(a, a) for a in state.actors) if state else ""
        history = (DossierHistory.query.filter_by(dossier_id=dossier.id)
                   .order_by(DossierHistory.at.desc(), DossierHistory.id.desc()).limit(200).all())
        from flask_login import current_user

        from portal import policy
        from portal.dossiers.documents import offers
        from portal.documents.uploads import SIGNED_KINDS, latest
        from portal.dossiers.deadlines import dossier_deadlines
        from portal.dossiers.tabs.actions import workflow_context
        from portal.models.documents import DOCUMENT_KINDS
        signed = [(kind, DOCUMENT_KINDS[kind], latest(dossier, kind)) for kind in SIGNED_KINDS]
        can_upload = policy.upload_refusal(current_user, dossier) is None
        advisors = []
        if not policy.change_refusals(current_user, dossier, {"cfa_conseiller_id": None},
                                      source="conseiller"):
            advisors = list(policy.cfa_advisors())
        return {"actors": actors, "history": history, "state_label": state_label,
                "deadlines": dossier_deadlines(dossier),
                "signed": signed, "can_upload": can_upload, "advisors": advisors,
                "offers": offers(dossier), **workflow_context(dossier, current_user)}
