"""Access-code registration (POST /inscription), issue 11: an existing account is never acted on
(no role, no dossier, no password; its owner is told by e-mail, at most once per window), the
page answers the same whatever the address, a new address gets its account and dossier through
the dossier service, admitted registrations are throttled per IP / address / code, two
concurrent registrations of one address make one account, and bad input is refused in French
next to the field. Everything through HTTP; the database and the outbox table are checked after
each request."""
from __future__ import annotations

import html
import re
import threading
import uuid
from datetime import date, datetime, timedelta, timezone
from http.cookiejar import CookieJar
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, build_opener

import pytest
import sqlalchemy as sa
import time_machine

from portal.accounts import invitations
from portal.auth.registration import HISTORY_COMMENT, NOTICE_SUBJECT
from portal.extensions import db
from portal.models import (Dossier, DossierHistory, Formation, OutboxEmail, ThrottleEvent, User,
                           UserRole)

CODE = "LPINFO-26"
OTHER_CODE = "MINFO-GL-26"
ADMIN = "admin@sillon.demo"
WELCOME = "Bienvenue sur Sillon"
DONE = "Votre inscription est enregistrée"


# --- helpers ------------------------------------------------------------------------------------

def unique(prefix="inscrit") -> str:
    return f"{prefix}.{uuid.uuid4().hex[:10]}@test.sillon.demo"


def new_ip() -> str:
    raw = uuid.uuid4().bytes
    return f"10.{raw[0]}.{raw[1]}.{raw[2]}"


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def reg_token(page: str) -> str:
    match = re.search(r'name="reg-csrf_token"[^>]*value="([^"]+)"', page)
    assert match, "no reg-csrf_token in the page"
    return match.group(1)


def form_data(token, *, code=CODE, email=None, first="Nina", last="Code", birth="02/03/2004"):
    return {"reg-csrf_token": token, "reg-code": code, "reg-first_name": first,
            "reg-last_name": last, "reg-email": unique() if email is None else email,
            "reg-birth_date": birth}


def register(app, email=None, *, ip="127.0.0.1", **fields):
    client = app.test_client()
    token = reg_token(client.get("/inscription").get_data(as_text=True))
    return client.post("/inscription", data=form_data(token, email=email, **fields),
                       environ_base={"REMOTE_ADDR": ip})


def same_answer_text(response, address) -> str:
    """The page without what may differ legitimately: CSRF tokens and the echoed address."""
    page = response.get_data(as_text=True)
    page = re.sub(r'(csrf_token"[^>]*value=")[^"]*', r"\1", page)
    return page.replace(address, "ADRESSE")


def account(app, email) -> dict | None:
    with app.app_context():
        user = db.session.execute(sa.select(User).where(
            sa.func.lower(User.email) == email.lower())).scalar_one_or_none()
        if user is None:
            return None
        return {"id": user.id, "roles": sorted(user.role_codes), "hash": user.password_hash,
                "must_change": user.must_change_password, "active": user.active,
                "temp_until": user.temp_password_expires_at, "token": user.session_token,
                "names": (user.first_name, user.last_name)}


def dossiers(app, email, user_id=None) -> list:
    with app.app_context():
        cond = sa.func.lower(Dossier.apprenti_email) == email.lower()
        if user_id is not None:
            cond = sa.or_(cond, Dossier.apprentice_user_id == user_id,
                          Dossier.employer_contact_id == user_id)
        return db.session.execute(sa.select(
            Dossier.id, Dossier.state, Dossier.formation_id, Dossier.apprentice_user_id,
            Dossier.created_by_id).where(cond)).all()


def mails(app, email, subject=None) -> list:
    with app.app_context():
        rows = db.session.execute(sa.select(OutboxEmail.subject, OutboxEmail.body_text).where(
            OutboxEmail.recipients.contains(email.lower())).order_by(OutboxEmail.id)).all()
    return [r for r in rows if subject is None or subject in r.subject]


