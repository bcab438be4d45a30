"""The import's confirmation in the background worker (issue 16, part 3): 20 000 rows through
the worker in batches of rows, the progress on the batch's page and its JSON, the manager's
e-mail through the real SMTP server, every dossier created once, nothing twice on a retry (the
task run again, the batch confirmed again, a batch of rows failing in the middle on a value the
database refuses), the double POST refused in French, other managers and trainings kept out.

The worker is real: the Huey task is taken from the app's queue and executed as the consumer
executes it (tests.test_import.run_worker), or run by the `smtp` fixture's consumer."""
from __future__ import annotations

import html as h
import re
import threading
import time

import pytest
import sqlalchemy as sa

from portal.dossiers.import_batches import BATCH_ROWS
from portal.rules.imports import MAX_ROWS
from tests.support.web import csrf, csrf_from
from tests.test_accounts import mails_to
from tests.test_import import (DOMAIN, _batch_id, _confirm, _count, _csv, _dossiers, _mail,
                               _preview, run_worker, training)  # noqa: F401


def _rows(training, count: int, *, start: int = 0, broken: int | None = None):
    """``count`` valid rows (no employer contact: one account each); the row of index
    ``broken`` is named « Panne », which the trigger of _refusing_trigger refuses."""
    return [["Panne" if i == broken else f"Nom{i}", f"Prénom{i}", _mail(training, f"bg{i}"),
             "14/03/2004", training["siret"] if i % 2 == 0 else "", "", "01/09/2026",
             "31/08/2028"] for i in range(start, start + count)]


def _post_confirm(client, url: str):
    page = client.get(url).get_data(as_text=True)
    return client.post(url + "confirmer/", data={"csrf_token": csrf_from(page)})


def _page(client, url: str) -> str:
    return h.unescape(client.get(url).get_data(as_text=True))


def _batch(app, url: str):
    from portal.extensions import db
    from portal.models import ImportBatch
    with app.app_context():
        batch = db.session.get(ImportBatch, _batch_id(url))
        db.session.expunge(batch)
        return batch


def _emails_of(app, training) -> list[str]:
    return [d.apprenti_email for d in _dossiers(app, training)]


def test_twenty_thousand_rows_through_the_worker(app, login, training, clean_outbox):
    from portal.extensions import db
    from portal.models import ImportBatch, OutboxEmail, User
    client = login(f"resp.info@{DOMAIN}")
    rows = _rows(training, MAX_ROWS)
    data = _csv(rows)
    assert len(data) < 3 * 1024 * 1024
    started = time.monotonic()
    url, html = _preview(client, training, data, "vingt-mille.csv")
    text = h.unescape(html)
    assert "20000 lignes lues" in re.sub(r"<[^>]+>", "", text)
    assert "Confirmer l'import de 20000 dossiers" in text
    assert 'id="preview-partial"' in text and "<tr data-line" not in text  # counted, not listed
    assert len(html) < 50_000

    assert _post_confirm(client, url).status_code == 302
    page = _page(client, url)
    assert "Import lancé" in page and 'id="import-running"' in page
    assert 'id="import-progress-bar"' in page and 'aria-valuemax="20000"' in page
    assert "/static/js/import_progress.js" in page and "<script>" not in page
    assert client.get(url + "progression").get_json()["rows_done"] == 0

    # The worker runs; the page's JSON is polled meanwhile and its counts move.
    worker = threading.Thread(target=run_worker, args=(app, url), kwargs={"timeout": 300})
    worker.start()
    seen = []
    while worker.is_alive():
        progress = client.get(url + "progression").get_json()
        seen.append((progress["rows_done"], progress["created"], progress["status"]))
        time.sleep(0.3)
    worker.join()
    final = client.get(url + "progression").get_json()
    assert final == {"status": "confirme", "label": "confirmé", "rows_done": 20000,
                     "rows_total": 20000, "created": 20000, "percent": 100, "error": None}
    moving = sorted({done for done, _, status in seen if status == "en_cours" and
                     0 < done < 20000})
    assert moving, seen  # seen between batches of rows
    assert all(done % BATCH_ROWS == 0 for done in moving)
    assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen)  # never backwards
    elapsed = time.monotonic() - started
    assert elapsed < 120, elapsed

    # Every dossier once, every apprentice with one account and one invitation.
    emails = _emails_of(app, training)
    assert len(emails) == 20000 and set(emails) == {r[2] for r in rows}
    with app.app_context():
        domain = f"%@{training['domain']}"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)
                                 .where(User.email.like(domain))) == 20000
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxEmail).where(
            OutboxEmail.recipients.like(domain),
            OutboxEmail.subject == "Bienvenue sur Sillon")) == 20000
        batch = db.session.get(ImportBatch, _batch_id(url))
        assert (batch.status, batch.row_count, batch.error_count, batch.created_count,
                batch.last_line) == ("confirme", 20000, 0, 20000, 20001)
        notice = db.session.execute(sa.select(OutboxEmail).where(
            OutboxEmail.recipients == f"resp.info@{DOMAIN}",
            OutboxEmail.subject == "[Sillon] Import « vingt-mille.csv » terminé")).scalar_one()
        assert "20000 dossiers créés sur 20000 lignes" in notice.body_text
        assert f"/admin/formation/{training['id']}/import/{batch.id}/" in notice.body_text
    page = _page(client, url)
    assert 'id="import-done"' in page and "20000 dossiers créés sur 20000 lignes" in page
    assert "import_progress.js" not in page


