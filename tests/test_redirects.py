"""Redirects (issue 12, part 2): every `next` and `url` parameter × hostile values → the
browser stays on Sillon (a same-site path), never a 500.

Each value is sent two ways: percent-encoded (the view receives it as written) and written
as is in the query string, as an attacker's link would (`/login?next=/%09/evil.example`: the
view receives it decoded once, here "/<tab>/evil.example")."""
from __future__ import annotations

import html
import re
import uuid
from urllib.parse import parse_qs, quote, unquote, urlencode, urljoin, urlsplit

import pytest
import sqlalchemy as sa

from portal.auth.redirects import safe_target
from portal.extensions import db
from portal.models import Opco, ThrottleEvent, User, UserRole, utcnow
from tests.support.web import csrf_from
from tests.support.web import login as web_login

PASSWORD = "Sillon-test-2026"
DASHBOARD = "/admin/"
# The values of the issue, and a few more through the doors; many more against the helper.
AT_THE_DOORS = [
    "//x", "/\\x", "/%09/x", "/%0a/x", "%2f%2fx", "https:x", "https://evil.example",
    "javascript:alert(1)", "/\t/x", "\x00", "/" + "a" * 5000, "/%5cx", "/%09/evil.example",
    "/%0d/x", "\\\\evil.example", "/%2f/x",
]
HOSTILE = AT_THE_DOORS + [
    "/%2F%2Fx", "http:/evil.example", "/\x00/x", "/%5c%5cevil.example", "/\\/evil.example",
    "\r\n/x", " //x", "/\x7f/x", "/\u0085/x", "//evil.example/%2e%2e", "///evil.example",
    "data:text/html,<script>alert(1)</script>", "/%250a/x%0a", "%0a", "",
]
WAYS = ("encoded", "literal")


def query(name: str, value: str, way: str) -> str:
    if way == "encoded":
        return urlencode({name: value})
    # As written in a link: only the characters a URL cannot carry at all are escaped.
    return f"{name}=" + quote(value, safe="/%:\\?=,<>()!*'")


def received(value: str, way: str) -> str:
    """What the view reads from ``request.args`` (Werkzeug decodes the query once)."""
    return value if way == "encoded" else unquote(value)


CASES = [pytest.param(value, way, id=f"{way}-{value[:40]!r}") for value in AT_THE_DOORS
         for way in WAYS]


def assert_stays_on_sillon(response, expected: str | None = None) -> str:
    assert response.status_code == 302, response.status_code
    location = response.headers["Location"]
    assert not any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in location), location
    assert "\\" not in location and not location.startswith("//"), location
    parts = urlsplit(location)
    assert parts.scheme in ("", "http") and parts.netloc in ("", "localhost"), location
    assert urlsplit(urljoin("http://localhost/login", location)).netloc == "localhost"
    if expected is not None:
        assert location == expected
    return location


def refused_for_nul(response, posted: str) -> bool:
    """A NUL byte in a posted form is refused (400, French page) before any view runs."""
    if "\x00" not in posted:
        return False
    assert response.status_code == 400, response.status_code
    assert "Location" not in response.headers
    return True


@pytest.fixture(autouse=True)
def clean_throttle(app):
    yield
    with app.app_context():
        db.session.execute(sa.delete(ThrottleEvent))
        db.session.commit()


@pytest.fixture(scope="module")
def person(app):
    """A person of our own (no demo account changes), logged in by each test as needed."""
    email = f"redirects.{uuid.uuid4().hex[:8]}@test.sillon.demo"
    with app.app_context():
        user = User(email=email, first_name="Rita", last_name="Redirect",
                    rgpd_accepted_at=utcnow(), rgpd_version=app.config["RGPD_TERMS_VERSION"])
        user.set_password(PASSWORD)
        user.roles.append(UserRole(role="employeur"))
        db.session.add(user)
        db.session.commit()
    return email


def _user(email):
    return db.session.execute(sa.select(User).where(User.email == email)).scalar_one()


def log_in(app, email, password=PASSWORD, client=None):
    client = client or app.test_client()
    response = web_login(client, email, password)
    assert response.status_code == 302
    return client


# --- the helper itself ---------------------------------------------------------------------------

@pytest.mark.parametrize("value", [v for v in HOSTILE] + [
    "/\t/evil.example", "/\n/x", "/\r/x", "/\\", None, 42, "admin/", "?next=/", "#x"])
def test_hostile_values_are_refused(value):
    assert safe_target(value) is None


