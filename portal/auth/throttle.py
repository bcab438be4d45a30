"""Counting failed attempts in the database, so that every worker shares the counters."""
from datetime import timedelta

from sqlalchemy import delete, func, select

from ..extensions import db
from ..models import ThrottleEvent, utcnow


def failures(key: str, window_seconds: int) -> int:
    since = utcnow() - timedelta(seconds=window_seconds)
    stmt = select(func.count()).select_from(ThrottleEvent).where(
        ThrottleEvent.key == key, ThrottleEvent.at >= since)
    return db.session.execute(stmt).scalar_one()


def record_failure(*keys: str) -> None:
    for key in keys:
        db.session.add(ThrottleEvent(key=key))
    db.session.commit()


def clear(key: str) -> None:
    db.session.execute(delete(ThrottleEvent).where(ThrottleEvent.key == key))
    db.session.commit()


def purge_older_than(seconds: int) -> int:
    cutoff = utcnow() - timedelta(seconds=seconds)
    result = db.session.execute(delete(ThrottleEvent).where(ThrottleEvent.at < cutoff))
    db.session.commit()
    return result.rowcount or 0
