"""Résumé (SPEC §2): a read-only summary of every tab and every remaining anomaly, grouped by
tab, each group linking to its tab."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from portal.dossiers.tabs.base import Tab


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


class ResumeTab(Tab):
    code = "resume"
    label = "Résumé"
    editable = False
    template = "admin/dossier/tab_resume.html"

    def extra_context(self, dossier, data) -> dict[str, Any]:
        from portal.dossiers.tabs import dossier_findings, visible_tabs
        findings = dossier_findings(dossier, data)
        groups, summary = [], []
        for tab in visible_tabs(dossier):
            if not tab.editable:
                continue
            items = [tf.finding for tf in findings if tf.tab == tab.code]
            if items:
                groups.append((tab, items))
            form_class = tab.form_class(dossier)
            form = form_class(formdata=None, data=tab.load(dossier)) if form_class else None
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
                "findings_count": len(findings)}
