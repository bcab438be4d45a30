"""Accounts and onboarding end to end (issue 6): invitation with a one-hour temporary password,
forced new password, RGPD consent, password reset, access-code registration, "J'ai trouvé un
employeur", account page, deactivation. E-mails go through a real SMTP server on 127.0.0.1;
expiry is checked with a travelling clock (time-machine)."""
from __future__ import annotations

import html
import re
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
import time_machine

from portal.extensions import db
from portal.models import (AuthToken, Dossier, DossierHistory, Etablissement, Formation,
                           ThrottleEvent, User)
from tests.support.web import csrf, csrf_from
from tests.support.web import login as web_login

RESP_INFO = "resp.info@sillon.demo"
GEST_INFO = "gest.info@sillon.demo"
RESP_DROIT = "resp.droit@sillon.demo"
ADMIN = "admin@sillon.demo"
LP_INFO_CODE = "LPINFO-26"


def body(response) -> str:
    """The page's text, entities decoded (Jinja escapes apostrophes)."""
    return html.unescape(response.get_data(as_text=True))


def unique(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:10]}@test.sillon.demo"


def mails_to(smtp, address):
    return [m for rcpts, m in smtp.messages if address in rcpts]


def only_mail(smtp, address, subject_part):
    found = [m for m in mails_to(smtp, address) if subject_part in m["Subject"]]
    assert len(found) == 1, [m["Subject"] for m in mails_to(smtp, address)]
    return found[0]


def temporary_password(smtp, message) -> str:
    match = re.search(r"mot de passe provisoire : (\S+)", smtp.text_of(message))
    assert match, smtp.text_of(message)
    return match.group(1)


def link_path(smtp, message, fragment: str) -> str:
    match = re.search(r"(https?://\S*" + re.escape(fragment) + r"\S*)", smtp.text_of(message))
    assert match, smtp.text_of(message)
    parts = urlsplit(match.group(1))
    return parts.path + (f"?{parts.query}" if parts.query else "")


def later(minutes: int):
    """Travel the clock forward (it keeps ticking from there)."""
    return time_machine.travel(datetime.now(timezone.utc) + timedelta(minutes=minutes))


def prefixed_csrf(html: str, prefix: str) -> str:
    """The CSRF token of a prefixed form (e.g. reg-csrf_token on the login page)."""
    match = re.search(rf'name="{prefix}-csrf_token"[^>]*value="([^"]+)"', html)
    assert match, f"no {prefix}-csrf_token in the page"
    return match.group(1)


def post_form(client, url, data):
    page = client.get(url)
    return client.post(url, data={"csrf_token": csrf_from(body(page)), **data})


def user_by_email(app, email):
    with app.app_context():
        user = db.session.execute(sa.select(User).where(User.email == email)).scalar_one_or_none()
        if user is not None:
            db.session.expunge(user)
        return user


def formation_id(app, code):
    with app.app_context():
        return db.session.execute(sa.select(Formation.id).where(
            Formation.access_code == code)).scalar_one()


def first_login(client, email, password):
    """Log in with a temporary password, choose a password, accept the terms."""
    response = web_login(client, email, password)
    assert response.status_code == 302
    page = client.get("/admin/")
    assert page.status_code == 302 and "/premier-mot-de-passe" in page.headers["Location"]
    new = "Nouveau-mdp-2026"
    response = post_form(client, "/premier-mot-de-passe", {"password": new, "confirm": new})
    assert response.status_code == 302
    page = client.get("/admin/")
    assert page.status_code == 302 and "/rgpd" in page.headers["Location"]
    response = post_form(client, "/rgpd", {"accept": "y"})
    assert response.status_code == 302
    return new


# --- 1. invitation -------------------------------------------------------------------------------