def totals(app) -> dict:
    with app.app_context():
        def n(model, *where):
            return db.session.execute(sa.select(sa.func.count()).select_from(model)
                                      .where(*where)).scalar_one()
        return {"users": n(User), "roles": n(UserRole), "dossiers": n(Dossier),
                "history": n(DossierHistory), "outbox": n(OutboxEmail),
                "admitted": n(ThrottleEvent, ThrottleEvent.key.like("register:ok:%"))}


def formation_id(app, code) -> int:
    with app.app_context():
        return db.session.execute(sa.select(Formation.id).where(
            Formation.access_code == code)).scalar_one()


def pending_invitee(app) -> str:
    """An employer invited by the CFA who has not logged in yet (temporary password)."""
    email = unique("invite")
    with app.test_request_context():
        invitations.invite(email, "employeur", reason="test")
        db.session.commit()
    return email


def deactivated_account(app) -> str:
    email = unique("ancien")
    with app.app_context():
        user = User(email=email, first_name="Ancien", active=False)
        user.set_password("Ancien-mdp-2026")
        user.roles.append(UserRole(role="alternant"))
        db.session.add(user)
        db.session.commit()
    return email


@pytest.fixture(autouse=True)
def fresh_counters(app):
    """Every test starts with no registration counters (and leaves none behind)."""
    def clear():
        with app.app_context():
            db.session.execute(sa.delete(ThrottleEvent).where(
                ThrottleEvent.key.like("register:%")))
            db.session.commit()
    clear()
    yield
    clear()


@pytest.fixture()
def restore_admin(app):
    before = account(app, ADMIN)
    yield
    with app.app_context():  # repairs the demo data if a regression changed the admin
        user = db.session.get(User, before["id"])
        for role in [r for r in user.roles if r.role not in before["roles"]]:
            user.roles.remove(role)
        db.session.execute(sa.update(Dossier).where(Dossier.apprentice_user_id == user.id)
                           .values(apprentice_user_id=None))
        db.session.commit()


# --- 1. an existing account is never acted on (the finding, replayed) ----------------------------

def test_admin_address_gets_no_role_no_dossier_only_a_warning(app, clean_outbox, restore_admin):
    before, counts = account(app, ADMIN), totals(app)
    response = register(app, ADMIN, first="Pirate", last="Admin")
    assert response.status_code == 200 and DONE in text(response)
    assert account(app, ADMIN) == before  # roles, password hash, flags, session: untouched
    assert dossiers(app, ADMIN, before["id"]) == []
    after = totals(app)
    assert (after["users"], after["roles"], after["dossiers"], after["history"]) == (
        counts["users"], counts["roles"], counts["dossiers"], counts["history"])
    [notice] = mails(app, ADMIN)
    assert notice.subject == NOTICE_SUBJECT
    assert "/login?email=admin%40sillon.demo" in notice.body_text
    assert "/mot-de-passe-oublie" in notice.body_text
    assert "ignorez ce message" in notice.body_text
    # Again, from elsewhere: still nothing changed, and no second e-mail (no e-mail bombing).
    assert register(app, ADMIN, ip=new_ip()).status_code == 200
    assert account(app, ADMIN) == before and len(mails(app, ADMIN)) == 1


def test_pending_invitee_keeps_the_temporary_password(app, clean_outbox):
    email = pending_invitee(app)
    before, welcomes = account(app, email), len(mails(app, email, WELCOME))
    assert before["must_change"] and before["temp_until"] is not None
    response = register(app, email)
    assert response.status_code == 200 and DONE in text(response)
    assert account(app, email) == before  # same hash, same expiry, still "employeur" only
    assert dossiers(app, email, before["id"]) == []
    assert len(mails(app, email, WELCOME)) == welcomes  # no new temporary password sent
    assert len(mails(app, email, NOTICE_SUBJECT)) == 1


