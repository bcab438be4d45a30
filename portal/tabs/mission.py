"""La mission (SPEC §2): the apprentice's missions, only when the training requires it."""
from __future__ import annotations

from typing import Any

from .base import Section, Tab


class MissionTab(Tab):
    code = "mission"
    label = "La mission"
    fields = ("mission_description",)

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
