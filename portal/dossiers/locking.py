"""The dossier lock, in the model layer (SPEC §3): whatever the door (edit form, tab form,
editable list cell, action, import, direct POST), a flush that changes a locked dossier or one
of its parts for a person the lock applies to is refused.

- From `validation_demandee` the apprentice and the employer can no longer change the dossier.
- From `valide_formation` nobody can, except the CFA on economic data until `economie_validee`.
- Workflow transitions (portal.dossiers.workflow.run_transition) change the state of locked dossiers:
  they run inside `transition_scope()`, which the check lets through.
- Outside a request (CLI, seeds) there is no acting person: nothing is checked.
"""
from __future__ import annotations

from contextlib import contextmanager

from flask import has_request_context
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from portal.dossiers.workflow import STATES
from portal.models import (Apprenti, Contrat, Dossier, MaitreApprentissage, Mission,
                           PeriodeRemuneration, RepresentantLegal)

PARTS = (Apprenti, RepresentantLegal, MaitreApprentissage, Contrat, PeriodeRemuneration,
         Mission)
# Columns every change touches.
BOOKKEEPING = frozenset({"updated_at", "version"})
_FLAG = "sillon_transition"


class DossierLocked(PermissionError):
    """A change refused by the lock; the message is French, for the user."""


@contextmanager
def transition_scope(session):
    """Let a workflow transition change a locked dossier's state and stamps."""
    depth = session.info.get(_FLAG, 0)
    session.info[_FLAG] = depth + 1
    try:
        yield
    finally:
        session.info[_FLAG] = depth


def _actor():
    if not has_request_context():
        return None
    from flask_login import current_user
    return current_user if getattr(current_user, "is_authenticated", False) else None


def _committed_state(dossier: Dossier) -> str | None:
    history = inspect(dossier).attrs.state.history
    if history.deleted:
        return history.deleted[0]
    return dossier.state


def _changed_columns(obj) -> set[str]:
    state = inspect(obj)
    return {attr.key for attr in state.attrs
            if attr.history.has_changes() and attr.key in obj.__table__.columns}


def _check(session: Session) -> None:
    if session.info.get(_FLAG):
        return
    user = _actor()
    if user is None:
        return
    from portal.policy import CFA_ROLES, state_locked_for
    touched: dict[int, tuple[Dossier, bool]] = {}
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if isinstance(obj, Dossier):
            if obj in session.new:
                continue  # a new dossier has nothing locked yet
            columns = _changed_columns(obj) - BOOKKEEPING
            if not columns and obj not in session.deleted:
                continue
            state = STATES.get(_committed_state(obj) or "")
            allowed = state.cfa_fields if state is not None else frozenset()
            cfa_only = bool(columns) and columns <= allowed and obj not in session.deleted
            previous = touched.get(id(obj))
            touched[id(obj)] = (obj, cfa_only and (previous[1] if previous else True))
        elif isinstance(obj, PARTS):
            dossier = obj.dossier
            if dossier is None or dossier in session.new:
                continue
            if obj in session.dirty and not _changed_columns(obj):
                continue
            touched[id(dossier)] = (dossier, False)
    for dossier, cfa_only in touched.values():
        reason = state_locked_for(user, _committed_state(dossier))
        if reason is None:
            continue
        if cfa_only and user.has_role(*CFA_ROLES):
            continue  # the columns the table leaves to CFA staff in this state
        raise DossierLocked(reason)


def init_app(app) -> None:
    # One listener for every session of the process (Flask-SQLAlchemy's scoped sessions).
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)


def _before_flush(session, flush_context, instances):
    _check(session)
