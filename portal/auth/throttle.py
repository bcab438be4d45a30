"""Counting attempts in the database, so that every worker shares the counters: failed
attempts (login, reset, wrong access code) and admitted actions with a quota (successful
registrations, warning e-mails).

Login failures count three ways: per (address, IP) and per IP, each blocking for the window
once over its limit; and per address whatever the IP, which never blocks: past a few failures
each attempt must wait since the last one a delay that doubles (1 s, 2, 4…) up to a cap. An
address attacked from many IPs thus slows down instead of locking its owner out (who can also
always reset the password by e-mail: that page is not behind this throttle). A refused attempt
is not counted and never sleeps in the request: it answers 429 with Retry-After."""
from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, request
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


# --- login ---------------------------------------------------------------------------------------

def client_ip() -> str:
    """The client's address (the proxies' view with TRUSTED_PROXIES): IPv4 as is, IPv6 as its
    /64 (one subscriber's whole block), anything unreadable as "?"."""
    try:
        address = ipaddress.ip_address((request.remote_addr or "").strip())
    except ValueError:
        return "?"
    if address.version == 4:
        return str(address)
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))


def _login_keys(email: str, ip: str) -> tuple[str, str, str]:
    """(per address, per IP, per address and IP); at most 290 characters (the column: 300)."""
    return f"login:email:{email}", f"login:ip:{ip}", f"login:pair:{ip}|{email}"


@dataclass(frozen=True)
class Refusal:
    message: str
    retry_after: int  # seconds


def _duration(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} seconde{'s' if seconds > 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes > 1 else ''}"


def _stats(keys, window_seconds: int) -> dict:
    """key -> (count, first, last) of its events within the window, in one query."""
    since = utcnow() - timedelta(seconds=window_seconds)
    rows = db.session.execute(
        select(ThrottleEvent.key, func.count(), func.min(ThrottleEvent.at),
               func.max(ThrottleEvent.at))
        .where(ThrottleEvent.key.in_(list(keys)), ThrottleEvent.at >= since)
        .group_by(ThrottleEvent.key)).all()
    return {key: (n, first, last) for key, n, first, last in rows}


def slowdown_seconds(failures: int, after: int, cap: int) -> int:
    """The wait imposed after ``failures`` failures on one address (0 below ``after``)."""
    if failures < after:
        return 0
    return min(cap, 2 ** min(failures - after, 30))


def login_refusal(email: str, ip: str) -> Refusal | None:
    """Why this login attempt is refused now (with how long to wait), or None."""
    cfg = current_app.config
    window = cfg["LOGIN_FAILURE_WINDOW_SECONDS"]
    key_email, key_ip, key_pair = _login_keys(email, ip)
    stats = _stats((key_email, key_ip, key_pair), window)
    now = utcnow()
    for key, limit in ((key_ip, cfg["LOGIN_MAX_FAILURES_PER_IP"]),
                       (key_pair, cfg["LOGIN_MAX_FAILURES"])):
        count, first, _ = stats.get(key, (0, None, None))
        if count >= limit:
            wait = max(1, math.ceil((first + timedelta(seconds=window) - now).total_seconds()))
            return Refusal(f"Trop de tentatives de connexion. Réessayez dans {_duration(wait)} "
                           "ou utilisez « Mot de passe oublié ».", wait)
    count, _, last = stats.get(key_email, (0, None, None))
    delay = slowdown_seconds(count, cfg["LOGIN_SLOWDOWN_AFTER"],
                             cfg["LOGIN_SLOWDOWN_MAX_SECONDS"])
    if delay:
        wait = math.ceil((last + timedelta(seconds=delay) - now).total_seconds())
        if wait > 0:
            return Refusal("Trop de tentatives de connexion pour cette adresse. Par sécurité, "
                           f"attendez {_duration(wait)} avant de réessayer, ou utilisez "
                           "« Mot de passe oublié ».", wait)
    return None


def login_failed(email: str, ip: str) -> None:
    record_failure(*_login_keys(email, ip))


def login_cleared(email: str, ip: str | None = None) -> None:
    """A successful login from ``ip`` forgets that address's failures (and that pair's); a new
    password (ip None) forgets its failures from every IP."""
    key_email, _, key_pair = _login_keys(email, ip or "")
    pairs = (ThrottleEvent.key == key_pair if ip is not None
             else ThrottleEvent.key.like("login:pair:%") &
             ThrottleEvent.key.endswith(f"|{email}", autoescape=True))
    db.session.execute(delete(ThrottleEvent).where((ThrottleEvent.key == key_email) | pairs))
    db.session.commit()
