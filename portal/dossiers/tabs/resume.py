"""Résumé (SPEC §2): a read-only summary of every tab and every remaining anomaly, grouped by
tab, each anomaly named by its field's label and linking to that field on its tab; and the main
path's next step when it is the reader's (the same buttons as Suivi – Info)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from portal.dossiers.tabs.base import REQUIRED_MESSAGE, Tab

LEVEL_LABELS = {"error": "Erreur", "warning": "Attention", "info": "Information"}


def display(value: Any, field=None) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "Oui" if value else "Non"
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, Decimal):
        return f"{value:.2f}".replace(".", ",")
    if field is not None and getattr(field, "choices", None) and not callable(field.choices):
        for key, label in field.choices:
            if str(key) == str(value):
                return label
    return str(value)


@dataclass(frozen=True)
class Anomaly:
    """One finding as the Résumé lists it: its tab, its field's label, where it is shown."""

    level: str
    field: str
    label: str          # the field's label on its tab ("Nom de naissance")
    section: str | None  # the block of the page showing it ("Adresse"): "Voie" of which?
    message: str
    anchor: str | None  # the element id on the tab's page, None when shown at the top

    @property
    def level_label(self) -> str:
        return LEVEL_LABELS.get(self.level, self.level)


def field_places(tab: Tab, dossier, data, form) -> dict[str, tuple[str, str]]:
    """Field name → (label, section legend) of every field the tab's page renders with an
    anchor (``field-<name>``, templates/admin/dossier/_fields.html)."""
    places: dict[str, tuple[str, str]] = {}
    for section in tab.sections(dossier, data):
        for name in section.fields:
            if form is not None and name in form._fields:
                places[name] = (form._fields[name].label.text, section.legend)
    return places


def anomaly(finding, places: dict[str, tuple[str, str]]) -> Anomaly:
    name = finding.field
    message = ("Champ obligatoire, à renseigner." if finding.message == REQUIRED_MESSAGE
               else finding.message)
    if name in places:
        label, legend = places[name]
        return Anomaly(finding.level, name, label, legend, message, f"field-{name}")
    if name.startswith("remuneration_") and name[len("remuneration_"):].isdigit():
        number = name[len("remuneration_"):]
        return Anomaly(finding.level, name, f"Période {number}", "Rémunération", message,
                       f"field-{name}")
    # Not a field of the page (a block, a rule about several fields): shown at the top.
    return Anomaly(finding.level, name, "Ensemble de l'onglet", None, message, None)


class ResumeTab(Tab):
    code = "resume"
    label = "Résumé"
    editable = False
    template = "admin/dossier/tab_resume.html"

    def extra_context(self, dossier, data) -> dict[str, Any]:
        from flask_login import current_user

        from portal.dossiers.tabs import dossier_findings, visible_tabs
        from portal.dossiers.tabs.actions import workflow_context
        findings = dossier_findings(dossier, data)
        groups, summary = [], []
        for tab in visible_tabs(dossier):
            if not tab.editable:
                continue
            form_class = tab.form_class(dossier)
            form = form_class(formdata=None, data=tab.load(dossier)) if form_class else None
            places = field_places(tab, dossier, data, form)
            items = [anomaly(tf.finding, places) for tf in findings if tf.tab == tab.code]
            if items:
                groups.append((tab, items))
            rows = []
            for section in tab.sections(dossier, data):
                if section.extra.get("hidden"):
                    continue
                for name in section.fields:
                    if form is None or name not in form._fields:
                        continue
                    field = form._fields[name]
                    rows.append((section.legend, field.label.text, display(data.get(name), field)))
            summary.append((tab, rows))
        errors = sum(1 for tf in findings if tf.finding.level == "error")
        return {"groups": groups, "summary": summary, "error_count": errors,
                "findings_count": len(findings),
                **workflow_context(dossier, current_user, steps_only=True)}
