"""The guards named in the request table (portal/training_actions/states.py): each takes the
request (and today) and returns a French refusal, or None when the step may happen."""
from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Inscription
from portal.rules.formatting import day as fr_day
from portal.rules.training_actions import selection_refusal
from portal.training_actions.limits import limits


def _retained(session_id: int, structure_id: int | None = None) -> int:
    stmt = select(func.count(Inscription.id)).where(Inscription.session_id == session_id,
                                                   Inscription.state == "retenue")
    if structure_id is not None:
        stmt = stmt.where(Inscription.structure_id == structure_id)
    return db.session.execute(stmt).scalar_one()


def place(inscription, *, today: date | None = None) -> str | None:
    """A place in the session, within the structure's quota (SPEC §6)."""
    session = inscription.session
    return selection_refusal(capacity=session.capacite,
                             retained=_retained(session.id),
                             retained_of_structure=_retained(session.id,
                                                             inscription.structure_id),
                             max_per_structure=limits()["max_par_structure_par_session"])


def not_started(inscription, *, today: date | None = None) -> str | None:
    today = today or date.today()
    start = inscription.session.date_debut
    if today >= start:
        return (f"La session a commencé le {fr_day(start)} : la demande ne peut plus être "
                "annulée ; l'organisateur note l'absence.")
    return None


def started(inscription, *, today: date | None = None) -> str | None:
    today = today or date.today()
    start = inscription.session.date_debut
    if today < start:
        return f"La session ne commence que le {fr_day(start)}."
    return None


GUARDS = {"place": place, "not_started": not_started, "started": started}
