"""The demo's past: what a scripted step adds is dated at the step's moment instead of the
build's, so every history reads in the order things happened (seeds/demo_financing.py,
seeds/demo_training.py)."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import event

from portal.extensions import db


@contextmanager
def stamped(moment: datetime, names: tuple[str, ...] = ("at", "created_at")):
    """Collect the rows added inside the block; at its end, set their `names` columns (those
    their model has) to `moment`. Yields the list of the rows added."""
    session, added = db.session(), []

    def collect(_session, obj):
        added.append(obj)
    event.listen(session, "transient_to_pending", collect)
    try:
        yield added
    finally:
        event.remove(session, "transient_to_pending", collect)
    for obj in added:
        for name in names:
            if hasattr(type(obj), name):
                setattr(obj, name, moment)