def test_deactivated_account_is_left_alone_and_not_mailed(app, clean_outbox):
    email = deactivated_account(app)
    before = account(app, email)
    response = register(app, email)
    assert response.status_code == 200 and DONE in text(response)
    assert account(app, email) == before and not before["active"]
    assert dossiers(app, email, before["id"]) == [] and mails(app, email) == []


def test_account_stored_before_addresses_were_normalised_is_known(app, clean_outbox):
    email = unique("ancienne-casse")
    stored = email.replace("ancienne-casse", "Ancienne-Casse").replace("test.", "Test.")
    with app.app_context():
        db.session.add(User(email=stored, first_name="Ancienne"))
        db.session.commit()
    before, counts = account(app, email), totals(app)
    response = register(app, email)
    assert response.status_code == 200 and DONE in text(response)
    assert account(app, email) == before and dossiers(app, email, before["id"]) == []
    after = totals(app)
    assert (after["users"], after["dossiers"]) == (counts["users"], counts["dossiers"])
    assert [m.subject for m in mails(app, email)] == [NOTICE_SUBJECT]


# --- 2. the same answer whatever the address ----------------------------------------------------

def test_the_page_answers_the_same_for_known_and_new_addresses(app, clean_outbox, restore_admin):
    new = unique("pareil")
    answers = {}
    for label, address in (("new", new), ("again", new), ("admin", ADMIN),
                           ("pending", pending_invitee(app)), ("off", deactivated_account(app))):
        response = register(app, address, ip=new_ip())
        answers[label] = (response.status_code, same_answer_text(response, address))
    assert len(dossiers(app, new)) == 1  # the first created a dossier, the others nothing
    assert len(set(answers.values())) == 1, {k: v[0] for k, v in answers.items()}
    assert answers["new"][0] == 200


# --- 3. a new address: account and dossier through the service -----------------------------------

def test_new_address_gets_account_dossier_and_welcome_then_is_known(app, clean_outbox):
    email = unique("Nouvelle").replace("nouvelle", "Nouvelle")
    response = register(app, f"  {email} ", code=" lpinfo-26 ", first="Inès", last="Étienne")
    assert response.status_code == 200 and DONE in text(response)
    address = email.lower()
    created = account(app, address)
    assert created["roles"] == ["alternant"] and created["must_change"]
    assert created["names"] == ("Inès", "Étienne")
    [row] = dossiers(app, address)
    assert row.state == "initialise" and row.formation_id == formation_id(app, CODE)
    assert row.apprentice_user_id == created["id"] == row.created_by_id
    with app.app_context():
        dossier = db.session.get(Dossier, row.id)
        assert dossier.apprenti_date_naissance == date(2004, 3, 2)
        assert [(h.kind, h.to_state, h.user_id, h.comment) for h in dossier.history] == [
            ("transition", "initialise", created["id"], HISTORY_COMMENT)]
    [welcome] = mails(app, address, WELCOME)
    assert f"Dossier n° {row.id}" in welcome.body_text
    assert "mot de passe provisoire" in welcome.body_text
    # The same address again (any case): an existing account now, rule 1.
    again = register(app, address.upper(), ip=new_ip())
    assert again.status_code == 200
    assert account(app, address) == created
    assert len(dossiers(app, address)) == 1 and len(mails(app, address, WELCOME)) == 1
    assert len(mails(app, address, NOTICE_SUBJECT)) == 1


# --- 4. throttles ---------------------------------------------------------------------------------