def test_invitation_from_a_new_dossier_then_first_login(app, login, smtp, clean_outbox):
    """The formation puts the apprentice's e-mail on a new dossier: account created, "Bienvenue
    sur Sillon" with a temporary password; first login forces a new password, then the RGPD
    terms, then the dashboard."""
    manager = login(RESP_INFO)
    email = unique("invite")
    response = manager.post("/admin/dossier/new/", data={
        "csrf_token": csrf(manager), "formation": str(formation_id(app, LP_INFO_CODE)),
        "niveau_saisie": "complete", "dispositif": "apprentissage", "apprenti_nom": "Invitée",
        "apprenti_prenom": "Léa", "apprenti_email": email.upper()})
    assert response.status_code == 302
    user = user_by_email(app, email)
    assert user is not None and user.must_change_password and user.rgpd_version is None
    with app.app_context():
        dossier = db.session.execute(sa.select(Dossier).where(
            Dossier.apprenti_email == email)).scalar_one()
        assert dossier.apprentice_user_id == user.id
    message = only_mail(smtp, email, "Bienvenue sur Sillon")
    text = smtp.text_of(message)
    assert f"Dossier n° {dossier.id}" in text and "valable une heure" in text
    assert link_path(smtp, message, "/login").startswith("/login?email=")
    password = temporary_password(smtp, message)

    client = app.test_client()
    # Before the new password, no other page: the dossier list sends back to the form.
    web_login(client, email, password)
    blocked = client.get(f"/admin/dossier/{dossier.id}/base/")
    assert blocked.status_code == 302 and "/premier-mot-de-passe" in blocked.headers["Location"]
    weak = post_form(client, "/premier-mot-de-passe", {"password": "1234567890",
                                                       "confirm": "1234567890"})
    assert weak.status_code == 400
    assert "Mélangez des lettres et des chiffres" in body(weak)
    new = "Nouveau-mdp-2026"
    assert post_form(client, "/premier-mot-de-passe",
                     {"password": new, "confirm": new}).status_code == 302
    # Then the terms, before anything else.
    page = client.get("/admin/")
    assert "/rgpd" in page.headers["Location"]
    refused = post_form(client, "/rgpd", {})
    assert refused.status_code == 400
    assert "Cochez la case pour accepter" in body(refused)
    assert post_form(client, "/rgpd", {"accept": "y"}).status_code == 302
    home = client.get("/admin/")
    assert home.status_code == 200 and "Invitée".upper() in body(home).upper()
    stored = user_by_email(app, email)
    assert stored.rgpd_version == app.config["RGPD_TERMS_VERSION"]
    assert stored.rgpd_accepted_at is not None and not stored.must_change_password
    # The temporary password no longer works; the chosen one does.
    fresh = app.test_client()
    assert web_login(fresh, email, password).status_code == 401
    assert web_login(app.test_client(), email, new).status_code == 302


def test_a_temporary_password_is_five_groups_of_any_letter_of_the_alphabet():
    """Every letter of the alphabet at every one of the 20 places (3 100 draws: about 100 of
    each letter per place, none missing but by a chance of 10^-38), never twice the same."""
    from portal.accounts.invitations import _ALPHABET, temporary_password as draw
    passwords = [draw() for _ in range(3100)]
    shape = re.compile(rf"[{_ALPHABET}]{{4}}(?:-[{_ALPHABET}]{{4}}){{4}}")
    assert all(shape.fullmatch(p) for p in passwords)
    assert len(set(passwords)) == len(passwords)
    letters = [p.replace("-", "") for p in passwords]
    for place in range(20):
        assert {word[place] for word in letters} == set(_ALPHABET), place


def test_temporary_password_expires_after_one_hour(app, smtp, clean_outbox):
    email = unique("expire")
    with app.test_request_context():
        from portal.accounts import invitations as accounts
        accounts.invite(email, "alternant", reason="un test")
        db.session.commit()
        from portal.mail.outbox import send_pending
        send_pending()
    password = temporary_password(smtp, only_mail(smtp, email, "Bienvenue"))
    with later(61):
        response = web_login(app.test_client(), email, password)
        page_text = body(response)
        assert response.status_code == 401
        assert "mot de passe provisoire a expiré" in page_text
        assert "/mot-de-passe-oublie" in page_text
    with later(59):
        assert web_login(app.test_client(), email, password).status_code == 302


