"""Issue 12 §6: idempotent under races. A real gunicorn (4 sync workers) and the background
task worker, started here, on the session's database (SQLite file or a real PostgreSQL: --db),
a real SMTP server on 127.0.0.1; six threads wait at a barrier and post the same thing at once,
like six people clicking together. Exactly one applies; the others get the French "déjà fait /
modifié entre-temps" answer (409) — never a 500, never a second history row, never a second set
of e-mails (one set of outbox rows, written in the transaction of the change, each delivered
exactly once). Then the unique constraints themselves, on the migrated schema, and their
French refusals.
"""
from __future__ import annotations

import html
import re
import threading
import time
import uuid
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from portal.auth.registration import NOTICE_SUBJECT
from portal.dossiers.errors import CONFLICT_TITLE
from portal.extensions import db
from portal.models import (Dossier, DossierHistory, Etablissement, Formation, ImportBatch,
                           Mission, OutboxEmail, User, UserRole)
from tests.support.gunicorn import Client, GunicornServer, csrf_from, form_fields
from tests.support.smtp import SmtpServer

RACERS = 6
WORKERS = 4
ADMIN, RESP, ACME = "admin@sillon.demo", "resp.info@sillon.demo", "rh@acme.sillon.demo"
WELCOME = "Bienvenue sur Sillon"
CODE = "LPINFO-26"
ALREADY = "modifié par une autre personne"


@pytest.fixture(scope="module")
def smtp_server():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server(app, database_url, smtp_server):
    """gunicorn on the migrated, seeded database of the session (the `app` fixture)."""
    gunicorn = GunicornServer(database_url, workers=WORKERS, task_worker=True, env={
        "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_server.port,
        # Six registrations of one address from one IP must all reach the registration itself.
        "REGISTRATION_MAX_PER_ADDRESS": 1000, "REGISTRATION_MAX_PER_IP": 1000,
        "REGISTRATION_MAX_PER_CODE": 100000,
    }).start()
    yield gunicorn
    gunicorn.stop()


@pytest.fixture()
def no_tracebacks(server):
    """Every test ends with the server's log free of any exception (a 500 logs one)."""
    before = len(server.tracebacks())
    yield
    assert len(server.tracebacks()) == before, server.log()[-6000:]


def at_once(calls):
    """Run the callables in threads released together by a barrier; their results, in order."""
    barrier = threading.Barrier(len(calls), timeout=60)
    results = [None] * len(calls)

    def run(i):
        barrier.wait()
        results[i] = calls[i]()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a request never answered"
    return results


def uid(email):
    return db.session.execute(sa.select(User.id).where(User.email == email)).scalar_one()


def tag() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture()
def make_dossier(app):
    """make_dossier(state, mission=None) -> id: a dossier of resp.info's training with ACME as
    employer contact, for an apprentice of its own (removed after the test)."""
    made = []

    def make(state, *, mission=None):
        with app.app_context():
            formation = db.session.execute(
                sa.select(Formation).join(Formation.responsables).where(User.email == RESP)
                .where(Formation.mission_requise.is_(mission is not None))
                .order_by(Formation.id)).scalars().first()
            etab = db.session.execute(
                sa.select(Etablissement).join(Dossier, Dossier.etablissement_id ==
                                              Etablissement.id)
                .where(Dossier.employer_contact_id == uid(ACME))).scalars().first()
            row = Dossier(formation=formation, employer_contact_id=uid(ACME), etablissement=etab,
                          apprenti_email=f"course.{tag()}@test.sillon.demo",
                          apprenti_nom="Course", apprenti_prenom="Six", state=state,
                          date_debut_contrat=date(2026, 9, 1), date_fin_contrat=date(2028, 8, 31),
                          mission=Mission(description=mission) if mission else None)
            db.session.add(row)
            db.session.commit()
            made.append(row.id)
            return row.id
    yield make
    with app.app_context():
        for pk in made:
            db.session.execute(sa.delete(OutboxEmail).where(OutboxEmail.dossier_id == pk))
            db.session.execute(sa.delete(Dossier).where(Dossier.id == pk))
        db.session.commit()


def history(app, pk, kind):
    with app.app_context():
        return db.session.execute(
            sa.select(DossierHistory.from_state, DossierHistory.to_state, DossierHistory.comment)
            .where(DossierHistory.dossier_id == pk, DossierHistory.kind == kind)).all()


