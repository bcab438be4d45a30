"""Login, logout, throttling, session end on deactivation, every page behind login."""
from datetime import timedelta

import pytest
from sqlalchemy import delete, select

from portal.extensions import db
from portal.models import ThrottleEvent, User, utcnow
from tests.support.web import csrf, csrf_from, login, logout


def _user(email):
    return db.session.execute(select(User).where(User.email == email)).scalar_one()


def _clear_throttle(app):
    with app.app_context():
        db.session.execute(delete(ThrottleEvent))
        db.session.commit()


@pytest.fixture(autouse=True)
def clean_throttle(app):
    _clear_throttle(app)
    yield
    _clear_throttle(app)


def test_login_page_is_french_and_has_both_fields(client):
    page = client.get("/login").get_data(as_text=True)
    assert 'name="email"' in page and 'name="password"' in page
    assert "Se connecter" in page and "Mot de passe" in page
    assert '<html lang="fr">' in page


def test_login_then_logout(client):
    response = login(client, "admin@sillon.demo")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/")
    assert client.get("/admin/dossier/").status_code == 200
    assert logout(client).status_code == 302
    after = client.get("/admin/dossier/")
    assert after.status_code == 302 and "/login" in after.headers["Location"]


def test_logout_requires_post_with_csrf(login):
    client = login("admin@sillon.demo")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400  # no CSRF token
    assert client.get("/admin/").status_code == 200  # still logged in


def test_wrong_password_gives_generic_french_message(client):
    for email in ("admin@sillon.demo", "personne@inconnu.fr"):
        response = login(client, email, "mauvais-mot-de-passe")
        assert response.status_code == 401
        assert "Adresse e-mail ou mot de passe incorrect." in response.get_data(as_text=True)


def test_invalid_email_field_shows_french_message_not_500(client):
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"email": "pas-une-adresse", "password": "",
                                           "csrf_token": csrf_from(page)})
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Cette adresse e-mail n&#39;est pas valide." in body or \
        "Cette adresse e-mail n'est pas valide." in body
    assert "Saisissez votre mot de passe." in body


def test_login_without_csrf_is_refused(client):
    response = client.post("/login", data={"email": "admin@sillon.demo",
                                           "password": "sillon-demo"})
    assert response.status_code == 400
    assert client.get("/admin/").status_code == 302


def test_throttling_after_repeated_failures_even_with_right_password(app, client):
    limit = app.config["LOGIN_MAX_FAILURES"]
    for _ in range(limit):
        assert login(client, "rh@globex.sillon.demo", "faux").status_code == 401
    blocked = login(client, "rh@globex.sillon.demo")
    assert blocked.status_code == 429
    assert "Trop de tentatives" in blocked.get_data(as_text=True)
    # Another address from the same IP is not blocked by this address's counter.
    assert login(app.test_client(), "rh@acme.sillon.demo").status_code == 302


def test_throttling_window_expires(app, client):
    limit = app.config["LOGIN_MAX_FAILURES"]
    for _ in range(limit):
        login(client, "bruno@etu.sillon.demo", "faux")
    with app.app_context():
        old = utcnow() - timedelta(seconds=app.config["LOGIN_FAILURE_WINDOW_SECONDS"] + 5)
        for event in db.session.execute(select(ThrottleEvent)).scalars():
            event.at = old
        db.session.commit()
    assert login(client, "bruno@etu.sillon.demo").status_code == 302


def test_throttling_per_ip(app, client):
    app.config["LOGIN_MAX_FAILURES_PER_IP"], saved = 3, app.config["LOGIN_MAX_FAILURES_PER_IP"]
    try:
        for i in range(3):
            login(client, f"inconnu{i}@exemple.fr", "faux")
        assert login(client, "admin@sillon.demo").status_code == 429
    finally:
        app.config["LOGIN_MAX_FAILURES_PER_IP"] = saved


