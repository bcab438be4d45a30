"""Counting attempts in the database, so that every worker shares the counters: failed
attempts (login, reset, wrong access code) and admitted actions with a quota (successful
registrations, warning e-mails)."""
from datetime import timedelta

from sqlalchemy import delete, func, select

from ..extensions import db
from ..models import ThrottleEvent, utcnow


def failures(key: str, window_seconds: int) -> int:
    """How many events were recorded under ``key`` within the window."""
    since = utcnow() - timedelta(seconds=window_seconds)
    stmt = select(func.count()).select_from(ThrottleEvent).where(
        ThrottleEvent.key == key, ThrottleEvent.at >= since)
    return db.session.execute(stmt).scalar_one()


count = failures


def record_failure(*keys: str) -> None:
    for key in keys:
        db.session.add(ThrottleEvent(key=key))
    db.session.commit()


def take(limits: dict[str, int], window_seconds: int) -> str | None:
    """Admit one more action under every key of ``limits`` (key -> most events allowed within
    the window), or refuse it. Returns None when admitted; otherwise the first key whose limit
    is reached (in the order of ``limits``).

    The events are recorded and committed first, then counted, this one included: of two
    requests racing for the last place, each sees the other once both are committed, so at
    worst both are refused — never both admitted past the limit. A refused action leaves no
    event behind (it does not use up the quota). Commits the session."""
    events = [ThrottleEvent(key=key) for key in limits]
    db.session.add_all(events)
    db.session.commit()
    over = next((key for key, limit in limits.items()
                 if count(key, window_seconds) > limit), None)
    if over is not None:
        db.session.execute(delete(ThrottleEvent).where(
            ThrottleEvent.id.in_([event.id for event in events])))
        db.session.commit()
    return over


def clear(key: str) -> None:
    db.session.execute(delete(ThrottleEvent).where(ThrottleEvent.key == key))
    db.session.commit()


def purge_older_than(seconds: int) -> int:
    cutoff = utcnow() - timedelta(seconds=seconds)
    result = db.session.execute(delete(ThrottleEvent).where(ThrottleEvent.at < cutoff))
    db.session.commit()
    return result.rowcount or 0
