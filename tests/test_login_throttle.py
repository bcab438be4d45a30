"""Login throttling, proxies and timing (issue 12, part 4).

Failures count per (address, IP) and per IP, each blocking for the window; per address across
all IPs they only slow down (a delay that doubles up to a cap, answered 429 + Retry-After,
never a sleep in the request), so an address attacked from many IPs is never locked away from
its owner, who can always reset by e-mail. Behind TRUSTED_PROXIES the client's IP comes from
X-Forwarded-For, otherwise that header is ignored. An unknown address costs the same password
hash as a known one."""
from __future__ import annotations

import statistics
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from portal.auth.throttle import slowdown_seconds
from portal.extensions import db
from portal.models import ThrottleEvent, User, UserRole, utcnow
from tests.conftest import make_app
from tests.support.web import csrf_from

PASSWORD = "Sillon-test-2026"
WRONG = "pas-le-bon-123"
IP_A, IP_B = "198.51.100.10", "203.0.113.20"
START = datetime(2031, 5, 5, 9, 0, tzinfo=timezone.utc)


def _clear(app):
    with app.app_context():
        db.session.execute(sa.delete(ThrottleEvent))
        db.session.commit()


@pytest.fixture(autouse=True)
def clean_throttle(app):
    _clear(app)
    yield
    _clear(app)


@pytest.fixture()
def config(app):
    """Change settings for one test."""
    saved = dict(app.config)

    def set_(**values):
        app.config.update(values)
    yield set_
    for key in ("LOGIN_MAX_FAILURES", "LOGIN_MAX_FAILURES_PER_IP", "LOGIN_SLOWDOWN_AFTER",
                "LOGIN_SLOWDOWN_MAX_SECONDS", "LOGIN_FAILURE_WINDOW_SECONDS"):
        app.config[key] = saved[key]


def make_user(app, prefix: str, **fields) -> str:
    email = f"{prefix}.{uuid.uuid4().hex[:8]}@test.sillon.demo"
    with app.app_context():
        user = User(email=email, first_name="Test", last_name=prefix, rgpd_accepted_at=utcnow(),
                    rgpd_version=app.config["RGPD_TERMS_VERSION"], **fields)
        user.set_password(PASSWORD)
        user.roles.append(UserRole(role="employeur"))
        db.session.add(user)
        db.session.commit()
    return email


def attempt(app, email, password, ip="127.0.0.1", headers=None, client=None):
    """One login attempt from a fresh browser at ``ip`` (REMOTE_ADDR as the server sees it)."""
    client = client or app.test_client()
    env = {"REMOTE_ADDR": ip}
    page = client.get("/login", environ_base=env, headers=headers or {})
    return client.post("/login", environ_base=env, headers=headers or {}, data={
        "email": email, "password": password, "csrf_token": csrf_from(page.get_data(as_text=True))})


def keys(app):
    with app.app_context():
        return set(db.session.scalars(sa.select(ThrottleEvent.key)))


# --- per (address, IP) and per IP ----------------------------------------------------------------

def test_failures_from_one_ip_lock_that_pair_only(app):
    email = make_user(app, "pair")
    limit = app.config["LOGIN_MAX_FAILURES"]
    for _ in range(limit):
        assert attempt(app, email, WRONG, IP_A).status_code == 401
    blocked = attempt(app, email, PASSWORD, IP_A)
    assert blocked.status_code == 429
    window_minutes = app.config["LOGIN_FAILURE_WINDOW_SECONDS"] // 60
    assert f"Réessayez dans {window_minutes} minutes" in blocked.get_data(as_text=True)
    assert 0 < int(blocked.headers["Retry-After"]) <= app.config["LOGIN_FAILURE_WINDOW_SECONDS"]
    # The owner, elsewhere, logs in at once.
    assert attempt(app, email, PASSWORD, IP_B).status_code == 302
    # The refused attempt was not counted; the pair stays locked.
    assert attempt(app, email, PASSWORD, IP_A).status_code == 429


def test_the_pair_lock_ends_with_the_window(app):
    email = make_user(app, "window")
    window = app.config["LOGIN_FAILURE_WINDOW_SECONDS"]
    with time_machine.travel(START, tick=False) as clock:
        for _ in range(app.config["LOGIN_MAX_FAILURES"]):
            attempt(app, email, WRONG, IP_A)
        clock.shift(timedelta(seconds=window - 10))
        blocked = attempt(app, email, PASSWORD, IP_A)
        assert blocked.status_code == 429 and blocked.headers["Retry-After"] == "10"
        assert "Réessayez dans 10 secondes" in blocked.get_data(as_text=True)
        clock.shift(timedelta(seconds=11))
        assert attempt(app, email, PASSWORD, IP_A).status_code == 302