def test_a_class_of_30_passes_from_one_network_a_script_does_not(app, clean_outbox):
    """The finding: 30 requests from one IP made 30 accounts and 40 e-mails. A class of 30 still
    registers from its school network with the default limits; past the limit, 429 and nothing."""
    limit = app.config["REGISTRATION_MAX_PER_IP"]
    assert 30 <= limit < 100
    ip, addresses = new_ip(), [unique("classe") for _ in range(limit + 5)]
    statuses = [register(app, a, ip=ip).status_code for a in addresses]
    assert statuses == [200] * limit + [429] * 5
    created = [a for a in addresses if account(app, a) is not None]
    assert created == addresses[:limit]
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(OutboxEmail)
                                  ).scalar_one() == limit  # one "Bienvenue" each, nothing more
    refused = register(app, unique("script"), ip=ip)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "3600"
    assert "Trop d'inscriptions ont été faites depuis votre connexion" in text(refused)
    assert 'value="Nina"' in text(refused)  # input kept
    # Another network is not affected; after the window the first one passes again.
    assert register(app, unique("ailleurs"), ip=new_ip()).status_code == 200
    with time_machine.travel(datetime.now(timezone.utc) + timedelta(minutes=61)):
        assert register(app, unique("plus-tard"), ip=ip).status_code == 200


def test_repeated_addresses_from_one_ip_make_no_extra_accounts_or_mails(app, clean_outbox):
    ip, addresses = new_ip(), [unique("repete") for _ in range(10)]
    before = totals(app)
    for _ in range(3):
        for address in addresses:
            assert register(app, address, ip=ip).status_code == 200
    after = totals(app)
    assert after["users"] - before["users"] == 10 and after["dossiers"] - before["dossiers"] == 10
    for address in addresses:
        assert [m.subject for m in mails(app, address)] == [WELCOME, NOTICE_SUBJECT]
    assert after["outbox"] - before["outbox"] == 20


def test_registrations_are_throttled_per_address(app, clean_outbox, restore_admin):
    limit = app.config["REGISTRATION_MAX_PER_ADDRESS"]
    new = unique("adresse")
    for address in (new, ADMIN):
        statuses = [register(app, address, ip=new_ip()).status_code for _ in range(limit + 1)]
        assert statuses == [200] * limit + [429], address
        before = totals(app)
        refused = register(app, address, ip=new_ip(), code=OTHER_CODE)
        assert refused.status_code == 429
        assert "Trop d'inscriptions ont été demandées pour cette adresse" in text(refused)
        assert totals(app) == before
    assert len(dossiers(app, new)) == 1 and len(mails(app, ADMIN)) == 1


def test_registrations_are_throttled_per_code(app, clean_outbox):
    saved = app.config["REGISTRATION_MAX_PER_CODE"]
    app.config["REGISTRATION_MAX_PER_CODE"] = 3
    try:
        assert [register(app, unique("code"), ip=new_ip()).status_code
                for _ in range(3)] == [200] * 3
        before, email = totals(app), unique("code-plein")
        refused = register(app, email, ip=new_ip())
        assert refused.status_code == 429 and "avec ce code d'accès" in text(refused)
        assert totals(app) == before and account(app, email) is None
        # Another training's code is counted apart.
        assert register(app, email, ip=new_ip(), code=OTHER_CODE).status_code == 200
        assert [r.formation_id for r in dossiers(app, email)] == [formation_id(app, OTHER_CODE)]
    finally:
        app.config["REGISTRATION_MAX_PER_CODE"] = saved


def test_wrong_codes_still_throttled_and_not_counted_as_registrations(app):
    ip = new_ip()
    for _ in range(app.config["REGISTRATION_MAX_FAILURES_PER_IP"]):
        assert register(app, ip=ip, code="FAUX-CODE").status_code == 400
    assert totals(app)["admitted"] == 0
    email = unique("bloque")
    blocked = register(app, email, ip=ip)
    assert blocked.status_code == 429 and "code d'accès erroné" in text(blocked)
    assert account(app, email) is None


# --- 5. two registrations of one new address at once --------------------------------------------

class Browser:
    """A cookie-keeping HTTP client for the live server (urllib)."""

    def __init__(self, base):
        self.base = base
        self.opener = build_opener(HTTPCookieProcessor(CookieJar()))

    def open(self, path, data=None):
        body = urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(self.base + path, data=body, timeout=30) as response:
                return response.status, response.read().decode()
        except HTTPError as error:
            return error.code, error.read().decode()


