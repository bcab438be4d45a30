"""Vie étudiante (SPEC §2): the aids this apprentice may claim (portal.rules.aids), the useful
contacts and student-life information. Nothing to fill, nothing mandatory."""
from __future__ import annotations

from typing import Any

from portal.rules.aids import apprentice_aids

from portal.dossiers.tabs.base import Tab, as_date


class StudentLifeTab(Tab):
    code = "vie"
    label = "Vie étudiante"
    editable = False
    template = "admin/dossier/tab_student_life.html"

    def extra_context(self, dossier, data) -> dict[str, Any]:
        from portal.dossiers.tabs.contract_tab import merge_rows, schedule_for
        rows = merge_rows(schedule_for(data), data.get("remuneration") or [], floor=True)
        pay = rows[0]["monthly_amount"] if rows else None
        start = as_date(data.get("date_debut_contrat"))
        aids = apprentice_aids(as_date(data.get("apprenti_date_naissance")), start,
                               as_date(data.get("date_fin_contrat")), pay)
        formation = dossier.formation
        return {"aids": aids, "cfa": formation.cfa if formation is not None else None,
                "advisor": dossier.cfa_conseiller, "pay": pay}
