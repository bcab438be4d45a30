"""Vie étudiante (SPEC §2). Stub: filled in by the Le contrat work."""
from __future__ import annotations

from .base import Tab


class VieEtudianteTab(Tab):
    code = "vie"
    label = "Vie étudiante"
    editable = False
    template = "admin/dossier/tab_vie.html"
