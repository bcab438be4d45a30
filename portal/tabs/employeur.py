"""L'employeur (SPEC §2). Stub: filled in by the L'employeur work."""
from __future__ import annotations

from .base import Tab


class EmployeurTab(Tab):
    code = "employeur"
    label = "L'employeur"
    fields = ("employeur_siret",)
    editable = False  # until the form lands