def outbox(app, pk=None, subject=None):
    with app.app_context():
        query = sa.select(OutboxEmail.recipients, OutboxEmail.subject)
        if pk is not None:
            query = query.where(OutboxEmail.dossier_id == pk)
        if subject is not None:
            query = query.where(OutboxEmail.subject == subject)
        return db.session.execute(query).all()


def delivered_once(app, smtp_server, where, timeout=30.0):
    """Wait until the task worker has sent every outbox row matching ``where``; then each must
    have reached the SMTP server exactly once (and nothing else with those subjects)."""
    end = time.monotonic() + timeout
    while True:
        with app.app_context():
            rows = db.session.execute(sa.select(OutboxEmail.recipients, OutboxEmail.subject,
                                                OutboxEmail.sent_at).where(where)).all()
        if all(row.sent_at for row in rows) or time.monotonic() > end:
            break
        time.sleep(0.2)
    assert all(row.sent_at for row in rows), f"not delivered: {rows}"
    expected = Counter((row.recipients, row.subject) for row in rows)
    subjects = {subject for _, subject in expected}
    people = {recipients for recipients, _ in expected}
    received = Counter(key for key in ((",".join(sorted(rcpt)), message["Subject"])
                                       for rcpt, message in list(smtp_server.messages))
                       if key[1] in subjects and key[0] in people)
    assert received == expected
    return rows


def assert_one_set_of_emails(app, smtp_server, pk):
    rows = outbox(app, pk)
    assert rows, "the transition sends e-mails"
    assert max(Counter(rows).values()) == 1, rows
    delivered_once(app, smtp_server, OutboxEmail.dossier_id == pk)


def racers(server, accounts, path):
    """Logged-in clients, each with the page at ``path`` already open (as a person is when they
    click)."""
    clients = [Client(server.url).login(account) for account in accounts]
    return clients, [client.get(path).text for client in clients]


def french_conflict(response):
    page = html.unescape(response.text)
    return response.status == 409 and CONFLICT_TITLE in page and ALREADY in page


# --- the same transition ×6 --------------------------------------------------------------------

