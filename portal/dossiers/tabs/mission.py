"""La mission (SPEC §2): the apprentice's missions, only when the training requires it."""
from __future__ import annotations

from typing import Any

from portal.dossiers.tabs.base import Section, Tab


MISSION_ACTIONS = (("soumettre", "Soumettre la mission au responsable", False),
                   ("valider", "Valider la mission", False),
                   ("renvoyer", "Renvoyer la mission", True))


class MissionTab(Tab):
    code = "mission"
    label = "La mission"
    fields = ("mission_description",)
    template = "admin/dossier/tab_mission.html"

    def visible(self, dossier) -> bool:
        return bool(dossier.formation is not None and dossier.formation.mission_requise)

    def form_class(self, dossier):
        from forms.tabs.mission import MissionForm
        return MissionForm

    def load(self, dossier) -> dict[str, Any]:
        mission = dossier.mission
        return {"mission_description": mission.description if mission else None}

    def store(self, dossier, data: dict[str, Any], user) -> None:
        from portal.models import Mission
        if dossier.mission is None:
            dossier.mission = Mission()
        dossier.mission.description = data.get("mission_description")

    def required(self, data, dossier) -> set[str]:
        return {"mission_description"} if self.visible(dossier) else set()

    def sections(self, dossier, data) -> list[Section]:
        return [Section("Missions confiées à l'alternant·e", ["mission_description"],
                        help="Décrivez les activités que l'alternant·e exercera dans "
                             "l'entreprise. Le responsable de la formation valide la mission "
                             "avant que le dossier puisse continuer.")]

    def extra_context(self, dossier, data) -> dict[str, Any]:
        from flask_login import current_user

        from portal import policy
        from portal.dossiers.transitions import mission_refusal
        from portal.models import Mission
        mission = dossier.mission
        status = mission.status if mission is not None else Mission.BROUILLON
        roles = policy.roles_on_dossier(current_user, dossier)
        actions = [(code, label, needs) for code, label, needs in MISSION_ACTIONS
                   if roles & policy.MISSION_ACTION_ROLES[code]]
        return {"mission_status": status, "mission_label": Mission.STATUS_LABELS[status],
                "mission_comment": mission.commentaire if mission is not None else None,
                "mission_actions": [(code, label, mission_refusal(code, dossier, current_user),
                                     needs) for code, label, needs in actions]}