def test_the_manager_is_mailed_and_the_invitations_are_sent(app, login, training, smtp):
    """Through the real SMTP server and the real consumer: the apprentices' invitations (one
    template rendering per batch: same text as one rendered alone) and the manager's e-mail
    with the counts and the link to the batch's page."""
    client = login(f"resp.info@{DOMAIN}")
    rows = _rows(training, 12)
    rows.append(["Sans", "Courriel", "pas-un-email", "", "", "", "01/09/2026", "31/08/2028"])
    url, _ = _preview(client, training, _csv(rows), "douze.csv")
    assert _post_confirm(client, url).status_code == 302
    run_worker(app, url)
    smtp.worker.drain()
    [notice] = [m for m in mails_to(smtp, f"resp.info@{DOMAIN}")
                if m["Subject"] == "[Sillon] Import « douze.csv » terminé"]
    text = smtp.text_of(notice)
    assert "12 dossiers créés sur 13 lignes" in text and "1 ligne refusée" in text
    assert "Voir l'import : http" in text
    assert f"/admin/formation/{training['id']}/import/{_batch_id(url)}/" in text
    for i, dossier in enumerate(_dossiers(app, training)):
        [welcome] = mails_to(smtp, dossier.apprenti_email)
        body = smtp.text_of(welcome)
        assert welcome["Subject"] == "Bienvenue sur Sillon"
        assert f"Bonjour {dossier.apprenti_prenom}," in body
        assert f"Dossier n° {dossier.id} – {dossier.apprenti_nom.upper()} " \
               f"{dossier.apprenti_prenom} – {training['label']}." in body
        password = re.search(r"mot de passe provisoire : (\S+)", body).group(1)
        assert re.fullmatch(r"([a-z2-9]{4}-){4}[a-z2-9]{4}", password)
        assert f"login?email={dossier.apprenti_email.replace('@', '%40')}" in body


def test_bulk_rendering_matches_one_rendering(app, training):
    """The invitation of portal.mail.bulk (rendered once, values put in) is the e-mail
    outbox.queue renders for the same person, text and HTML, with characters to escape."""
    from portal.extensions import db
    from portal.mail import bulk
    from portal.mail.outbox import queue
    from portal.models import Formation, User
    with app.test_request_context():
        formation = db.session.get(Formation, training["id"])
        by = db.session.execute(sa.select(User).filter_by(email=f"resp.info@{DOMAIN}")).scalar_one()
        person = User(email="o'brien+x@exemple.fr", first_name="Zoé <b>&")

        class D:  # what the templates read of a dossier
            id = 42
            apprenti_nom_complet = "O'BRIEN Zoé <b>&"

        D.formation = formation
        link = "https://sillon.test/login?email=o%27brien&next=/admin/dossier/42/"
        reference = queue(person.email, "bienvenue", "Bienvenue sur Sillon", user=person,
                          dossier=D, invited_by=by, reason="le dossier de « Zoé & Cie »",
                          password="abcd-efgh", login_link=link)
        mail = bulk.BulkMail()
        for _ in range(2):
            made = mail.add(person.email, "bienvenue", shape=(True,), context=dict(
                user=bulk.tokens("first_name", "email"),
                dossier=type("T", (), dict(id=bulk.token("dossier_id"),
                                           apprenti_nom_complet=bulk.token("apprentice"),
                                           formation=formation)),
                invited_by=by, reason=bulk.token("reason"), login_link=bulk.token("login_link"),
                password=bulk.token("password"), subject=bulk.token("subject")),
                values=dict(first_name=person.first_name, email=person.email, dossier_id=42,
                            apprentice=D.apprenti_nom_complet, login_link=link,
                            reason="le dossier de « Zoé & Cie »", password="abcd-efgh",
                            subject="Bienvenue sur Sillon"), dossier_id=None)
            assert made.body_text == reference.body_text
            assert made.body_html == reference.body_html
        assert len(mail._rendered) == 1
        db.session.rollback()