def test_the_same_transition_six_times_at_once(app, server, smtp_server, make_dossier,
                                               no_tracebacks):
    pk = make_dossier("validation_demandee")
    page_path = f"/admin/dossier/{pk}/suivi/"
    action = f"/admin/dossier/{pk}/transition/valider_formation/"
    clients, pages = racers(server, [RESP, ADMIN] * (RACERS // 2), page_path)
    forms = [form_fields(page, action) for page in pages]
    answers = at_once([lambda c=c, f=f: c.post(action, f) for c, f in zip(clients, forms)])
    statuses = sorted(a.status for a in answers)
    assert statuses == [302] + [409] * (RACERS - 1), statuses
    assert all(french_conflict(a) for a in answers if a.status != 302)
    assert history(app, pk, "transition") == [("validation_demandee", "valide_formation", None)]
    assert_one_set_of_emails(app, smtp_server, pk)


# --- the mission submitted ×6 ------------------------------------------------------------------

def test_the_mission_submitted_six_times_at_once(app, server, smtp_server, make_dossier,
                                                 no_tracebacks):
    pk = make_dossier("en_saisie", mission="Développer l'outil de suivi des stocks.")
    action = f"/admin/dossier/{pk}/mission/soumettre/"
    clients, pages = racers(server, [ACME] * RACERS, f"/admin/dossier/{pk}/mission/")
    forms = [form_fields(page, action) for page in pages]
    answers = at_once([lambda c=c, f=f: c.post(action, f) for c, f in zip(clients, forms)])
    statuses = sorted(a.status for a in answers)
    assert statuses == [302] + [409] * (RACERS - 1), statuses
    assert all(french_conflict(a) for a in answers if a.status != 302)
    assert [c for _, _, c in history(app, pk, "mission")] == ["Mission soumise au responsable"]
    rows = outbox(app, pk)
    assert len(rows) == 1 and "mission à valider" in rows[0][1], rows
    delivered_once(app, smtp_server, OutboxEmail.dossier_id == pk)
    with app.app_context():
        assert db.session.get(Dossier, pk).mission.status == "soumise"


# --- one new address registered ×6 ------------------------------------------------------------

def _registration(client, email):
    page = client.get("/inscription").text
    token = re.search(r'name="reg-csrf_token"[^>]*value="([^"]+)"', page).group(1)
    return {"reg-csrf_token": token, "reg-code": CODE, "reg-first_name": "Nina",
            "reg-last_name": "Course", "reg-email": email, "reg-birth_date": "02/03/2004"}


def test_one_new_address_registered_six_times_at_once(app, server, smtp_server, no_tracebacks):
    email = f"inscrite.{tag()}@test.sillon.demo"
    clients = [Client(server.url) for _ in range(RACERS)]
    forms = [_registration(client, email) for client in clients]
    answers = at_once([lambda c=c, f=f: c.post("/inscription", f)
                       for c, f in zip(clients, forms)])
    # The page answers the same whether the address was new or not (nothing to learn from it).
    assert [a.status for a in answers] == [200] * RACERS
    strip = lambda page: re.sub(r'(csrf_token"[^>]*value=")[^"]*', r"\1", page)  # noqa: E731
    assert len({strip(a.text) for a in answers}) == 1
    with app.app_context():
        accounts = db.session.execute(sa.select(User).where(
            sa.func.lower(User.email) == email)).scalars().all()
        assert len(accounts) == 1 and [r.role for r in accounts[0].roles] == ["alternant"]
        dossiers = db.session.execute(sa.select(Dossier.id).where(
            sa.func.lower(Dossier.apprenti_email) == email)).scalars().all()
        assert len(dossiers) == 1
        welcome = db.session.execute(sa.select(OutboxEmail.id).where(
            OutboxEmail.recipients == email, OutboxEmail.subject == WELCOME)).all()
        assert len(welcome) == 1
    rows = delivered_once(app, smtp_server, OutboxEmail.recipients == email)
    # Racers that found the account made meanwhile may tell its owner (at most once a day).
    assert sorted(s for _, s, _ in rows if s != WELCOME) in ([], [NOTICE_SUBJECT])


def test_a_registration_never_hangs_a_second_dossier_on_an_open_one(app, make_dossier):
    """An open dossier of this address in the training, but no account (it was deleted): the
    registration creates nothing — no account, no second dossier, no e-mail — and the page
    answers as always."""
    pk = make_dossier("en_saisie")
    with app.app_context():
        dossier = db.session.get(Dossier, pk)
        email, code = dossier.apprenti_email, dossier.formation.access_code
    saved = {k: app.config[k] for k in ("REGISTRATION_MAX_PER_CODE", "REGISTRATION_MAX_PER_IP")}
    app.config.update(REGISTRATION_MAX_PER_CODE=100000, REGISTRATION_MAX_PER_IP=100000)
    try:
        client = app.test_client()
        page = client.get("/inscription").get_data(as_text=True)
        token = re.search(r'name="reg-csrf_token"[^>]*value="([^"]+)"', page).group(1)
        response = client.post("/inscription", data={
            "reg-csrf_token": token, "reg-code": code, "reg-first_name": "Nina",
            "reg-last_name": "Course", "reg-email": email.upper(),
            "reg-birth_date": "02/03/2004"})
    finally:
        app.config.update(saved)
    assert response.status_code == 200
    assert "Votre inscription est enregistrée" in html.unescape(response.get_data(as_text=True))
    with app.app_context():
        assert db.session.execute(sa.select(User.id).where(
            sa.func.lower(User.email) == email)).first() is None
        assert db.session.execute(sa.select(sa.func.count()).select_from(Dossier).where(
            Dossier.apprenti_email == email)).scalar_one() == 1
    assert [r for r, _ in outbox(app) if email in r] == []


# --- the same import confirmed ×6 --------------------------------------------------------------

def _import_batch(app, domain, rows):
    from portal.dossiers import imports
    header = "Nom;Prénom;E-mail;Date de naissance;SIRET de l'employeur;" \
             "E-mail du contact employeur;Début du contrat;Fin du contrat"
    lines = [header] + [f"Nom{i};Prénom{i};alt{i}@{domain};14/03/2004;;;01/09/2026;31/08/2028"
                        for i in range(rows)]
    with app.app_context():
        formation = db.session.execute(
            sa.select(Formation).join(Formation.responsables).where(User.email == RESP)
            .order_by(Formation.id)).scalars().first()
        batch = imports.create_batch(formation, db.session.get(User, uid(RESP)),
                                     "\r\n".join(lines).encode("utf-8"), "course.csv")
        db.session.commit()
        return formation.id, batch.id


def _forget(app, domain):
    with app.app_context():
        like = f"%@{domain}"
        ids = db.session.execute(sa.select(Dossier.id).where(
            Dossier.apprenti_email.like(like))).scalars().all()
        db.session.execute(sa.delete(OutboxEmail).where(OutboxEmail.dossier_id.in_(ids)))
        db.session.execute(sa.delete(OutboxEmail).where(OutboxEmail.recipients.like(like)))
        db.session.execute(sa.delete(Dossier).where(Dossier.id.in_(ids)))
        db.session.execute(sa.delete(User).where(User.email.like(like)))
        db.session.commit()


def test_the_same_import_confirmed_six_times_at_once(app, server, smtp_server, no_tracebacks):
    domain = f"import-{tag()}.test.sillon.demo"
    formation_id, batch_id = _import_batch(app, domain, rows=3)
    try:
        preview = f"/admin/formation/{formation_id}/import/{batch_id}/"
        clients, pages = racers(server, [RESP] * RACERS, preview)
        answers = at_once([lambda c=c, p=p: c.post(preview + "confirmer/",
                                                   {"csrf_token": csrf_from(p)})
                           for c, p in zip(clients, pages)])
        assert [a.status for a in answers] == [302] * RACERS
        flashes = [html.unescape(c.get(preview).text) for c in clients]
        # One confirmation starts the worker's import (issue 16); the others are told it runs
        # (or, if the worker was that quick, that it is done), and start nothing.
        assert sum("Import lancé" in page for page in flashes) == 1
        assert sum("Cet import est déjà en cours" in page or
                   "Cet import a déjà été confirmé" in page for page in flashes) == RACERS - 1
        end = time.monotonic() + 60
        while time.monotonic() < end:   # the server's task worker runs the import
            with app.app_context():
                if db.session.get(ImportBatch, batch_id).status == ImportBatch.CONFIRMED:
                    break
            time.sleep(0.2)
        with app.app_context():
            emails = db.session.execute(sa.select(Dossier.apprenti_email).where(
                Dossier.apprenti_email.like(f"%@{domain}"))).scalars().all()
            assert sorted(emails) == [f"alt{i}@{domain}" for i in range(3)]
            welcome = [r for r, s in outbox(app, subject=WELCOME) if r.endswith(domain)]
            assert sorted(welcome) == sorted(emails)
            assert db.session.get(ImportBatch, batch_id).status == ImportBatch.CONFIRMED
        delivered_once(app, smtp_server, OutboxEmail.recipients.like(f"%@{domain}"))
    finally:
        _forget(app, domain)


# --- the create form of one apprentice ×6 -------------------------------------------------------

@pytest.mark.parametrize("known", [False, True], ids=["new-address", "existing-account"])
def test_the_create_form_of_one_apprentice_six_times_at_once(app, server, smtp_server, known,
                                                             no_tracebacks):
    """A new address: the accounts' unique e-mail and the dossiers' unique index both stand
    between the racers. An apprentice who already uses Sillon: only the index (one open dossier
    per apprentice and training) does. Either way one dossier, five French 409 answers; and a
    seventh creation, later, is refused the same way."""
    domain = f"saisie-{tag()}.test.sillon.demo"
    email = f"alt@{domain}"
    try:
        if known:
            with app.app_context():
                person = User(email=email, active=True, first_name="Déjà", last_name="Inscrite")
                person.set_password("un-mot-de-passe-choisi")
                person.must_change_password = False
                person.roles.append(UserRole(role="alternant"))
                db.session.add(person)
                db.session.commit()
        clients, pages = racers(server, [RESP] * RACERS, "/admin/dossier/new/")
        with app.app_context():
            formation_id = db.session.execute(
                sa.select(Formation.id).join(Formation.responsables).where(User.email == RESP)
                .order_by(Formation.id)).scalars().first()

        def creation(page):
            return {"csrf_token": csrf_from(page), "formation": str(formation_id),
                    "niveau_saisie": "complete", "dispositif": "apprentissage",
                    "apprenti_nom": "Double", "apprenti_prenom": "Saisie",
                    "apprenti_email": email.upper() if known else email}
        answers = at_once([lambda c=c, f=creation(p): c.post("/admin/dossier/new/", f)
                           for c, p in zip(clients, pages)])
        statuses = sorted(a.status for a in answers)
        assert statuses == [302] + [409] * (RACERS - 1), statuses
        with app.app_context():
            numbers = db.session.execute(sa.select(Dossier.id).where(
                Dossier.apprenti_email == email)).scalars().all()
        assert len(numbers) == 1
        refusal = f"{email} a déjà un dossier en cours dans cette formation " \
                  f"(dossier n° {numbers[0]}) : aucun dossier n'a été créé."
        later = clients[0].post("/admin/dossier/new/", creation(clients[0].get(
            "/admin/dossier/new/").text))
        for answer in [a for a in answers if a.status == 409] + [later]:
            page = html.unescape(answer.text)
            assert answer.status == 409 and page.count(refusal) == 2, page[:3000]  # flash + field
        subject = f"[Sillon] Accès au dossier n° {numbers[0]}" if known else WELCOME
        assert len([r for r, s in outbox(app, subject=subject) if r == email]) == 1
        assert [s for _, s, _ in delivered_once(app, smtp_server,
                                                OutboxEmail.recipients == email)] == [subject]
    finally:
        _forget(app, domain)


def test_an_apprentice_found_by_their_account_has_one_dossier(app, login, make_dossier):
    """The apprentice changed their address in « Mon compte »: their dossier still names the
    old one. A dossier typed with the new address is the same apprentice — refused (409)."""
    from tests.support.web import csrf
    pk = make_dossier("en_saisie")
    new = f"nouvelle.{tag()}@test.sillon.demo"
    with app.app_context():
        person = User(email=new, active=True)
        person.roles.append(UserRole(role="alternant"))
        dossier = db.session.get(Dossier, pk)
        dossier.apprentice_user = person
        formation_id = dossier.formation_id
        db.session.commit()
        person_id = person.id
    try:
        client = login(RESP)
        response = client.post("/admin/dossier/new/", data={
            "csrf_token": csrf(client), "formation": str(formation_id),
            "niveau_saisie": "complete", "dispositif": "apprentissage",
            "apprenti_email": new})
        page = html.unescape(response.get_data(as_text=True))
        assert response.status_code == 409
        assert f"{new} a déjà un dossier en cours dans cette formation (dossier n° {pk})" in page
        with app.app_context():
            assert db.session.execute(sa.select(sa.func.count()).select_from(Dossier).where(
                Dossier.apprentice_user_id == person_id)).scalar_one() == 1
    finally:
        with app.app_context():
            db.session.get(Dossier, pk).apprentice_user_id = None
            db.session.execute(sa.delete(UserRole).where(UserRole.user_id == person_id))
            db.session.execute(sa.delete(User).where(User.id == person_id))
            db.session.commit()


def test_a_dossier_is_not_given_the_address_of_another_open_one(app, make_dossier):
    """Données de base: typing, for an apprentice, the address of another open dossier of the
    training is refused next to the field (nothing written), not left to the unique index."""
    from flask_login import login_user
    from portal.dossiers import service, tabs
    first, second = make_dossier("en_saisie"), make_dossier("en_saisie")
    with app.test_request_context("/admin/"):
        user = db.session.execute(sa.select(User).where(User.email == RESP)).scalar_one()
        login_user(user)
        taken = db.session.get(Dossier, first).apprenti_email
        dossier = db.session.get(Dossier, second)
        before = (dossier.apprenti_email, dossier.version)
        with pytest.raises(service.Duplicate) as refused:
            service.apply_changes(dossier, {"apprenti_email": taken.upper()}, by=user,
                                  source="tab", tab=tabs.get_tab("base"))
        db.session.rollback()
    assert refused.value.errors == {"apprenti_email": f"{taken} a déjà un dossier en cours "
                                    f"dans cette formation (dossier n° {first}) : rien n'a "
                                    "été enregistré."}
    with app.app_context():
        again = db.session.get(Dossier, second)
        assert (again.apprenti_email, again.version) == before


# --- one tab saved ×6 --------------------------------------------------------------------------

def test_one_tab_saved_six_times_at_once(app, server, make_dossier, no_tracebacks):
    """Six people save the mission tab from the same version of the page: one is saved, the
    five others are told in French that the dossier changed meanwhile (409), their input kept."""
    pk = make_dossier("en_saisie", mission="Première version de la mission.")
    path = f"/admin/dossier/{pk}/mission/"
    clients, pages = racers(server, [ACME] * RACERS, path)
    forms = [dict(form_fields(page, 'id="tab-form"'),
                  mission_description=f"Version n° {i} de la mission.")
             for i, page in enumerate(pages)]
    answers = at_once([lambda c=c, f=f: c.post(path, f) for c, f in zip(clients, forms)])
    statuses = sorted(a.status for a in answers)
    assert statuses == [302] + [409] * (RACERS - 1), statuses
    for i, answer in enumerate(answers):
        if answer.status == 409:
            page = html.unescape(answer.text)
            assert "modifié par une autre personne pendant votre saisie" in page
            assert f"Version n° {i} de la mission." in page  # the input is kept
    saved = [i for i, a in enumerate(answers) if a.status == 302]
    entries = history(app, pk, "field")
    assert len(entries) == 1
    with app.app_context():
        assert db.session.get(Dossier, pk).mission.description == \
            f"Version n° {saved[0]} de la mission."


# --- the constraints themselves (the schema the migrations build) -------------------------------

def test_final_states_of_the_unique_index_are_the_tables():
    from portal.dossiers.workflow import FINAL_STATES
    from portal.models.dossiers import OPEN_DOSSIER
    listed = set(re.findall(r"'([a-z_]+)'", OPEN_DOSSIER))
    assert listed == set(FINAL_STATES)
    migration = Path(__file__).resolve().parent.parent / "migrations/versions/0004_hardening.py"
    assert OPEN_DOSSIER.replace("'", "") in migration.read_text(encoding="utf-8").replace("'", "")


def _insert(app, *rows):
    with app.app_context():
        try:
            for row in rows:
                db.session.add(row)
                db.session.flush()
        except sa.exc.IntegrityError:
            return "refused"
        finally:
            db.session.rollback()
    return "accepted"


def test_the_schema_refuses_a_second_account_of_one_address_in_any_case(app):
    email = f"casse.{tag()}@test.sillon.demo"
    assert _insert(app, User(email=email), User(email=email.upper())) == "refused"
    assert _insert(app, User(email=email), User(email="autre." + email)) == "accepted"


@pytest.mark.parametrize("first_state, second_state, outcome", [
    ("en_saisie", "initialise", "refused"),
    ("envoye_opco", "initialise", "refused"),
    ("annule", "initialise", "accepted"),     # a cancelled dossier does not count
    ("rompu", "initialise", "accepted"),      # a new contract after a rupture
    ("annule", "rompu", "accepted"),
])
def test_one_open_dossier_per_apprentice_and_training(app, first_state, second_state, outcome):
    email = f"unique.{tag()}@test.sillon.demo"
    with app.app_context():
        trainings = db.session.execute(sa.select(Formation.id).order_by(Formation.id)
                                       ).scalars().all()[:2]

    def dossier(state, training=trainings[0], address=email):
        return Dossier(formation_id=training, apprenti_email=address, state=state)
    assert _insert(app, dossier(first_state), dossier(second_state, address=email.upper())) \
        == outcome
    # Another training, or another apprentice: always accepted.
    assert _insert(app, dossier(first_state), dossier(second_state, training=trainings[1])) \
        == "accepted"
    assert _insert(app, dossier(first_state), dossier(second_state, address="x" + email)) \
        == "accepted"


# --- a page older than the dossier -------------------------------------------------------------

def test_a_transition_or_mission_step_posted_from_an_older_page_is_a_conflict(app, login,
                                                                            make_dossier):
    """A form that sends the version its page showed (`_version`) is refused with 409 when the
    dossier changed since, even if the action is still possible; without it, as before."""
    from tests.support.web import csrf
    pk = make_dossier("validation_demandee")
    client = login(RESP)
    with app.app_context():
        version = db.session.get(Dossier, pk).version
    url = f"/admin/dossier/{pk}/transition/valider_formation/"
    response = client.post(url, data={"csrf_token": csrf(client), "_version": version - 1})
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 409 and CONFLICT_TITLE in page and ALREADY in page
    assert f'href="/admin/dossier/{pk}/suivi/"' in page  # the way back to the dossier
    assert history(app, pk, "transition") == []
    response = client.post(url, data={"csrf_token": csrf(client), "_version": version})
    assert response.status_code == 302
    assert history(app, pk, "transition") == [("validation_demandee", "valide_formation", None)]
    mission = make_dossier("en_saisie", mission="Une mission à soumettre.")
    acme = login(ACME)
    with app.app_context():
        version = db.session.get(Dossier, mission).version
    url = f"/admin/dossier/{mission}/mission/soumettre/"
    assert acme.post(url, data={"csrf_token": csrf(acme), "_version": version + 1}
                     ).status_code == 409
    assert acme.post(url, data={"csrf_token": csrf(acme), "_version": version}
                     ).status_code == 302
    assert acme.post(url, data={"csrf_token": csrf(acme)}).status_code == 409  # done already