def test_failures_per_ip_across_addresses(app, config):
    config(LOGIN_MAX_FAILURES_PER_IP=3)
    email = make_user(app, "per-ip")
    for i in range(3):
        assert attempt(app, f"inconnu{i}.{uuid.uuid4().hex[:6]}@exemple.fr", WRONG,
                       IP_A).status_code == 401
    assert attempt(app, email, PASSWORD, IP_A).status_code == 429
    assert attempt(app, email, PASSWORD, IP_B).status_code == 302


def test_an_ipv6_client_counts_as_its_whole_block(app, config):
    config(LOGIN_MAX_FAILURES_PER_IP=2)
    email = make_user(app, "ipv6")
    attempt(app, "x1@exemple.fr", WRONG, "2001:db8:1:2::5")
    attempt(app, "x2@exemple.fr", WRONG, "2001:db8:1:2:ffff::9")
    assert attempt(app, email, PASSWORD, "2001:db8:1:2:abcd::1").status_code == 429
    assert attempt(app, email, PASSWORD, "2001:db8:1:3::1").status_code == 302
    assert "login:ip:2001:db8:1:2::/64" in keys(app)


# --- one address, many IPs: a growing delay, never a lockout -------------------------------------

def test_many_ips_on_one_address_slow_it_down_without_locking_its_owner_out(app):
    email = make_user(app, "target")
    after = app.config["LOGIN_SLOWDOWN_AFTER"]
    cap = app.config["LOGIN_SLOWDOWN_MAX_SECONDS"]
    with time_machine.travel(START, tick=False) as clock:
        for i in range(after):  # one failure from each of many IPs: no pair is locked
            assert attempt(app, email, WRONG, f"10.0.0.{i + 1}").status_code == 401
        waits = []
        for n in range(8):
            refused = attempt(app, email, WRONG, f"10.1.0.{n + 1}")
            assert refused.status_code == 429
            wait = int(refused.headers["Retry-After"])
            waits.append(wait)
            text = refused.get_data(as_text=True)
            assert (f"attendez {wait} seconde" if wait < 60 else "attendez 1 minute") in text
            assert "Mot de passe oublié" in text
            clock.shift(timedelta(seconds=wait - 1))
            assert attempt(app, email, WRONG, f"10.2.0.{n + 1}").status_code == 429  # not yet
            clock.shift(timedelta(seconds=1))
            assert attempt(app, email, WRONG, f"10.3.0.{n + 1}").status_code == 401  # admitted
        assert waits == [1, 2, 4, 8, 16, 32, 60, 60][:len(waits)] and max(waits) == cap
        # The owner waits at most the cap, then logs in with the right password.
        refused = attempt(app, email, PASSWORD, IP_B)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) <= cap
        clock.shift(timedelta(seconds=int(refused.headers["Retry-After"])))
        assert attempt(app, email, PASSWORD, IP_B).status_code == 302
        # …and the success forgets the address's failures.
        assert f"login:email:{email}" not in keys(app)


@pytest.mark.parametrize("failures, expected", [
    (0, 0), (9, 0), (10, 1), (11, 2), (12, 4), (13, 8), (15, 32), (16, 60), (40, 60), (10**6, 60)])
def test_the_delay_doubles_up_to_the_cap(failures, expected):
    assert slowdown_seconds(failures, after=10, cap=60) == expected


def test_unknown_addresses_are_slowed_down_alike(app):
    ghost = f"personne.{uuid.uuid4().hex[:6]}@exemple.fr"
    with time_machine.travel(START, tick=False):
        for i in range(app.config["LOGIN_SLOWDOWN_AFTER"]):
            attempt(app, ghost, WRONG, f"10.9.0.{i + 1}")
        assert attempt(app, ghost, WRONG, IP_B).status_code == 429