def test_double_post_refused_then_the_task_run_again_creates_nothing(app, login, training,
                                                                       clean_outbox):
    from portal.extensions import db
    from portal.models import ImportBatch, OutboxEmail
    owner, helper = login(f"resp.info@{DOMAIN}"), login(f"gest.info@{DOMAIN}")
    rows = _rows(training, 30)
    url, html = _preview(owner, training, _csv(rows), "trente.csv")
    huey = app.extensions["sillon_tasks"].huey
    queued = huey.pending_count()
    first = owner.post(url + "confirmer/", data={"csrf_token": csrf_from(html)})
    second = owner.post(url + "confirmer/", data={"csrf_token": csrf_from(html)})  # double click
    third = helper.post(url + "confirmer/", data={"csrf_token": csrf(helper)})
    assert [r.status_code for r in (first, second, third)] == [302, 302, 302]
    assert "Cet import est déjà en cours" in _page(owner, url)
    assert "Cet import est déjà en cours" in _page(helper, url)
    assert huey.pending_count() == queued + 1  # one task, whatever was posted
    run_worker(app, url)
    assert _post_confirm(owner, url).status_code == 302
    assert "Cet import a déjà été confirmé" in _page(owner, url)
    assert huey.pending_count() == 0
    assert sorted(_emails_of(app, training)) == sorted(r[2] for r in rows)

    # The task run again (huey's retry, a second consumer): the batch is done, nothing to do.
    task = app.extensions["sillon_tasks"].run_import
    assert task.call_local(_batch_id(url)) == "confirme"
    # Even a batch put back « en cours » from its first line (a worker that died before
    # recording its progress) recognises every row: already in the training, none twice.
    with app.app_context():
        outbox = db.session.scalar(sa.select(sa.func.count()).select_from(OutboxEmail))
        db.session.execute(sa.update(ImportBatch).where(ImportBatch.id == _batch_id(url))
                           .values(status="en_cours", last_line=0, rows_done=0,
                                   created_count=0, outcome=None))
        db.session.commit()
    assert task.call_local(_batch_id(url)) == "confirme"
    assert sorted(_emails_of(app, training)) == sorted(r[2] for r in rows)
    batch = _batch(app, url)
    assert (batch.created_count, batch.error_count) == (0, 30)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxEmail).where(
            OutboxEmail.subject == "Bienvenue sur Sillon",
            OutboxEmail.recipients.like(f"%@{training['domain']}"))) == 30
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxEmail)) == \
            outbox + 1  # the manager's second notice only


@pytest.fixture()
def refusing_trigger(app, db_backend):
    """The database refuses a dossier named « Panne » (a value that violates a constraint at
    insert, as the data may): a trigger, removed after the test (or by calling the fixture)."""
    from portal.extensions import db
    if db_backend == "sqlite":
        create = ["CREATE TRIGGER tr_test_panne BEFORE INSERT ON dossiers "
                  "WHEN NEW.apprenti_nom = 'Panne' "
                  "BEGIN SELECT RAISE(ABORT, 'valeur refusée : Panne'); END"]
        drop = ["DROP TRIGGER IF EXISTS tr_test_panne"]
    else:
        create = ["CREATE FUNCTION f_test_panne() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                  "IF NEW.apprenti_nom = 'Panne' THEN RAISE EXCEPTION 'valeur refusée : Panne' "
                  "USING ERRCODE = 'check_violation'; END IF; RETURN NEW; END $$",
                  "CREATE TRIGGER tr_test_panne BEFORE INSERT ON dossiers FOR EACH ROW "
                  "EXECUTE FUNCTION f_test_panne()"]
        drop = ["DROP TRIGGER IF EXISTS tr_test_panne ON dossiers",
                "DROP FUNCTION IF EXISTS f_test_panne()"]

    def run(statements):
        with app.app_context():
            for statement in statements:
                db.session.execute(sa.text(statement))
            db.session.commit()

    run(create)
    yield lambda: run(drop)
    run(drop)


