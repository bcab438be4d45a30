"""Sessions: signed cookies that the server can end, and that end by themselves.

- Revocable: the cookie names the user as "<id>:<session token>" (User.get_id) and the loader
  compares the token with the user row it loads anyway, so rotating the token (logout, new
  password, deactivation: User.end_sessions) ends every session of that person at once, with
  no extra query per request.
- Timed out: the login time and the last-seen time are kept in the signed session; past
  SESSION_IDLE_MINUTES without a request, or SESSION_MAX_HOURS after the login, the session is
  cleared and the person sent back to the login page with a French message.
- No remember-me cookie: Sillon never asks Flask-Login for one, and one presented anyway
  (forged, or left over) is ignored and deleted.
- A login starts from an empty session (new CSRF token, nothing kept from before).
"""
from __future__ import annotations

import time
from datetime import timedelta

from flask import Flask, current_app, flash, g, redirect, request, session, url_for
from flask_login import login_user, logout_user, user_logged_in

LOGIN_AT = "_sillon_login_at"  # epoch seconds of the login
SEEN_AT = "_sillon_seen_at"  # epoch seconds of the last request, refreshed once a minute
# Writing the last-seen time changes the session, so Flask re-signs and re-sends the cookie.
# Doing it on every request would put a Set-Cookie on every response (uncacheable, and two
# concurrent requests would each send back their own copy of the session, the last one
# winning — a flash message set by one can be lost by the other). Once a minute bounds the
# error on the idle timeout to one minute.
SEEN_RESOLUTION_SECONDS = 60
EXPIRED_MESSAGE = "Votre session a expiré, reconnectez-vous."
_STATIC_ENDPOINTS = {"static", "admin.static"}


def _now() -> int:
    return int(time.time())


def begin(user) -> None:
    """Log ``user`` in on a fresh session: what was in the session before the login (the CSRF
    token above all) is dropped. `next` is a query parameter, so it survives."""
    session.clear()
    # Flask-WTF also caches the signed token of this request in `g`: drop it with the session's,
    # so a form rendered after the login (in this request or a reused context) carries the new one.
    g.pop("csrf_token", None)
    login_user(user, remember=False)  # user_logged_in stamps the login time (below)


def end(user=None) -> None:
    """Log out; with ``user``, also end every other session of that person (the caller
    commits the rotated token)."""
    if user is not None:
        user.end_sessions()
    session.clear()
    logout_user()


def _stamp(sender, user, **extra) -> None:
    now = _now()
    session[LOGIN_AT] = now
    session[SEEN_AT] = now


def _expired(now: int) -> bool:
    cfg = current_app.config
    login_at, seen_at = session.get(LOGIN_AT), session.get(SEEN_AT)
    if not isinstance(login_at, int) or not isinstance(seen_at, int):
        return True  # a session from before these stamps, or one restored by other means
    return (now - seen_at > cfg["SESSION_IDLE_MINUTES"] * 60
            or now - login_at > cfg["SESSION_MAX_HOURS"] * 3600)


def check_session():
    """before_request: end a session past its idle or absolute limit; note the last request."""
    if request.endpoint in _STATIC_ENDPOINTS:
        return None
    remember_cookie = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    if remember_cookie in request.cookies and "_user_id" not in session:
        # Flask-Login would log the person in from it: refuse, and have it deleted.
        session["_remember"] = "clear"
    if "_user_id" not in session:
        return None
    now = _now()
    if _expired(now):
        end()
        flash(EXPIRED_MESSAGE, "warning")
        keep = request.method == "GET" and request.endpoint not in ("auth.login", "auth.logout")
        return redirect(url_for("auth.login", next=request.full_path if keep else None))
    if now - session[SEEN_AT] >= SEEN_RESOLUTION_SECONDS:
        session[SEEN_AT] = now
    return None


def init_app(app: Flask) -> None:
    cfg = app.config
    # The cookie's own signature expires with the absolute limit (Flask checks its age against
    # PERMANENT_SESSION_LIFETIME even for browser-session cookies).
    cfg["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=cfg["SESSION_MAX_HOURS"])
    # Never issued; should one ever be, it could not outlive a session nor travel over HTTP.
    cfg["REMEMBER_COOKIE_DURATION"] = timedelta(hours=cfg["SESSION_MAX_HOURS"])
    cfg["REMEMBER_COOKIE_SECURE"] = cfg["SESSION_COOKIE_SECURE"]
    cfg["REMEMBER_COOKIE_SAMESITE"] = cfg["SESSION_COOKIE_SAMESITE"]
    cfg["REMEMBER_COOKIE_REFRESH_EACH_REQUEST"] = False
    user_logged_in.connect(_stamp, app)
    app.before_request(check_session)