@pytest.mark.parametrize("value", [
    "/", "/admin/", "/admin/dossier/?page=2&sort=1", "/admin/dossier/edit/?id=5&url=%2Fadmin%2F",
    "/compte", "/admin/dossier/?search=jean%20dupont", "/a:b", "/%25", "/é"])
def test_same_site_paths_are_kept(value):
    assert safe_target(value) == value


# --- `next`: login, first password, consent ------------------------------------------------------

@pytest.mark.parametrize("value, way", CASES)
def test_login_next(app, person, value, way):
    client = app.test_client()
    qs = query("next", value, way)
    page = client.get("/login", query_string=qs)
    assert page.status_code == 200
    response = client.post("/login", query_string=qs, data={
        "email": person, "password": PASSWORD,
        "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert_stays_on_sillon(response, DASHBOARD)
    # Already logged in, the login page sends on at once: the same filter.
    assert_stays_on_sillon(client.get("/login", query_string=qs), DASHBOARD)


@pytest.fixture(scope="module")
def browser(app, person):
    """The person, logged in once for the module."""
    return log_in(app, person)


@pytest.mark.parametrize("value, way", CASES)
def test_first_password_next_when_nothing_to_change(browser, value, way):
    response = browser.get("/premier-mot-de-passe", query_string=query("next", value, way))
    assert_stays_on_sillon(response, DASHBOARD)


@pytest.mark.parametrize("value", AT_THE_DOORS)
def test_first_password_next_after_choosing_it(app, person, browser, value):
    with app.app_context():
        _user(person).must_change_password = True
        db.session.commit()
    qs = query("next", value, "literal")
    page = browser.get("/premier-mot-de-passe", query_string=qs)
    assert page.status_code == 200
    chosen = f"Choisi-{uuid.uuid4().hex[:6]}-9"
    response = browser.post("/premier-mot-de-passe", query_string=qs, data={
        "password": chosen, "confirm": chosen,
        "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert_stays_on_sillon(response, DASHBOARD)
    with app.app_context():
        user = _user(person)
        user.set_password(PASSWORD, method="pbkdf2:sha256:1000")  # for the other tests
        db.session.commit()
    log_in(app, person, client=browser)  # the new password ended the session: log in again


@pytest.mark.parametrize("value, way", CASES)
def test_consent_next(app, person, browser, value, way):
    qs = query("next", value, way)
    # Terms already accepted: the page sends on.
    assert_stays_on_sillon(browser.get("/rgpd", query_string=qs), DASHBOARD)
    # Terms to accept: after the form.
    with app.app_context():
        _user(person).rgpd_version = None
        db.session.commit()
    page = browser.get("/rgpd", query_string=qs)
    assert page.status_code == 200
    response = browser.post("/rgpd", query_string=qs, data={
        "accept": "y", "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert_stays_on_sillon(response, DASHBOARD)


def test_a_safe_next_is_followed_everywhere(app, person):
    client = app.test_client()
    qs = query("next", "/compte", "encoded")
    page = client.get("/login", query_string=qs).get_data(as_text=True)
    response = client.post("/login", query_string=qs, data={
        "email": person, "password": PASSWORD, "csrf_token": csrf_from(page)})
    assert response.headers["Location"] == "/compte"
    for url in ("/login", "/premier-mot-de-passe", "/rgpd"):
        assert client.get(url, query_string=qs).headers["Location"] == "/compte"


def test_the_reported_attack(app, person):
    """`/login?next=/%09/evil.example` sent the browser to //evil.example; `/%0a/x` was a 500."""
    for raw in ("next=/%09/evil.example", "next=/%0a/x"):
        client = app.test_client()
        page = client.get("/login", query_string=raw).get_data(as_text=True)
        response = client.post("/login", query_string=raw, data={
            "email": person, "password": PASSWORD, "csrf_token": csrf_from(page)})
        assert_stays_on_sillon(response, DASHBOARD)


# --- Flask-Admin's `url` ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def admin(app):
    return log_in(app, "admin@sillon.demo", "sillon-demo")


def _opco(app) -> int:
    with app.app_context():
        row = Opco(code=f"T{uuid.uuid4().hex[:8]}", nom="OPCO de test")
        db.session.add(row)
        db.session.commit()
        return row.id


@pytest.fixture(scope="module")
def token(admin) -> str:
    """A CSRF token of the admin's session (valid for every form of it)."""
    return csrf_from(admin.get("/admin/opco/").get_data(as_text=True))


def _cleanup_opcos(app):
    with app.app_context():
        db.session.execute(sa.delete(Opco).where(Opco.nom.like("OPCO de test%")))
        db.session.commit()


@pytest.fixture()
def opcos(app):
    yield
    _cleanup_opcos(app)


LIST = "/admin/opco/"


@pytest.mark.parametrize("value, way", CASES)
def test_flask_admin_url_on_create(app, admin, token, opcos, value, way):
    qs = query("url", value, way)
    page = admin.get("/admin/opco/new/", query_string=qs)
    assert page.status_code == 200
    if value:  # the "Liste" / "Annuler" links
        assert f'href="{html.escape(received(value, way))}"' not in page.get_data(as_text=True)
    response = admin.post("/admin/opco/new/", query_string=qs, data={
        "csrf_token": token, "code": f"T{uuid.uuid4().hex[:8]}", "nom": "OPCO de test",
        "champ": ""})
    assert_stays_on_sillon(response, LIST)


@pytest.mark.parametrize("value", ["//x", "/%09/evil.example", "https://evil.example"])
def test_flask_admin_url_on_create_and_continue(app, admin, token, opcos, value):
    qs = query("url", value, "literal")
    for button in ("_continue_editing", "_add_another"):
        response = admin.post("/admin/opco/new/", query_string=qs, data={
            "csrf_token": token, "code": f"T{uuid.uuid4().hex[:8]}", "nom": "OPCO de test",
            "champ": "", button: "1"})
        location = assert_stays_on_sillon(response)
        assert location.startswith("/admin/opco/")
        assert parse_qs(urlsplit(location).query)["url"] == [LIST]


@pytest.mark.parametrize("value, way", CASES)
def test_flask_admin_url_on_edit_details_delete(app, admin, token, opcos, value, way):
    qs = query("url", value, way)
    pk = _opco(app)
    # Early exits send to return_url straight away: no id.
    assert_stays_on_sillon(admin.get("/admin/opco/edit/", query_string=qs), LIST)
    assert_stays_on_sillon(admin.get("/admin/opco/details/", query_string=qs), LIST)
    ident = f"id={pk}&"
    page = admin.get("/admin/opco/edit/", query_string=ident + qs)
    assert page.status_code == 200
    if value:
        assert f'href="{html.escape(received(value, way))}"' not in page.get_data(as_text=True)
    response = admin.post("/admin/opco/edit/", query_string=ident + qs, data={
        "csrf_token": token, "code": f"T{uuid.uuid4().hex[:8]}", "nom": "OPCO de test modifié",
        "champ": ""})
    assert_stays_on_sillon(response, LIST)
    # Delete: Flask-Admin posts the return address in the form body.
    response = admin.post("/admin/opco/delete/", data={"csrf_token": token, "id": str(pk),
                                                       "url": received(value, way)})
    if refused_for_nul(response, received(value, way)):
        with app.app_context():
            assert db.session.get(Opco, pk) is not None  # refused before any view: kept
        return
    assert_stays_on_sillon(response, LIST)
    with app.app_context():
        assert db.session.get(Opco, pk) is None


@pytest.mark.parametrize("value, way", CASES)
def test_flask_admin_url_on_actions(app, admin, token, opcos, value, way):
    pk = _opco(app)
    response = admin.post("/admin/opco/action/", query_string=query("url", value, way), data={
        "csrf_token": token, "action": "delete", "rowid": str(pk), "url": value})
    if refused_for_nul(response, value):
        return
    assert_stays_on_sillon(response, LIST)


def test_flask_admin_keeps_a_safe_url(app, admin, token, opcos):
    back = "/admin/opco/?sort=1"
    response = admin.post("/admin/opco/new/", query_string=urlencode({"url": back}), data={
        "csrf_token": token, "code": f"T{uuid.uuid4().hex[:8]}",
        "nom": "OPCO de test", "champ": ""})
    assert response.headers["Location"] == back
    pk = _opco(app)
    response = admin.post("/admin/opco/delete/", data={"csrf_token": token,
                                                       "id": str(pk), "url": back})
    assert response.headers["Location"] == back


def test_the_redirect_to_login_keeps_the_page_asked_for(app, person):
    """The `next` Sillon writes itself (the page asked for before logging in) still works."""
    client = app.test_client()
    first = client.get("/admin/dossier/?page=0&sort=2")
    assert first.status_code == 302
    login_url = first.headers["Location"]
    page = client.get(login_url).get_data(as_text=True)
    response = client.post(login_url, data={"email": person, "password": PASSWORD,
                                            "csrf_token": csrf_from(page)})
    assert response.headers["Location"] == "/admin/dossier/?page=0&sort=2"
    assert re.match(r"^/login\?next=", login_url)