def test_a_batch_of_rows_failing_in_the_middle_then_confirmed_again(
        app, login, training, clean_outbox, refusing_trigger):
    from portal.extensions import db
    from portal.models import ImportBatch, OutboxEmail, User
    total, broken = 2 * BATCH_ROWS + 100, BATCH_ROWS + 200  # in the second batch of rows
    rows = _rows(training, total, broken=broken)
    client = login(f"resp.info@{DOMAIN}")
    url, _ = _preview(client, training, _csv(rows), "panne.csv")
    assert _post_confirm(client, url).status_code == 302
    run_worker(app, url)

    batch = _batch(app, url)
    assert batch.status == ImportBatch.FAILED
    assert (batch.last_line, batch.rows_done, batch.created_count) == \
        (BATCH_ROWS + 1, BATCH_ROWS, BATCH_ROWS)
    assert batch.error_message.startswith(
        f"L'import s'est arrêté (lignes {BATCH_ROWS + 2} à {2 * BATCH_ROWS + 1}) : ")
    assert f"Aucun dossier de ces lignes n'a été créé ; {BATCH_ROWS} dossiers des lignes " \
           "précédentes sont créés. Confirmez à nouveau pour reprendre" in batch.error_message
    # The first batch of rows is kept whole; nothing of the failed one (dossiers, accounts,
    # e-mails: one transaction).
    assert sorted(_emails_of(app, training)) == sorted(r[2] for r in rows[:BATCH_ROWS])
    domain = f"%@{training['domain']}"
    assert _count(app, User, User.email.like(domain)) == BATCH_ROWS
    assert _count(app, OutboxEmail, OutboxEmail.recipients.like(domain)) == BATCH_ROWS
    page = _page(client, url)
    assert "Import arrêté sur une erreur." in page and "Reprendre l'import" in page
    assert client.get(url + "progression").get_json()["status"] == "erreur"
    with app.app_context():
        notice = db.session.execute(sa.select(OutboxEmail.body_text).where(
            OutboxEmail.subject == "[Sillon] Import « panne.csv » arrêté sur une erreur")
        ).scalar_one()
        assert "s'est arrêté sur une erreur" in notice

    # Confirmed again, still refused: the same batch of rows fails again, nothing more.
    assert _post_confirm(client, url).status_code == 302
    run_worker(app, url)
    assert _batch(app, url).status == ImportBatch.FAILED
    assert len(_emails_of(app, training)) == BATCH_ROWS

    # The cause removed, confirmed again: it resumes after the last committed row.
    refusing_trigger()
    assert _post_confirm(client, url).status_code == 302
    run_worker(app, url)
    batch = _batch(app, url)
    assert (batch.status, batch.created_count, batch.rows_done, batch.error_count) == \
        ("confirme", total, total, 0)
    emails = _emails_of(app, training)
    assert len(emails) == total and set(emails) == {r[2] for r in rows}
    assert _count(app, User, User.email.like(domain)) == total
    assert _count(app, OutboxEmail, OutboxEmail.recipients.like(domain),
                  OutboxEmail.subject == "Bienvenue sur Sillon") == total
    assert "1100 dossiers créés" in _page(client, url)


def test_other_managers_and_trainings_do_not_reach_the_batch(app, login, training):
    from tests.test_import import _drop_training, _make_training
    owner = login(f"resp.info@{DOMAIN}")
    url, html = _preview(owner, training, _csv(_rows(training, 2)), "deux.csv")
    other = login(f"resp.droit@{DOMAIN}")
    for path in ("", "progression"):
        assert other.get(url + path).status_code == 404
    assert other.post(url + "confirmer/", data={"csrf_token": csrf(other)}).status_code == 404
    second = _make_training(app)
    try:
        moved = url.replace(f"/formation/{training['id']}/", f"/formation/{second['id']}/")
        assert owner.get(moved + "progression").status_code == 404
        assert owner.post(moved + "confirmer/",
                          data={"csrf_token": csrf_from(html)}).status_code == 404
    finally:
        _drop_training(app, second)
    assert _batch(app, url).status == "apercu" and _dossiers(app, training) == []
    employer = login(f"rh@acme.{DOMAIN}")
    assert employer.get(url + "progression").status_code in (403, 404)