def test_inviting_an_existing_user_does_not_reset_their_password(app, login, smtp,
                                                                clean_outbox):
    """The employer contact already uses Sillon: they are told of the new dossier, their
    password is untouched."""
    with app.test_request_context():
        from portal.accounts import invitations as accounts
        invitation = accounts.invite("rh@acme.sillon.demo", "employeur", reason="un test")
        assert not invitation.created
        db.session.commit()
        from portal.mail.outbox import send_pending
        send_pending()
    assert login("rh@acme.sillon.demo")  # the demo password still works
    assert [m["Subject"] for m in mails_to(smtp, "rh@acme.sillon.demo")] == ["[Sillon] Nouvel accès"]


# --- 2. password reset ---------------------------------------------------------------------------

def _forgot(client, address):
    response = post_form(client, "/mot-de-passe-oublie", {"email": address})
    page_text = body(response)
    return response.status_code, re.sub(r'name="csrf_token"[^>]*>', "", page_text)


def test_reset_link_single_use_and_same_answer_for_unknown_addresses(app, login, smtp,
                                                                    clean_outbox):
    email = unique("reset")
    with app.test_request_context():
        from portal.accounts import invitations as accounts
        accounts.invite(email, "employeur")
        db.session.commit()
    known = _forgot(app.test_client(), email)
    unknown = _forgot(app.test_client(), unique("personne"))
    assert known[0] == unknown[0] == 200
    assert known[1] == unknown[1]  # byte for byte, CSRF token aside
    message = only_mail(smtp, email, "Choisir un nouveau mot de passe")
    # Two e-mails, each sent once; the outbox delivers them in any order.
    assert sorted(m["Subject"] for m in mails_to(smtp, email)) == [
        "Bienvenue sur Sillon", "[Sillon] Choisir un nouveau mot de passe"]
    assert all(email in rcpts for rcpts, _ in smtp.messages)  # nothing to the unknown one
    path = link_path(smtp, message, "/reinitialiser/")
    client = app.test_client()
    assert client.get(path).status_code == 200
    mismatch = post_form(client, path, {"password": "Abcdefgh-123", "confirm": "Autre-123456"})
    assert mismatch.status_code == 400
    assert "ne sont pas identiques" in body(mismatch)
    assert post_form(client, path, {"password": "Choisi-2026-x",
                                    "confirm": "Choisi-2026-x"}).status_code == 302
    # Single use.
    again = client.get(path)
    assert again.status_code == 410 and "n'est plus valable" in body(again)
    # The chosen password logs in (no forced change: the person chose it) and the stored token
    # is only a hash.
    assert login(email, "Choisi-2026-x")
    with app.app_context():
        tokens = db.session.execute(sa.select(AuthToken).join(User).where(
            User.email == email)).scalars().all()
        raw = path.rsplit("/", 1)[1]
        assert tokens and all(t.token_hash != raw and t.used_at for t in tokens)


def test_reset_link_expires_after_one_hour(app, smtp, clean_outbox):
    email = unique("reset.expire")
    with app.test_request_context():
        from portal.accounts import invitations as accounts
        accounts.invite(email, "employeur")
        db.session.commit()
    _forgot(app.test_client(), email)
    path = link_path(smtp, only_mail(smtp, email, "nouveau mot de passe"), "/reinitialiser/")
    with later(61):
        assert app.test_client().get(path).status_code == 410
    with later(58):
        assert app.test_client().get(path).status_code == 200