def test_passwords_are_hashed(app):
    with app.app_context():
        user = _user("admin@sillon.demo")
        assert "sillon-demo" not in user.password_hash
        assert user.password_hash.split("$")[0] in {"scrypt:32768:8:1", "pbkdf2:sha256:1000000"}


def test_expired_temporary_password_is_refused(app, client):
    with app.app_context():
        user = _user("gest.info@sillon.demo")
        saved = (user.password_hash, user.session_token)
        user.set_password("provisoire-123", temporary_until=utcnow() - timedelta(minutes=1))
        db.session.commit()
    try:
        response = login(client, "gest.info@sillon.demo", "provisoire-123")
        assert response.status_code == 401
        assert "a expiré" in response.get_data(as_text=True)
        assert client.get("/admin/").status_code == 302
    finally:
        with app.app_context():
            user = _user("gest.info@sillon.demo")
            user.password_hash, user.session_token = saved
            user.temp_password_expires_at, user.must_change_password = None, False
            db.session.commit()


def test_deactivation_ends_open_sessions(app, login):
    client = login("rh@acme.sillon.demo")
    assert client.get("/admin/dossier/").status_code == 200
    admin = login("admin@sillon.demo")
    with app.app_context():
        user = _user("rh@acme.sillon.demo")
        uid, token = user.id, user.session_token
    edit_url = f"/admin/user/edit/?id={uid}"
    form = admin.get(edit_url).get_data(as_text=True)
    response = admin.post(edit_url, data={
        "csrf_token": csrf_from(form), "email": "rh@acme.sillon.demo", "last_name": "Martin",
        "first_name": "Claire", "phone": "", "role_codes_field": ["employeur"],
        "new_password": ""})  # "active" unchecked: deactivated
    assert response.status_code == 302
    try:
        assert client.get("/admin/dossier/").status_code == 302
        with app.app_context():
            assert _user("rh@acme.sillon.demo").session_token != token
    finally:
        with app.app_context():
            user = _user("rh@acme.sillon.demo")
            user.active, user.last_name, user.first_name = True, user.last_name, user.first_name
            db.session.commit()


def test_open_redirect_after_login_is_refused(client):
    page = client.get("/login?next=https://evil.example/").get_data(as_text=True)
    response = client.post("/login?next=https://evil.example/", data={
        "email": "admin@sillon.demo", "password": "sillon-demo", "csrf_token": csrf_from(page)})
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"


@pytest.mark.parametrize("url", ["/", "/admin/", "/admin/dossier/", "/admin/dossier/details/?id=1",
                                 "/admin/dossier/edit/?id=1", "/admin/user/", "/admin/code/"])
def test_every_page_is_behind_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("url", ["/admin/dossier/details/?id=abc", "/admin/dossier/edit/?id=",
                                 "/admin/dossier/edit/?id=99999999", "/admin/dossier/?page=abc",
                                 "/admin/dossier/?flt0_0=nimporte", "/admin/dossier/?sort=999",
                                 "/admin/formation/details/?id=-1", "/admin/nulle-part/"])
def test_bad_input_never_gives_500(login, url):
    client = login("admin@sillon.demo")
    response = client.get(url)
    assert response.status_code in (200, 302, 404)


@pytest.mark.parametrize("formation", ["abc", "99999999999999999999", "-3", ""])
def test_malformed_creation_post_is_not_500_and_saves_nothing(app, login, formation):
    client = login("admin@sillon.demo")
    with app.app_context():
        from portal.models import Dossier
        before = db.session.query(Dossier).count()
    response = client.post("/admin/dossier/new/", data={
        "csrf_token": csrf(client), "apprenti_email": "pas-une-adresse",
        "apprenti_date_naissance": "31/02/2001", "date_debut_contrat": "demain",
        "employeur_siret": "12345678901234", "formation": formation})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Cette adresse e-mail n" in body and "SIRET n" in body
    with app.app_context():
        assert db.session.query(Dossier).count() == before