def test_an_import_whose_worker_died_is_queued_again_by_the_sweep(app, login, training,
                                                                   clean_outbox):
    """The worker died after committing the first batch of rows (its task is gone, the import
    still « en cours »): the periodic sweep queues it again once its progress has not moved
    for STALE_MINUTES, and the rows are created exactly once."""
    from portal.dossiers import import_batches
    from portal.dossiers.imports import preview
    from portal.extensions import db
    from portal.models import ImportBatch, OutboxEmail, User
    from portal.tasks import sweep_stale_imports
    total = BATCH_ROWS + 40
    rows = _rows(training, total)
    client = login(f"resp.info@{DOMAIN}")
    url, _ = _preview(client, training, _csv(rows), "mort.csv")
    batch_id = _batch_id(url)
    queue = app.extensions["sillon_tasks"]
    huey = queue.huey
    queue.huey.get(import_batches.progress_key(batch_id))  # no progress seen before (a reused id)
    assert _post_confirm(client, url).status_code == 302
    # The worker takes the task and dies after its first batch of rows: what it committed is
    # the real first step of run().
    dropped = []
    while (task := huey.dequeue()) is not None:
        dropped.append(task.name)
    assert any(name.endswith("run_import") for name in dropped)
    with app.app_context():
        batch = db.session.get(ImportBatch, batch_id)
        results = preview(batch.formation, bytes(batch.content), batch.filename)
        by, formation_id = batch.confirmed_by, batch.formation_id
        state = {"last": 0, "done": 0, "filename": batch.filename, "created": 0,
                 "refused": [], "unconfirmed": []}
        db.session.commit()
        assert import_batches._commit_rows(batch_id, formation_id, by, results[:BATCH_ROWS],
                                           frozenset(), state)
    batch = _batch(app, url)
    assert (batch.status, batch.created_count, batch.last_line) == \
        (ImportBatch.RUNNING, BATCH_ROWS, BATCH_ROWS + 1)

    start = time.time()
    stale_after = import_batches.STALE_MINUTES * 60
    with app.app_context():
        assert batch_id not in sweep_stale_imports(queue, now=start)  # first seen
        assert batch_id not in sweep_stale_imports(queue, now=start + stale_after - 1)
        assert batch_id in sweep_stale_imports(queue, now=start + stale_after)
        assert batch_id not in sweep_stale_imports(queue, now=start + stale_after + 1)
    run_worker(app, url)

    batch = _batch(app, url)
    assert (batch.status, batch.created_count, batch.rows_done, batch.error_count) == \
        (ImportBatch.CONFIRMED, total, total, 0)
    emails = _emails_of(app, training)
    assert len(emails) == total and set(emails) == {r[2] for r in rows}
    domain = f"%@{training['domain']}"
    assert _count(app, User, User.email.like(domain)) == total
    assert _count(app, OutboxEmail, OutboxEmail.recipients.like(domain),
                  OutboxEmail.subject == "Bienvenue sur Sillon") == total
    with app.app_context():  # done: never queued again
        assert batch_id not in sweep_stale_imports(queue, now=start + 10 * stale_after)


def test_the_rows_are_checked_once_from_the_upload_to_its_preview(app, login, training,
                                                                   monkeypatch):
    """The upload only reads the file (a file that cannot be read is refused there) and keeps
    it; the preview page it redirects to checks the rows: once in all, not once each."""
    from portal.dossiers import imports
    calls = []
    real = imports.check_rows

    def counted(rows, **kwargs):
        calls.append(len(rows))
        return real(rows, **kwargs)

    monkeypatch.setattr(imports, "check_rows", counted)
    client = login(f"resp.info@{DOMAIN}")
    url, html = _preview(client, training, _csv(_rows(training, 3)), "trois.csv")
    assert calls == [3]
    assert "Confirmer l'import de 3 dossiers" in h.unescape(html)
    batch = _batch(app, url)
    assert (batch.status, batch.row_count, batch.error_count) == ("apercu", 3, 0)