@pytest.fixture()
def live_server(app):
    from werkzeug.serving import make_server
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture()
def on_statement(app):
    """on_statement(hook): run hook(statement, parameters) before every SQL statement of the
    app (in the thread that runs it) — used only to order two real requests, never to change
    what they do."""
    installed = []

    def install(hook):
        def listener(conn, cursor, statement, parameters, context, executemany):
            hook(statement, parameters)
        with app.app_context():
            sa.event.listen(db.engine, "before_cursor_execute", listener)
            installed.append((db.engine, listener))
    yield install
    for engine, listener in installed:
        sa.event.remove(engine, "before_cursor_execute", listener)


def _is_lookup(statement, parameters, email):
    return "FROM users" in statement and "lower(users.email)" in statement \
        and email in str(parameters)


def _post_both(live_server, email):
    browsers = [Browser(live_server) for _ in range(2)]
    tokens = [reg_token(b.open("/inscription")[1]) for b in browsers]
    results = [None, None]

    def post(i):
        results[i] = browsers[i].open("/inscription", form_data(tokens[i], email=email))
    return post, results


def _one_account_one_dossier_one_welcome(app, email, results):
    assert [status for status, _ in results] == [200, 200], results
    strip = lambda page: re.sub(r'(csrf_token"[^>]*value=")[^"]*', r"\1", page)  # noqa: E731
    assert strip(results[0][1]) == strip(results[1][1])
    created = account(app, email)
    assert created is not None and created["roles"] == ["alternant"]
    assert len(dossiers(app, email, created["id"])) == 1
    assert len(mails(app, email, WELCOME)) == 1
    assert len(mails(app, email, NOTICE_SUBJECT)) <= 1


