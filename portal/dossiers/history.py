"""Field-change history of a dossier (who, when, old → new), whatever screen changed it."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import inspect

from portal.extensions import db
from portal.models import DossierHistory

SKIPPED = frozenset({"updated_at", "version", "created_at", "created_by_id"})


def display(value) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, Decimal):
        return f"{value:.2f}".replace(".", ",")
    return str(value)


def record_column_changes(dossier, obj, user, labels: dict[str, str], prefix: str = "") -> int:
    """Add a history entry for each changed column of `obj` (the dossier or one of its parts),
    read from SQLAlchemy's attribute history before the flush. Returns how many."""
    state = inspect(obj)
    count = 0
    for attr in state.attrs:
        if attr.key in SKIPPED or attr.key not in obj.__table__.columns:
            continue
        history = attr.history
        if not history.has_changes():
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        if display(old) == display(new):
            continue
        label = labels.get(attr.key) or labels.get(attr.key.removesuffix("_id"), attr.key)
        db.session.add(DossierHistory(dossier=dossier, user_id=getattr(user, "id", None),
                                      kind="field", field=f"{prefix}{label}",
                                      old_value=display(old), new_value=display(new)))
        count += 1
    return count
