"""A training of its own for a test dossier of a demo apprentice.

A dossier is unique per apprentice and training while it is open (the unique index
uq_dossiers_open_apprentice, migration 0004): the demo apprentices already have theirs, and a
test often wants several at once. Such a test dossier goes in a copy of the demo training it
names — same CFA, establishment, managers, helpers, CFA contact, mode and mission settings —
removed after the test with whatever it still holds."""
from __future__ import annotations

import sqlalchemy as sa

from portal.extensions import db
from portal.models import Dossier, Formation, OutboxEmail

_NOT_COPIED = {"id", "access_code", "created_at"}


def training_copy(formation: Formation, made: list | None = None) -> Formation:
    """A copy of ``formation`` in the current session (flushed; committed with the caller's
    dossier). Its id is appended to ``made``, for drop_training_copies."""
    values = {attr.key: getattr(formation, attr.key)
              for attr in sa.inspect(Formation).column_attrs if attr.key not in _NOT_COPIED}
    copy = Formation(**values)
    copy.responsables = list(formation.responsables)
    copy.gestionnaires = list(formation.gestionnaires)
    db.session.add(copy)
    db.session.flush()
    if made is not None:
        made.append(copy.id)
    return copy


def drop_training_copies(app, ids) -> None:
    """Remove the copies, with the dossiers (and their e-mails) still in them."""
    with app.app_context():
        for pk in ids:
            for dossier in db.session.execute(sa.select(Dossier).where(
                    Dossier.formation_id == pk)).scalars():
                db.session.execute(sa.delete(OutboxEmail).where(
                    OutboxEmail.dossier_id == dossier.id))
                db.session.delete(dossier)
            db.session.flush()
            formation = db.session.get(Formation, pk)
            if formation is not None:
                db.session.delete(formation)
        db.session.commit()
