"""The invitation e-mails of imported apprentices link to their dossier (issue 15, item 5): the
link opens the login page, and the login — through the first password and the data-protection
terms — lands on the dossier. With the real SMTP server and the real worker (fixture `smtp`);
the `next` of the link stays a local path (portal.auth.redirects)."""
from __future__ import annotations

from urllib.parse import parse_qs, quote, urlsplit

from tests.support.web import csrf_from
from tests.test_accounts import link_path, only_mail, temporary_password
from tests.test_import import (DOMAIN, _confirm, _csv, _dossiers, _preview, _valid_row,
                               training)  # noqa: F401


def _follow(client, response, limit=8):
    """Follow the redirections; the path of each step, and the last response."""
    steps = []
    while response.status_code == 302 and limit:
        location = response.headers["Location"]
        steps.append(location)
        response = client.get(location)
        limit -= 1
    return steps, response


def _post_here(client, url, data):
    page = client.get(url)
    assert page.status_code == 200, url
    return client.post(url, data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                  **data})


def test_the_invitation_link_leads_after_login_to_the_dossier(app, login, training,
                                                              smtp):  # noqa: F811
    manager = login(f"resp.info@{DOMAIN}")
    row = _valid_row(training, 1)
    email = row[2]
    url, html = _preview(manager, training, _csv([row]), "un.csv")
    assert _confirm(manager, url, html).status_code == 302
    [dossier] = _dossiers(app, training)

    message = only_mail(smtp, email, "Bienvenue sur Sillon")
    text = smtp.text_of(message)
    assert f"Se connecter et ouvrir le dossier n° {dossier.id} : " in text
    link = link_path(smtp, message, "/login")
    query = parse_qs(urlsplit(link).query)
    assert query == {"email": [email], "next": [f"/admin/dossier/{dossier.id}/"]}

    client = app.test_client()
    response = _post_here(client, link, {"email": email,
                                         "password": temporary_password(smtp, message)})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/dossier/{dossier.id}/"
    # The first password, then the terms, each keeping where the link leads.
    steps, page = _follow(client, response)
    assert "/premier-mot-de-passe" in steps[-1] and "next=" in steps[-1]
    new = "Nouveau-mdp-2026"
    response = _post_here(client, steps[-1], {"password": new, "confirm": new})
    steps, page = _follow(client, response)
    assert "/rgpd" in steps[-1]
    response = _post_here(client, steps[-1], {"accept": "y"})
    steps, page = _follow(client, response)
    assert steps[0] == f"/admin/dossier/{dossier.id}/"
    assert page.status_code == 200
    assert f"Dossier n° {dossier.id}" in page.get_data(as_text=True)


def test_a_tampered_next_does_not_leave_sillon(app, training):  # noqa: F811
    """The same login with a `next` pointing elsewhere ends on the dashboard."""
    from tests.support.web import DEMO_PASSWORD
    for target in ("//evil.example/admin/dossier/1/", "https://evil.example/",
                   "/\\evil.example", "/%2F%2Fevil.example"):
        client = app.test_client()
        response = _post_here(client, "/login?next=" + quote(target, safe=""),
                              {"email": f"resp.info@{DOMAIN}", "password": DEMO_PASSWORD})
        assert response.status_code == 302, target
        location = response.headers["Location"]
        assert location.startswith("/") and not location.startswith("//"), (target, location)
        assert "evil" not in location, (target, location)


def test_the_access_mail_of_a_known_person_links_to_the_dossier(app, login, training,
                                                               smtp):  # noqa: F811
    """A person who already uses Sillon gets « Accès au dossier n° … » (no new password), whose
    link logs in and lands on the new dossier."""
    from portal.extensions import db
    from portal.models import User
    from portal.models.people import utcnow
    from tests.support.web import DEMO_PASSWORD
    row = _valid_row(training, 2)
    email = row[2]
    with app.app_context():
        user = User(email=email, first_name=row[1], last_name=row[0], active=True,
                    rgpd_accepted_at=utcnow(), rgpd_version=app.config["RGPD_TERMS_VERSION"])
        user.set_password(DEMO_PASSWORD)
        db.session.add(user)
        db.session.commit()
    manager = login(f"resp.info@{DOMAIN}")
    url, html = _preview(manager, training, _csv([row]), "connu.csv")
    assert _confirm(manager, url, html).status_code == 302
    [dossier] = _dossiers(app, training)

    message = only_mail(smtp, email, f"Accès au dossier n° {dossier.id}")
    link = link_path(smtp, message, "/login")
    assert parse_qs(urlsplit(link).query) == {"email": [email],
                                              "next": [f"/admin/dossier/{dossier.id}/"]}
    client = app.test_client()
    response = _post_here(client, link, {"email": email, "password": DEMO_PASSWORD})
    assert response.headers["Location"] == f"/admin/dossier/{dossier.id}/"
    steps, page = _follow(client, response)
    assert page.status_code == 200
    assert f"Dossier n° {dossier.id}" in page.get_data(as_text=True)
