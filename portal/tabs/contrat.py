"""Le contrat (SPEC §2). Stub: filled in by the Le contrat work."""
from __future__ import annotations

from .base import Tab


class ContratTab(Tab):
    code = "contrat"
    label = "Le contrat"
    fields = ("date_debut_contrat", "date_fin_contrat")
    field_prefixes = ("remuneration_",)
    editable = False  # until the form lands

    def visible(self, dossier) -> bool:
        return dossier.niveau_saisie != "simple"