def test_the_owner_can_always_reset_by_e_mail_and_is_then_logged_in(app):
    email = make_user(app, "reset")
    with time_machine.travel(START, tick=False):
        for i in range(app.config["LOGIN_SLOWDOWN_AFTER"]):
            attempt(app, email, WRONG, f"10.5.0.{i + 1}")
        for _ in range(app.config["LOGIN_MAX_FAILURES"]):
            attempt(app, email, WRONG, IP_A)
        assert attempt(app, email, PASSWORD, IP_A).status_code == 429
        # "Mot de passe oublié" is not behind the login throttle.
        client = app.test_client()
        env = {"REMOTE_ADDR": IP_A}
        page = client.get("/mot-de-passe-oublie", environ_base=env).get_data(as_text=True)
        response = client.post("/mot-de-passe-oublie", environ_base=env, data={
            "email": email, "csrf_token": csrf_from(page)})
        assert response.status_code == 200 and "Si cette adresse correspond" in \
            response.get_data(as_text=True)
        with app.test_request_context():
            from portal.accounts import invitations as accounts
            user = db.session.execute(sa.select(User).where(User.email == email)).scalar_one()
            raw = accounts.create_token(user, "reset", lifetime=accounts.RESET_LIFETIME)
            db.session.commit()
        page = client.get(f"/reinitialiser/{raw}", environ_base=env).get_data(as_text=True)
        response = client.post(f"/reinitialiser/{raw}", environ_base=env, data={
            "password": "Nouveau-2031-x", "confirm": "Nouveau-2031-x",
            "csrf_token": csrf_from(page)})
        assert response.status_code == 302 and response.headers["Location"] == "/admin/"
        assert client.get("/compte", environ_base=env).status_code == 200  # logged in
        # The address's failures are forgotten, from every IP.
        assert not {k for k in keys(app) if k.startswith("login:") and email in k}
        assert attempt(app, email, "Nouveau-2031-x", IP_A).status_code == 302


# --- behind a proxy ------------------------------------------------------------------------------------

@pytest.fixture()
def proxied_app(database_url, tmp_path):
    return make_app(database_url, str(tmp_path / "instance"), TRUSTED_PROXIES=1,
                    LOGIN_MAX_FAILURES_PER_IP=2)


def test_behind_one_trusted_proxy_x_forwarded_for_decides_the_ip(proxied_app):
    app = proxied_app
    email = make_user(app, "proxied")
    for i in range(2):
        attempt(app, f"y{i}@exemple.fr", WRONG, "10.0.0.1", {"X-Forwarded-For": IP_A})
    assert f"login:ip:{IP_A}" in keys(app) and "login:ip:10.0.0.1" not in keys(app)
    assert attempt(app, email, PASSWORD, "10.0.0.1",
                   {"X-Forwarded-For": IP_A}).status_code == 429
    assert attempt(app, email, PASSWORD, "10.0.0.1",
                   {"X-Forwarded-For": IP_B}).status_code == 302
    # Only the value the proxy appended counts: what the client wrote before it does not.
    assert attempt(app, email, PASSWORD, "10.0.0.1",
                   {"X-Forwarded-For": f"{IP_B}, {IP_A}"}).status_code == 429


def test_without_trusted_proxies_x_forwarded_for_is_ignored(app, config):
    config(LOGIN_MAX_FAILURES_PER_IP=2)
    email = make_user(app, "direct")
    for i in range(2):
        attempt(app, f"z{i}@exemple.fr", WRONG, IP_A, {"X-Forwarded-For": IP_B})
    assert f"login:ip:{IP_A}" in keys(app) and f"login:ip:{IP_B}" not in keys(app)
    for forwarded in (IP_B, "192.0.2.99"):  # a forged header does not escape the limit
        assert attempt(app, email, PASSWORD, IP_A,
                       {"X-Forwarded-For": forwarded}).status_code == 429


# --- timing ---------------------------------------------------------------------------------------

def test_an_unknown_address_costs_the_same_hash_as_a_known_one(app, config):
    config(LOGIN_MAX_FAILURES=10**6, LOGIN_MAX_FAILURES_PER_IP=10**6,
           LOGIN_SLOWDOWN_AFTER=10**6)
    known = make_user(app, "timing")
    inactive = make_user(app, "timing-off", active=False)
    no_password = make_user(app, "timing-none")
    with app.app_context():
        db.session.execute(sa.update(User).where(User.email == no_password)
                           .values(password_hash=None))
        db.session.commit()
    groups = {"known": known, "unknown": f"personne.{uuid.uuid4().hex[:6]}@exemple.fr",
              "inactive": inactive, "no password": no_password}
    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    times = {name: [] for name in groups}
    for round_ in range(20):  # interleaved, so that a burst of load hits every group alike
        for name, email in groups.items():
            if name in ("inactive", "no password") and round_ % 2:
                continue  # 10 of each of these two, 20 of the others
            began = time.perf_counter()
            response = client.post("/login", data={"email": email, "password": WRONG,
                                                   "csrf_token": token})
            times[name].append(time.perf_counter() - began)
            assert response.status_code == 401
    medians = {name: statistics.median(values) for name, values in times.items()}
    print("median /login POST (ms):", {k: round(v * 1000, 1) for k, v in medians.items()})
    for name in ("unknown", "inactive", "no password"):
        assert medians[name] >= 0.5 * medians["known"], medians