def test_reset_requests_are_throttled_per_address_and_per_ip(app, smtp, clean_outbox):
    email = unique("throttle")
    with app.test_request_context():
        from portal.accounts import invitations as accounts
        accounts.invite(email, "employeur")
        db.session.commit()
    limit = app.config["RESET_MAX_PER_ADDRESS"]
    for _ in range(limit):
        assert _forgot(app.test_client(), email)[0] == 200
    status, text = _forgot(app.test_client(), email)
    assert status == 429 and "Trop de demandes" in text
    assert len([m for m in mails_to(smtp, email)
                if "nouveau mot de passe" in m["Subject"]]) == limit
    # The same for an address without account: being throttled says nothing.
    ghost = unique("ghost")
    for _ in range(limit):
        _forgot(app.test_client(), ghost)
    assert _forgot(app.test_client(), ghost)[0] == 429
    # Per IP: many different addresses from one machine.
    saved = app.config["RESET_MAX_PER_IP"]
    app.config["RESET_MAX_PER_IP"] = 3
    try:
        client = app.test_client()
        with app.app_context():
            db.session.execute(sa.delete(ThrottleEvent).where(
                ThrottleEvent.key.like("reset:ip:%")))
            db.session.commit()
        statuses = [_forgot(client, unique("ip"))[0] for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
    finally:
        app.config["RESET_MAX_PER_IP"] = saved
        with app.app_context():
            db.session.execute(sa.delete(ThrottleEvent).where(
                ThrottleEvent.key.like("reset:%")))
            db.session.commit()


# --- 3. RGPD --------------------------------------------------------------------------------------

def test_new_terms_version_asks_again_before_anything(app, login):
    client = login("bruno@etu.sillon.demo")
    saved = app.config["RGPD_TERMS_VERSION"]
    app.config["RGPD_TERMS_VERSION"] = "2027-01"
    try:
        for url in ("/admin/", "/admin/dossier/", "/compte"):
            response = client.get(url)
            assert response.status_code == 302 and "/rgpd" in response.headers["Location"], url
        page = body(client.get("/rgpd"))
        assert "Les conditions ont changé" in page and "2027-01" in page
        assert post_form(client, "/rgpd", {"accept": "y"}).status_code == 302
        assert client.get("/admin/").status_code == 200
        user = user_by_email(app, "bruno@etu.sillon.demo")
        assert user.rgpd_version == "2027-01"
    finally:
        app.config["RGPD_TERMS_VERSION"] = saved
        with app.app_context():
            db.session.execute(sa.update(User).where(User.email == "bruno@etu.sillon.demo")
                               .values(rgpd_version=saved))
            db.session.commit()


# --- 4. access-code registration -------------------------------------------------------------------

def _register(client, code, email, *, birth="2004-03-02", first="Nina", last="Code"):
    return client.post("/inscription", data={
        "reg-csrf_token": prefixed_csrf(body(client.get("/login")), "reg"),
        "reg-code": code, "reg-first_name": first, "reg-last_name": last, "reg-email": email,
        "reg-birth_date": birth})


def _dossiers_of(app, email):
    with app.app_context():
        return db.session.execute(sa.select(Dossier.id, Dossier.state, Dossier.formation_id,
                                            Dossier.apprentice_user_id).where(
            Dossier.apprenti_email == email)).all()


def test_registration_with_a_good_code(app, smtp, clean_outbox):
    email = unique("code")
    response = _register(app.test_client(), " lpinfo-26 ", email)
    assert response.status_code == 200
    assert "Votre inscription est enregistrée" in body(response)
    rows = _dossiers_of(app, email)
    assert len(rows) == 1
    assert rows[0].state == "initialise"
    assert rows[0].formation_id == formation_id(app, LP_INFO_CODE)
    user = user_by_email(app, email)
    assert rows[0].apprentice_user_id == user.id and "alternant" in user.role_codes
    password = temporary_password(smtp, only_mail(smtp, email, "Bienvenue sur Sillon"))
    client = app.test_client()
    first_login(client, email, password)
    assert f"/admin/dossier/{rows[0].id}/" in body(client.get("/admin/"))
    # Registering again is an existing account (issue 11): nothing changes — no second
    # dossier, no new temporary password (the chosen one still works) — and the owner is
    # told by e-mail instead of being sent another "Bienvenue".
    hash_before = user_by_email(app, email).password_hash
    again = _register(app.test_client(), LP_INFO_CODE, email)
    assert again.status_code == 200 and "Votre inscription est enregistrée" in body(again)
    assert len(_dossiers_of(app, email)) == 1
    assert user_by_email(app, email).password_hash == hash_before
    assert _login_status(app, email, "Nouveau-mdp-2026") == 302
    only_mail(smtp, email, "Bienvenue sur Sillon")
    notice = only_mail(smtp, email, "Tentative d'inscription avec votre adresse")
    assert "/mot-de-passe-oublie" in smtp.text_of(notice)


def test_registration_refuses_wrong_and_disabled_codes_alike(app, login, smtp, clean_outbox):
    wrong = _register(app.test_client(), "NOPE-0000", unique("wrong"))
    assert wrong.status_code == 400
    message = "Ce code d'accès n'est pas valable"
    assert message in body(wrong)
    # Input kept on screen.
    assert 'value="Nina"' in body(wrong)
    manager = login(RESP_DROIT)
    pk = formation_id(app, "MDROIT-26")
    url = f"/admin/formation/{pk}/code-acces/"
    try:
        response = manager.post(url, data={"csrf_token": csrf(manager), "action": "disable"})
        assert response.status_code == 302
        disabled = _register(app.test_client(), "MDROIT-26", unique("disabled"))
        assert disabled.status_code == 400
        assert message in body(disabled)
        # Same message for a disabled and a wrong code: nothing tells them apart.
        strip = lambda r: re.sub(r'value="[^"]*"', "", body(r))  # noqa: E731
        assert strip(disabled) == strip(wrong)
        # Regenerated: the old code is dead, the new one works.
        manager.post(url, data={"csrf_token": csrf(manager), "action": "regenerate"})
        with app.app_context():
            new_code = db.session.get(Formation, pk).access_code
        assert new_code != "MDROIT-26" and re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}", new_code)
        assert new_code in body(manager.get(url))
        assert _register(app.test_client(), "MDROIT-26", unique("old")).status_code == 400
        email = unique("new")
        assert _register(app.test_client(), new_code.lower(), email).status_code == 200
        assert [r.formation_id for r in _dossiers_of(app, email)] == [pk]
    finally:
        with app.app_context():
            formation = db.session.get(Formation, pk)
            formation.access_code, formation.access_code_enabled = "MDROIT-26", True
            db.session.execute(sa.delete(ThrottleEvent).where(
                ThrottleEvent.key.like("register:%")))
            db.session.commit()


