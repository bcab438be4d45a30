"""Sessions (issue 12, part 1): logout, a new password and deactivation end every session of
the person at once (a cookie copied before still fails); idle and absolute timeouts (frozen
clock); a new CSRF token at login; no remember-me cookie, ever; Secure cookies on demand."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine
from flask_login import encode_cookie, login_user

from portal.auth.sessions import EXPIRED_MESSAGE, LOGIN_AT, SEEN_AT
from portal.extensions import db
from portal.models import ThrottleEvent, User, UserRole, utcnow
from tests.conftest import make_app
from tests.support.web import csrf_from
from tests.support.web import login as web_login

PASSWORD = "Sillon-test-2026"
START = datetime(2031, 3, 3, 8, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def clean_throttle(app):
    yield
    with app.app_context():
        db.session.execute(sa.delete(ThrottleEvent))
        db.session.commit()


def make_user(app, prefix: str, role: str = "employeur", **fields) -> str:
    email = f"{prefix}.{uuid.uuid4().hex[:8]}@test.sillon.demo"
    with app.app_context():
        user = User(email=email, first_name="Test", last_name=prefix, rgpd_accepted_at=utcnow(),
                    rgpd_version=app.config["RGPD_TERMS_VERSION"], **fields)
        user.set_password(PASSWORD)
        user.roles.append(UserRole(role=role))
        db.session.add(user)
        db.session.commit()
    return email


def user_row(email: str) -> User:
    return db.session.execute(sa.select(User).where(User.email == email)).scalar_one()


def log_in(app, email, password=PASSWORD, client=None):
    client = client or app.test_client()
    response = web_login(client, email, password)
    assert response.status_code == 302, response.get_data(as_text=True)[:400]
    return client


def logged_in(client) -> bool:
    response = client.get("/compte")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def copy_of(app, client):
    """A second browser holding the very same session cookie."""
    copy = app.test_client()
    copy.set_cookie("session", client.get_cookie("session").value)
    return copy


def post_with_csrf(client, page_url, url, data, field="csrf_token"):
    page = client.get(page_url).get_data(as_text=True)
    token = re.search(r'name="[\w-]*csrf_token"[^>]*value="([^"]+)"', page).group(1)
    return client.post(url, data={field: token, **data})


# --- revocation ------------------------------------------------------------------------------------

def test_logout_ends_a_cookie_copied_before_and_every_other_session(app):
    email = make_user(app, "logout")
    client = log_in(app, email)
    other_device = log_in(app, email)
    stolen = copy_of(app, client)
    assert logged_in(stolen) and logged_in(other_device)  # the copy works… until the logout

    response = post_with_csrf(client, "/admin/", "/logout", {})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    page = client.get("/login").get_data(as_text=True)
    assert "Vous êtes déconnecté·e." in page and "autres appareils" in page

    for browser in (client, stolen, other_device):
        response = browser.get("/admin/")
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert not logged_in(stolen)


def test_password_change_ends_the_other_sessions_and_keeps_this_one(app):
    email = make_user(app, "change")
    client = log_in(app, email)
    other_device = log_in(app, email)
    stolen = copy_of(app, client)
    response = post_with_csrf(client, "/compte", "/compte/mot-de-passe", {
        "pwd-current": PASSWORD, "pwd-password": "Nouveau-2026-x", "pwd-confirm": "Nouveau-2026-x"},
        field="pwd-csrf_token")
    assert response.status_code == 302
    assert logged_in(client)
    assert not logged_in(other_device)
    assert not logged_in(stolen)
    log_in(app, email, "Nouveau-2026-x")


def test_first_password_renews_the_session_and_ends_the_others(app):
    email = make_user(app, "first")
    with app.app_context():
        user = user_row(email)
        user.set_password("Provisoire-1", temporary_until=utcnow() + timedelta(hours=1),
                          method="pbkdf2:sha256:1000")
        db.session.commit()
    client = log_in(app, email, "Provisoire-1")
    other_device = log_in(app, email, "Provisoire-1")
    response = post_with_csrf(client, "/premier-mot-de-passe", "/premier-mot-de-passe", {
        "password": "Choisi-2026-x", "confirm": "Choisi-2026-x"})
    assert response.status_code == 302
    assert logged_in(client) and not logged_in(other_device)


def test_deactivation_by_the_admin_action_ends_the_session_for_good(app, login):
    email = make_user(app, "deactivated")
    client = log_in(app, email)
    stolen = copy_of(app, client)
    with app.app_context():
        uid = user_row(email).id
    admin = login("admin@sillon.demo")
    response = post_with_csrf(admin, "/admin/user/", "/admin/user/action/", {
        "action": "desactiver", "rowid": str(uid)})
    assert response.status_code == 302
    assert not logged_in(client) and not logged_in(stolen)
    # Reactivated, the person logs in again, but the sessions from before stay dead.
    post_with_csrf(admin, "/admin/user/", "/admin/user/action/", {
        "action": "reactiver", "rowid": str(uid)})
    assert not logged_in(stolen)
    log_in(app, email)


def test_a_session_of_an_inactive_person_is_refused_even_with_the_right_token(app):
    email = make_user(app, "inactive")
    client = log_in(app, email)
    with app.app_context():
        user_row(email).active = False  # no token rotation: the loader refuses on its own
        db.session.commit()
    assert not logged_in(client)


# --- timeouts ----------------------------------------------------------------------------------------

def test_idle_timeout_with_a_frozen_clock(app):
    email = make_user(app, "idle")
    idle = app.config["SESSION_IDLE_MINUTES"]
    with time_machine.travel(START, tick=False) as clock:
        client = log_in(app, email)
        clock.shift(timedelta(minutes=idle - 1))
        assert logged_in(client)  # still alive, and seen again now
        clock.shift(timedelta(minutes=idle - 1))
        assert logged_in(client)
        clock.shift(timedelta(minutes=idle, seconds=1))
        response = client.get("/compte")
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")
        assert EXPIRED_MESSAGE in client.get("/login").get_data(as_text=True)
        assert not logged_in(client)


def test_absolute_timeout_with_a_frozen_clock(app):
    email = make_user(app, "absolute")
    limit = timedelta(hours=app.config["SESSION_MAX_HOURS"])
    with time_machine.travel(START, tick=False) as clock:
        client = log_in(app, email)
        elapsed = timedelta()
        step = timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] - 10)
        while elapsed + step < limit:  # busy all day: never idle
            clock.shift(step)
            elapsed += step
            assert logged_in(client), f"ended after {elapsed}"
        clock.shift(limit - elapsed + timedelta(seconds=1))
        response = client.get("/admin/")
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")
        assert EXPIRED_MESSAGE in client.get("/login").get_data(as_text=True)
        assert not logged_in(client)


def test_timeouts_follow_the_configuration(app):
    email = make_user(app, "configured")
    saved = app.config["SESSION_IDLE_MINUTES"]
    app.config["SESSION_IDLE_MINUTES"] = 5
    try:
        with time_machine.travel(START, tick=False) as clock:
            client = log_in(app, email)
            clock.shift(timedelta(minutes=4))
            assert logged_in(client)
            clock.shift(timedelta(minutes=5, seconds=1))
            assert not logged_in(client)
    finally:
        app.config["SESSION_IDLE_MINUTES"] = saved


def test_last_seen_is_written_at_most_once_a_minute(app):
    email = make_user(app, "seen")
    with time_machine.travel(START, tick=False) as clock:
        client = log_in(app, email)
        client.get("/compte")  # the first page adds the CSRF token to the session
        with client.session_transaction() as sess:
            first_seen = sess[SEEN_AT]
            assert sess[LOGIN_AT] == first_seen == int(START.timestamp())
        clock.shift(timedelta(seconds=30))
        response = client.get("/compte")
        assert response.status_code == 200 and "Set-Cookie" not in response.headers
        clock.shift(timedelta(seconds=31))
        response = client.get("/compte")
        assert "session=" in response.headers.get("Set-Cookie", "")
        with client.session_transaction() as sess:
            assert sess[SEEN_AT] == first_seen + 61


def test_a_session_without_its_login_time_is_ended(app):
    email = make_user(app, "legacy")
    client = log_in(app, email)
    with client.session_transaction() as sess:
        del sess[LOGIN_AT]  # e.g. a cookie signed before these stamps existed
    response = client.get("/compte")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert not logged_in(client)


# --- login starts afresh: CSRF token, remember-me ----------------------------------------------------

def test_the_csrf_token_is_renewed_at_login(app):
    email = make_user(app, "csrf")
    client = app.test_client()
    login_page = client.get("/login").get_data(as_text=True)
    old_token = csrf_from(login_page)
    with client.session_transaction() as sess:
        before = sess["csrf_token"]
    client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": old_token})
    client.get("/compte")
    with client.session_transaction() as sess:
        after = sess["csrf_token"]
    assert before != after
    # A form token minted before the login is worthless after it.
    assert client.post("/logout", data={"csrf_token": old_token}).status_code == 400
    assert logged_in(client)


def test_next_survives_the_fresh_session_of_the_login(app):
    email = make_user(app, "next")
    client = app.test_client()
    page = client.get("/login?next=/compte").get_data(as_text=True)
    response = client.post("/login?next=/compte", data={
        "email": email, "password": PASSWORD, "csrf_token": csrf_from(page)})
    assert response.headers["Location"] == "/compte"


def test_no_remember_cookie_is_ever_set_and_a_forged_one_is_refused(app):
    email = make_user(app, "remember")
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"email": email, "password": PASSWORD,
                                           "csrf_token": csrf_from(page), "remember": "y"})
    assert response.status_code == 302
    assert not any("remember_token" in h for h in response.headers.getlist("Set-Cookie"))
    assert not any("remember_token" in h
                   for h in client.get("/compte").headers.getlist("Set-Cookie"))
    # A remember-me cookie correctly signed for this very user (as Flask-Login would have
    # made one) does not log anyone in, and is deleted.
    with app.test_request_context():
        user = user_row(email)
        forged = encode_cookie(user.get_id())
    stranger = app.test_client()
    stranger.set_cookie("remember_token", forged)
    response = stranger.get("/admin/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert any(h.startswith("remember_token=;") for h in response.headers.getlist("Set-Cookie"))
    assert not logged_in(stranger)


def test_cookies_are_secure_when_configured(app, database_url, tmp_path):
    secure_app = make_app(database_url, str(tmp_path / "instance"), SESSION_COOKIE_SECURE=True)
    assert secure_app.config["REMEMBER_COOKIE_SECURE"] is True
    email = make_user(secure_app, "secure")
    client = secure_app.test_client()
    https = "https://localhost"
    page = client.get("/login", base_url=https)
    assert "; Secure" in page.headers["Set-Cookie"]
    response = client.post("/login", base_url=https, data={
        "email": email, "password": PASSWORD, "csrf_token": csrf_from(page.get_data(as_text=True))})
    session_cookie = [h for h in response.headers.getlist("Set-Cookie")
                      if h.startswith("session=")]
    assert session_cookie and all("; Secure" in h and "; HttpOnly" in h for h in session_cookie)
    # The remember-me cookie, were it ever issued, would be Secure too.
    with secure_app.test_request_context(base_url=https):
        login_user(user_row(email), remember=True)
        response = secure_app.process_response(secure_app.response_class("ok"))
        remember = [h for h in response.headers.getlist("Set-Cookie")
                    if h.startswith("remember_token=")]
        assert remember and "; Secure" in remember[0]
    # Without the setting, nothing is marked Secure (the default app of the tests).
    response = app.test_client().get("/login")
    assert "Secure" not in response.headers["Set-Cookie"]
