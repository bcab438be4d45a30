"""A dossier's history: one entry per value that really changed (who, when, old → new), whatever
door changed it, printed with one formatter (dates dd/mm/yyyy, amounts with a decimal comma,
yes/no)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from portal.extensions import db
from portal.models import DossierHistory


def display(value) -> str | None:
    """The one way the history (and the pages showing it) print a value."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, Decimal):
        return f"{value:.2f}".replace(".", ",")
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, (list, tuple)):  # the remuneration grid: one period per line
        rows = [_row(item) for item in value]
        return " ; ".join(r for r in rows if r) or None
    return str(value)


def _row(item) -> str | None:
    """A period of the remuneration grid: "53,00 % – 1 234,56 €"."""
    if not isinstance(item, dict):
        return display(item)
    percent, amount = display(item.get("percent")), display(item.get("monthly_amount"))
    parts = [f"{percent} %" if percent else None, f"{amount} €" if amount else None]
    return " – ".join(p for p in parts if p) or None


# Fields whose form field has no text label of its own (a list of sub-forms).
LABELS = {"remuneration": "Rémunération (pourcentage et montant mensuel de chaque période)"}


def _label(unbound, name: str) -> str:
    if name in LABELS:
        return LABELS[name]
    args = getattr(unbound, "args", None)
    if args and isinstance(args[0], str):
        return args[0]
    kwargs = getattr(unbound, "kwargs", None) or {}
    return str(kwargs.get("label") or name)


def field_labels(dossier, preferred_tab=None) -> dict[str, str]:
    """Flat field name → "Onglet – Libellé du champ", for every field an editable tab shows
    (a field on two tabs takes the label of ``preferred_tab``, else of the first)."""
    from portal.dossiers import tabs
    order = [t for t in tabs.visible_tabs(dossier) if t.editable]
    if preferred_tab is not None:
        order.insert(0, preferred_tab)
    labels: dict[str, str] = {}
    for tab in order:
        form_class = tab.form_class(dossier)
        for name in tab.fields:
            if name in labels:
                continue
            unbound = getattr(form_class, name, None) if form_class is not None else None
            labels[name] = f"{tab.label} – {_label(unbound, name)}"
    return labels


def record_changes(dossier, before: dict[str, Any], after: dict[str, Any], *, by,
                   labels: dict[str, str], notes: dict[str, str] | None = None
                   ) -> list[DossierHistory]:
    """A "field" history entry for each labelled field whose printed value differs between
    ``before`` and ``after`` (what was really stored, not what was posted), with the comment
    ``notes`` gives for that field."""
    notes = notes or {}
    entries = []
    for name, label in labels.items():
        old, new = display(before.get(name)), display(after.get(name))
        if old == new:
            continue
        entry = DossierHistory(dossier=dossier, user_id=getattr(by, "id", None), kind="field",
                               field=label, old_value=old, new_value=new,
                               comment=notes.get(name))
        db.session.add(entry)
        entries.append(entry)
    return entries