def test_registration_validates_fields_in_french(app):
    response = _register(app.test_client(), LP_INFO_CODE, "pas-une-adresse", birth="31/02/2004",
                         first="")
    page_text = body(response)
    assert response.status_code == 400
    assert "Cette adresse e-mail n'est pas valide." in page_text
    assert "Le prénom est obligatoire." in page_text
    assert "La date de naissance n'est pas valide (JJ/MM/AAAA)." in page_text
    young = _register(app.test_client(), LP_INFO_CODE, unique("young"),
                      birth=(datetime.now().date() - timedelta(days=365 * 13)).isoformat())
    assert young.status_code == 400 and "au plus tôt à 15 ans" in body(young)


def test_wrong_codes_are_throttled_per_ip(app):
    saved = app.config["REGISTRATION_MAX_FAILURES_PER_IP"]
    app.config["REGISTRATION_MAX_FAILURES_PER_IP"] = 3
    with app.app_context():
        db.session.execute(sa.delete(ThrottleEvent).where(ThrottleEvent.key.like("register:%")))
        db.session.commit()
    try:
        statuses = [_register(app.test_client(), f"FAUX-{i}", unique("t")).status_code
                    for i in range(4)]
        assert statuses == [400, 400, 400, 429]
        # Even the right code waits until the window has passed.
        email = unique("blocked")
        assert _register(app.test_client(), LP_INFO_CODE, email).status_code == 429
        assert _dossiers_of(app, email) == []
    finally:
        app.config["REGISTRATION_MAX_FAILURES_PER_IP"] = saved
        with app.app_context():
            db.session.execute(sa.delete(ThrottleEvent).where(
                ThrottleEvent.key.like("register:%")))
            db.session.commit()