def test_two_registrations_at_once_both_past_the_check(app, live_server, on_statement,
                                                       clean_outbox):
    """Both requests have found no account when they insert it: the unique e-mail refuses the
    second, which answers as usual."""
    email, barrier, inserting = unique("course"), threading.Barrier(2, timeout=10), []

    def hold_inserts(statement, parameters):
        if statement.lstrip().upper().startswith("INSERT INTO USERS") and \
                email in str(parameters):
            inserting.append(threading.get_ident())
            try:
                barrier.wait()  # both requests are here before either inserts
            except threading.BrokenBarrierError:
                pass
    on_statement(hold_inserts)
    post, results = _post_both(live_server, email)
    threads = [threading.Thread(target=post, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(set(inserting)) == 2, "the race did not happen: both must reach the insert"
    _one_account_one_dossier_one_welcome(app, email, results)


def test_registration_whose_rival_commits_in_between(app, live_server, on_statement,
                                                     clean_outbox):
    """The first request has found no account; the second then registers the address and
    commits before the first goes on: the first must not hang a second dossier (and a second
    "Bienvenue") on the account that appeared meanwhile."""
    email, paused, resume, state = unique("entre-deux"), threading.Event(), threading.Event(), {}

    def pause_after_lookup(statement, parameters):
        me = threading.get_ident()
        if "first" not in state:
            if _is_lookup(statement, parameters, email):
                state["first"] = me
        elif me == state["first"] and not paused.is_set():
            paused.set()
            resume.wait(timeout=20)
    on_statement(pause_after_lookup)
    post, results = _post_both(live_server, email)
    first = threading.Thread(target=post, args=(0,))
    first.start()
    assert paused.wait(timeout=20), "the first request never looked the address up"
    post(1)  # the rival, start to end, while the first waits
    assert results[1][0] == 200 and account(app, email) is not None
    resume.set()
    first.join(timeout=60)
    _one_account_one_dossier_one_welcome(app, email, results)


def test_concurrent_registrations_never_pass_a_limit(app, live_server, clean_outbox):
    """Eight registrations at once against a limit of three per code: at most three accounts,
    each refused request has created nothing (at the edge, both racers may be refused)."""
    saved = app.config["REGISTRATION_MAX_PER_CODE"]
    app.config["REGISTRATION_MAX_PER_CODE"] = 3
    try:
        addresses = [unique("rafale") for _ in range(8)]
        browsers = [Browser(live_server) for _ in addresses]
        tokens = [reg_token(b.open("/inscription")[1]) for b in browsers]
        barrier, results = threading.Barrier(len(addresses), timeout=20), {}

        def post(i):
            barrier.wait()
            results[i] = browsers[i].open("/inscription",
                                          form_data(tokens[i], email=addresses[i]))[0]
        threads = [threading.Thread(target=post, args=(i,)) for i in range(len(addresses))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        app.config["REGISTRATION_MAX_PER_CODE"] = saved
    created = {i for i, a in enumerate(addresses) if account(app, a) is not None}
    assert sorted(results.values()) == sorted([200] * len(created)
                                              + [429] * (len(addresses) - len(created)))
    assert len(created) <= 3 and created == {i for i, s in results.items() if s == 200}
    assert sum(len(mails(app, a, WELCOME)) for a in addresses) == len(created)
    assert totals(app)["admitted"] == 3 * len(created)  # refused ones left no counter behind


# --- 6. bad input ----------------------------------------------------------------------------------

def field_messages(page: str, field: str) -> list[str]:
    """The error messages shown next to one field (inside its form group)."""
    start = page.index(f'id="reg-{field}"')
    end = min(i for i in (page.find('<div class="form-group">', start),
                          page.find("<button", start)) if i != -1)
    return re.findall(r'class="invalid-feedback d-block">(.*?)</div>', page[start:end])


HUGE = "x" * 10_000


@pytest.mark.parametrize("field, value, message", [
    ("email", "pas-une-adresse", "Cette adresse e-mail n'est pas valide."),
    ("email", "", "Saisissez votre adresse e-mail."),
    ("email", "a" * 60 + "@" + "b" * 200 + ".fr", "Cette adresse e-mail est trop longue."),
    ("birth", "31/02/2004", "La date de naissance n'est pas valide (JJ/MM/AAAA)."),
    ("birth", "2004-13-45", "La date de naissance n'est pas valide (JJ/MM/AAAA)."),
    ("birth", HUGE, "La date de naissance n'est pas valide (JJ/MM/AAAA)."),
    ("birth", "", "La date de naissance est obligatoire (JJ/MM/AAAA)."),
    ("birth", (date.today() + timedelta(days=2)).strftime("%d/%m/%Y"),
     "La date de naissance ne peut pas être dans le futur."),
    ("birth", "01/01/1850", "Cette date de naissance n'est pas plausible."),
    ("first", "", "Le prénom est obligatoire."),
    ("first", "\x00\x07 ", "Le prénom est obligatoire."),
    ("first", HUGE, "Le prénom ne peut pas dépasser 100 caractères."),
    ("last", "   ", "Le nom est obligatoire."),
    ("last", HUGE, "Le nom ne peut pas dépasser 100 caractères."),
    ("code", "", "Saisissez le code d'accès remis par votre formation."),
    ("code", HUGE, "Ce code d'accès n'est pas valable."),
])
def test_bad_input_is_refused_next_to_the_field(app, clean_outbox, field, value, message):
    email = unique("mauvais")
    before = totals(app)
    response = register(app, **({"email": email} | {field: value}))
    page = text(response)
    assert response.status_code == 400
    html_field = {"first": "first_name", "last": "last_name", "birth": "birth_date"}.get(
        field, field)
    assert message in field_messages(page, html_field)
    assert "L'inscription n'a pas été enregistrée" in page
    assert totals(app) == before and account(app, email) is None


def test_post_without_csrf_token_creates_nothing(app, clean_outbox):
    email, before = unique("sans-jeton"), totals(app)
    response = app.test_client().post("/inscription", data=form_data("", email=email))
    assert response.status_code == 400
    assert totals(app) == before and account(app, email) is None