def test_access_code_page_rights(app, login):
    pk = formation_id(app, LP_INFO_CODE)
    url = f"/admin/formation/{pk}/code-acces/"
    assert LP_INFO_CODE in body(login(RESP_INFO).get(url))
    helper = login(GEST_INFO)
    assert LP_INFO_CODE in body(helper.get(url))
    response = helper.post(url, data={"csrf_token": csrf(helper), "action": "disable"})
    assert response.status_code == 302
    other = login(RESP_DROIT)
    assert other.get(url).status_code == 404
    other.post(url, data={"csrf_token": csrf(other), "action": "regenerate"})
    with app.app_context():
        formation = db.session.get(Formation, pk)
        assert formation.access_code == LP_INFO_CODE and formation.access_code_enabled
    for party in ("rh@acme.sillon.demo", "alice@etu.sillon.demo"):
        assert login(party).get(url).status_code in (302, 403, 404)


# --- 5. "J'ai trouvé un employeur" ----------------------------------------------------------------

def _registered_apprentice(app, smtp):
    email = unique("trouve")
    _register(app.test_client(), LP_INFO_CODE, email)
    password = temporary_password(smtp, only_mail(smtp, email, "Bienvenue"))
    client = app.test_client()
    first_login(client, email, password)
    return client, email, _dossiers_of(app, email)[0].id


def test_apprentice_names_a_known_employer(app, login, smtp, clean_outbox):
    client, _, pk = _registered_apprentice(app, smtp)
    tab = body(client.get(f"/admin/dossier/{pk}/employeur/"))
    assert "J'ai trouvé un employeur" in tab
    with app.app_context():
        etab = db.session.execute(sa.select(Etablissement).where(
            Etablissement.en_attente.is_(False))).scalars().first()
        siret, etab_id = etab.siret, etab.id
    contact = unique("rh")
    url = f"/admin/dossier/{pk}/employeur/trouve/"
    bad = post_form(client, url, {"siret": "12345678901234", "email": contact})
    assert bad.status_code == 422 and "numéro SIRET n'est pas valide" in body(bad)
    assert contact in body(bad)  # input kept
    done = post_form(client, url, {"siret": f"{siret[:3]} {siret[3:]}", "email": contact})
    assert done.status_code == 302
    with app.app_context():
        dossier = db.session.get(Dossier, pk)
        # A new contact is no member of that structure: the dossier asks its référent (or the
        # CFA) and shows nothing of the establishment until the request is accepted.
        assert dossier.etablissement_id is None and dossier.etablissement_demande_id == etab_id
        assert dossier.employeur_siret == siret
        assert dossier.employer_contact.email == contact
        assert db.session.execute(sa.select(sa.func.count()).select_from(DossierHistory).where(
            DossierHistory.dossier_id == pk,
            DossierHistory.field.like("J'ai trouvé un employeur%"))).scalar_one() == 2
        referent = db.session.get(Etablissement, etab_id).structure.referent
        recipient = referent.email if referent is not None else None
    if recipient is not None:
        assert only_mail(smtp, recipient, "Nouvelle demande d'accès à votre structure")
    welcome = only_mail(smtp, contact, "Bienvenue sur Sillon")
    assert f"Dossier n° {pk}" in smtp.text_of(welcome)
    # Once a contact is named, the box is gone and the route refuses.
    assert "J'ai trouvé un employeur" not in body(client.get(
        f"/admin/dossier/{pk}/employeur/"))
    assert client.get(url).status_code == 303
    again = client.post(url, data={"csrf_token": csrf(client), "siret": siret,
                                   "email": unique("autre")})
    assert again.status_code == 303
    with app.app_context():
        assert db.session.get(Dossier, pk).employer_contact.email == contact
    # The invited contact logs in and reaches the dossier's L'employeur tab.
    employer = app.test_client()
    first_login(employer, contact, temporary_password(smtp, welcome))
    assert employer.get(f"/admin/dossier/{pk}/employeur/").status_code == 200


def test_apprentice_names_an_unknown_establishment(app, smtp, clean_outbox):
    from stdnum import luhn
    client, _, pk = _registered_apprentice(app, smtp)
    siren = "8" + str(uuid.uuid4().int)[:7]
    siren += luhn.calc_check_digit(siren)
    siret = siren + "0001"
    siret += luhn.calc_check_digit(siret)
    response = post_form(client, f"/admin/dossier/{pk}/employeur/trouve/",
                         {"siret": siret, "email": unique("nouveau")})
    assert response.status_code == 302
    with app.app_context():
        etab = db.session.execute(sa.select(Etablissement).where(
            Etablissement.siret == siret)).scalar_one()
        assert etab.en_attente and etab.structure.siren == siret[:9]
        # The first employer account of the new structure is its référent.
        assert etab.structure.referent.email == db.session.get(Dossier, pk).employer_contact.email


def test_others_cannot_use_the_employer_found_door(app, login):
    with app.app_context():
        pk = db.session.execute(sa.select(Dossier.id).where(
            Dossier.apprenti_email == "alice@etu.sillon.demo")).scalars().first()
        before = db.session.get(Dossier, pk).employeur_contact_email
    for account in (RESP_INFO, "rh@acme.sillon.demo", "bruno@etu.sillon.demo"):
        client = login(account)
        response = client.post(f"/admin/dossier/{pk}/employeur/trouve/", data={
            "csrf_token": csrf(client), "siret": "73282932000074", "email": unique("x")})
        assert response.status_code in (303, 404), account
    with app.app_context():
        assert db.session.get(Dossier, pk).employeur_contact_email == before


# --- 6. account page --------------------------------------------------------------------------------

def _fresh_user(app, smtp, prefix="compte"):
    email = unique(prefix)
    with app.test_request_context():
        from portal.accounts import invitations as accounts
        accounts.invite(email, "employeur")
        db.session.commit()
        from portal.mail.outbox import send_pending
        send_pending()
    client = app.test_client()
    password = first_login(client, email, temporary_password(
        smtp, only_mail(smtp, email, "Bienvenue")))
    return client, email, password


def test_change_password(app, smtp, clean_outbox):
    client, email, password = _fresh_user(app, smtp)
    other_session = app.test_client()
    assert web_login(other_session, email, password).status_code == 302
    page = client.get("/compte")
    token = prefixed_csrf(body(page), "pwd")
    wrong = client.post("/compte/mot-de-passe", data={
        "pwd-csrf_token": token, "pwd-current": "pas-le-bon-1", "pwd-password": "Changé-2027-a",
        "pwd-confirm": "Changé-2027-a"})
    assert wrong.status_code == 400
    assert "Le mot de passe actuel n'est pas le bon." in body(wrong)
    done = client.post("/compte/mot-de-passe", data={
        "pwd-csrf_token": token, "pwd-current": password, "pwd-password": "Changé-2027-a",
        "pwd-confirm": "Changé-2027-a"})
    assert done.status_code == 302
    assert client.get("/admin/").status_code == 200  # this session continues
    assert other_session.get("/admin/").status_code == 302  # the other one ended
    assert web_login(app.test_client(), email, "Changé-2027-a").status_code == 302


def test_change_email_confirmed_by_a_link_to_the_new_address(app, smtp, clean_outbox):
    client, email, password = _fresh_user(app, smtp, "ancienne")
    new = unique("nouvelle")
    token = prefixed_csrf(body(client.get("/compte")), "mail")
    bad = client.post("/compte/adresse", data={"mail-csrf_token": token, "mail-email": new,
                                               "mail-current": "faux-mdp-123"})
    assert bad.status_code == 400
    response = client.post("/compte/adresse", data={"mail-csrf_token": token, "mail-email": new,
                                                    "mail-current": password})
    assert response.status_code == 302
    assert user_by_email(app, email) is not None  # nothing changes before the link
    only_mail(smtp, email, "Changement d'adresse e-mail demandé")
    path = link_path(smtp, only_mail(smtp, new, "Confirmez votre nouvelle adresse"),
                     "/compte/adresse/")
    assert app.test_client().get(path).status_code == 302
    assert user_by_email(app, email) is None and user_by_email(app, new) is not None
    assert app.test_client().get(path).status_code == 410  # single use
    assert web_login(app.test_client(), new, password).status_code == 302
    assert web_login(app.test_client(), email, password).status_code == 401


def test_change_email_to_a_taken_address_changes_nothing(app, smtp, clean_outbox):
    client, email, password = _fresh_user(app, smtp, "pris")
    token = prefixed_csrf(body(client.get("/compte")), "mail")
    response = client.post("/compte/adresse", data={
        "mail-csrf_token": token, "mail-email": "rh@acme.sillon.demo", "mail-current": password})
    assert response.status_code == 302  # same answer as for a free address
    assert mails_to(smtp, "rh@acme.sillon.demo") == []
    assert user_by_email(app, email) is not None


# --- 7. administration ------------------------------------------------------------------------------

def test_deactivated_user_sessions_end_and_reinvitation(app, login, smtp, clean_outbox):
    client, email, password = _fresh_user(app, smtp, "desactive")
    assert client.get("/admin/").status_code == 200
    admin = login(ADMIN)
    user = user_by_email(app, email)
    response = admin.post("/admin/user/action/", data={
        "csrf_token": csrf(admin), "action": "desactiver", "rowid": str(user.id)})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 302  # session over
    assert _login_status(app, email, password) == 401
    admin.post("/admin/user/action/", data={
        "csrf_token": csrf(admin), "action": "reactiver", "rowid": str(user.id)})
    assert _login_status(app, email, password) == 302
    admin.post("/admin/user/action/", data={
        "csrf_token": csrf(admin), "action": "reinviter", "rowid": str(user.id)})
    resent = [m for m in mails_to(smtp, email) if m["Subject"] == "Bienvenue sur Sillon"]
    assert len(resent) == 2
    assert user_by_email(app, email).must_change_password


def test_admin_creates_a_user_who_is_welcomed(app, login, smtp, clean_outbox):
    admin = login(ADMIN)
    email = unique("staff")
    response = admin.post("/admin/user/new/", data={
        "csrf_token": csrf(admin), "email": email, "last_name": "Nouvelle",
        "first_name": "Conseillère", "active": "y", "role_codes_field": "cfa_conseiller"})
    assert response.status_code == 302
    message = only_mail(smtp, email, "Bienvenue sur Sillon")
    assert "Conseiller·ère du CFA" in smtp.text_of(message)
    assert _login_status(app, email, temporary_password(smtp, message)) == 302


def _login_status(app, email, password):
    return web_login(app.test_client(), email, password).status_code


@pytest.mark.parametrize("url", ["/mot-de-passe-oublie", "/inscription", "/login"])
def test_public_pages_need_no_login(client, url):
    assert client.get(url).status_code == 200


def test_contact_email_typed_on_donnees_de_base_invites_the_employer(app, login, smtp,
                                                                      clean_outbox):
    """The formation names the employer contact on Données de base: the contact is invited and
    becomes the dossier's employer; saving again without change invites nobody."""
    import lxml.html
    email = unique("base")
    _register(app.test_client(), LP_INFO_CODE, email)
    pk = _dossiers_of(app, email)[0].id
    with app.app_context():
        siret = db.session.execute(sa.select(Etablissement.siret).where(
            Etablissement.en_attente.is_(False))).scalars().first()
    manager = login(RESP_INFO)
    contact = unique("contact.base")

    def save(extra):
        page = body(manager.get(f"/admin/dossier/{pk}/base/"))
        form = next(f for f in lxml.html.fromstring(page).forms
                    if f.get("method", "").lower() == "post" and "_version" in f.fields)
        data = dict(form.form_values())
        data.update({"employeur_siret": siret, "date_debut_contrat": "2026-09-01",
                     "date_fin_contrat": "2027-08-31", **extra})
        response = manager.post(f"/admin/dossier/{pk}/base/", data=data)
        assert response.status_code == 302, re.findall(r'finding-error">([^<]+)<', body(response))

    save({"employeur_contact_email": contact})
    message = only_mail(smtp, contact, "Bienvenue sur Sillon")
    assert f"Dossier n° {pk}" in smtp.text_of(message)
    assert "Claire FABRE" in smtp.text_of(message)  # who invited them
    with app.app_context():
        assert db.session.get(Dossier, pk).employer_contact.email == contact
    save({"employeur_contact_email": contact})
    assert len(mails_to(smtp, contact)) == 1
