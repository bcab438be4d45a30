"""E-mails are sent by the background worker (Huey), never inside a request: a silent SMTP
server costs a request nothing, the attempt times out (MAIL_TIMEOUT) and is retried; every
outbox row is claimed before sending, so concurrent senders deliver each e-mail exactly once;
the same holds with Redis as the queue and with `flask worker` in its own process."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.mail import outbox
from portal.models import OutboxEmail
from portal.models.people import utcnow
from portal.tasks import PARIS
from tests.support.postgres import wait_until
from tests.support.smtp import BlackHoleSmtp, SmtpServer, free_port
from tests.support.web import csrf_from
from tests.test_dossier_lifecycle import MANUAL, _fill, world  # noqa: F401  (fixture)
from tests.support.web import csrf
from tests.support.worker import RunningWorker

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def mail_to(app, port: int, timeout: float = 10.0):
    """Point the app's mail at 127.0.0.1:port with MAIL_TIMEOUT = timeout."""
    keys = ("MAIL_SERVER", "MAIL_PORT", "MAIL_TIMEOUT")
    saved = {k: app.config.get(k) for k in keys}
    state = app.extensions["mail"]
    saved_state = (state.server, state.port, state.suppress)
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_TIMEOUT=timeout)
    state.server, state.port, state.suppress = "127.0.0.1", port, False
    try:
        yield
    finally:
        app.config.update(saved)
        state.server, state.port, state.suppress = saved_state


def _queue(app, subject: str, to: str = "personne@exemple.fr") -> int:
    with app.test_request_context():
        email = outbox.queue([to], "information", subject, headline="Essai.", link=None,
                             actor=None, comment=None)
        db.session.commit()
        return email.id


def _rows(app):
    with app.app_context():
        rows = db.session.scalars(sa.select(OutboxEmail).order_by(OutboxEmail.id)).all()
        db.session.expunge_all()
        return rows


def _make_due(app):
    with app.app_context():
        db.session.execute(sa.update(OutboxEmail).where(OutboxEmail.sent_at.is_(None))
                           .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()


def _timed_post(client, url, data):
    started = time.perf_counter()
    response = client.post(url, data=data)
    return response, time.perf_counter() - started


def _delivered_once(server, rows):
    """Each outbox row reached the server exactly once (one Message-ID per row)."""
    ids = [m["Message-ID"] for _, m in server.handler.messages]
    counts = Counter(i.split(".", 1)[0] for i in ids)
    assert counts == {f"<outbox-{r.id}": 1 for r in rows}, (
        f"{len(ids)} deliveries for {len(rows)} e-mails: {dict(counts)}")


def _flask(app, database_url, port, *args, **env):
    full_env = dict(os.environ, FLASK_APP="wsgi.py", DATABASE_URL=database_url,
                    SILLON_INSTANCE_PATH=app.instance_path, MAIL_SERVER="127.0.0.1",
                    MAIL_PORT=str(port), **env)
    return subprocess.Popen([str(ROOT / ".venv" / "bin" / "flask"), *args], cwd=ROOT,
                            env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


# --- a server that accepts and never answers ---------------------------------------------------

def test_a_silent_smtp_server_never_holds_a_request(app, login, world, clean_outbox):
    hole = BlackHoleSmtp().start()
    worker = None
    try:
        with mail_to(app, hole.port, timeout=1.5):
            worker = RunningWorker.of(app).start()
            pk, siret = world(MANUAL)
            alice, _ = _fill(login, pk, siret, "2027-08-31")
            client = app.test_client()
            page = client.get("/mot-de-passe-oublie").get_data(as_text=True)
            reset, reset_time = _timed_post(client, "/mot-de-passe-oublie", {
                "email": "bruno@etu.sillon.demo", "csrf_token": csrf_from(page)})
            action, action_time = _timed_post(
                alice, f"/admin/dossier/{pk}/transition/demander_validation/",
                {"csrf_token": csrf(alice)})
            assert reset.status_code == 200 and action.status_code == 302
            assert reset_time < 1.0 and action_time < 1.0, (reset_time, action_time)
            worker.drain()  # every attempt timed out after MAIL_TIMEOUT
            rows = _rows(app)
            subjects = [r.subject for r in rows]
            assert any("nouveau mot de passe" in s for s in subjects), subjects
            assert any("validation demandée" in s for s in subjects), subjects
            assert hole.accepted >= len(rows)
            for row in rows:
                assert row.sent_at is None and row.attempts == 1, row.last_error
                assert "timed out" in row.last_error and row.claimed_by is None
            # Retried by the worker's sweep once the back-off is over: still silent.
            _make_due(app)
            app.extensions["sillon_tasks"].sweep_outbox()
            worker.drain()
            assert {r.attempts for r in _rows(app)} == {2}
        hole.stop()
        with mail_to(app, hole.port, timeout=1.5):
            server = SmtpServer(hole.port).start()
            try:
                _make_due(app)
                app.extensions["sillon_tasks"].sweep_outbox()
                worker.drain()
                rows = _rows(app)
                assert all(r.sent_at is not None and r.attempts == 3 for r in rows)
                # Later sweeps, the CLI and a stray task for an old id send nothing more.
                app.extensions["sillon_tasks"].sweep_outbox()
                app.extensions["sillon_tasks"].send_email(rows[0].id)
                worker.drain()
                result = app.test_cli_runner().invoke(args=["mail", "send-pending"])
                assert "0 e-mail(s) envoyé(s)" in result.output
                _delivered_once(server, rows)
            finally:
                server.stop()
    finally:
        hole.stop()  # first: a sender stuck on it (no timeout) sees the connection close
        if worker is not None:
            worker.stop()


def test_the_request_only_enqueues(app, clean_outbox):
    """With the SMTP server up but no worker running, nothing leaves during the request."""
    server = SmtpServer().start()
    try:
        with mail_to(app, server.port):
            client = app.test_client()
            page = client.get("/mot-de-passe-oublie").get_data(as_text=True)
            response = client.post("/mot-de-passe-oublie", data={
                "email": "alice@etu.sillon.demo", "csrf_token": csrf_from(page)})
            assert response.status_code == 200
            rows = _rows(app)
            assert len(rows) == 1 and rows[0].sent_at is None and rows[0].attempts == 0
            assert server.handler.messages == []
            worker = RunningWorker.of(app).start(flush=False)  # the task waited in the queue
            try:
                worker.drain()
                assert wait_until(lambda: len(server.handler.messages) == 1)
            finally:
                worker.stop()
            _delivered_once(server, _rows(app))
    finally:
        server.stop()


def test_ids_are_enqueued_when_the_outermost_transaction_commits(app, smtp):
    """Not at flush, not at a savepoint's release, not after a rollback: the worker never looks
    for a row that is not committed."""
    worker = smtp.worker
    with app.test_request_context():
        def one(subject):
            return outbox.queue(["personne@exemple.fr"], "information", subject,
                                headline="Essai.", link=None, actor=None, comment=None)
        one("Annulé")
        db.session.flush()
        db.session.rollback()
        assert worker.enqueued == 0
        first = one("Premier")
        db.session.flush()
        with db.session.begin_nested():
            second = one("Dans un point de sauvegarde")
        assert first.id and second.id and worker.enqueued == 0
        db.session.commit()
        assert worker.enqueued == 2
    assert sorted(m["Subject"] for _, m in smtp.messages) == [
        "Dans un point de sauvegarde", "Premier"]


def test_a_queue_that_is_down_costs_the_request_nothing(app, database_url, clean_outbox):
    """Redis unreachable: the request answers at once, the e-mail waits in the outbox, the
    sweep sends it."""
    from tests.conftest import make_app
    closed = free_port()
    server = SmtpServer().start()
    try:
        other = make_app(database_url, app.instance_path, MAIL_SERVER="127.0.0.1",
                         MAIL_PORT=server.port, TASK_QUEUE_URL=f"redis://127.0.0.1:{closed}/0")
        other.extensions["mail"].suppress = False
        client = other.test_client()
        page = client.get("/mot-de-passe-oublie").get_data(as_text=True)
        response, elapsed = _timed_post(client, "/mot-de-passe-oublie", {
            "email": "alice@etu.sillon.demo", "csrf_token": csrf_from(page)})
        assert response.status_code == 200 and elapsed < 1.0, elapsed
        assert [(r.sent_at, r.attempts) for r in _rows(other)] == [(None, 0)]
        with other.app_context():
            assert outbox.send_pending() == (1, 0)  # what the sweep runs
        _delivered_once(server, _rows(other))
    finally:
        server.stop()


# --- claims: concurrent senders, one delivery each ---------------------------------------------

def test_slow_server_and_concurrent_senders_deliver_each_email_once(app, database_url,
                                                                     clean_outbox):
    server = SmtpServer(delay=0.5).start()
    try:
        with mail_to(app, server.port):
            tag = uuid.uuid4().hex[:6]
            ids = [_queue(app, f"Concurrence {tag} n° {i}") for i in range(10)]
            cli = _flask(app, database_url, server.port, "mail", "send-pending")
            # The CLI is in its own process: let it claim its first e-mail, then everyone else.
            # (Importing the app takes a few seconds, more on a busy machine.)
            started = wait_until(lambda: any(r.claimed_by for r in _rows(app))
                                 or cli.poll() is not None, timeout=120)
            assert started and cli.poll() is None, cli.poll() is not None and cli.stdout.read()
            results, barrier = [], threading.Barrier(4)

            def sender():
                barrier.wait()
                with app.app_context():
                    results.append(outbox.send_pending())

            threads = [threading.Thread(target=sender) for _ in range(4)]
            for thread in threads:
                thread.start()
            worker = RunningWorker.of(app).start(flush=False)  # and the 10 enqueued tasks
            try:
                for thread in threads:
                    thread.join(timeout=60)
                output, _ = cli.communicate(timeout=60)
                worker.drain()
            finally:
                worker.stop()
        assert cli.returncode == 0, output
        rows = [r for r in _rows(app) if r.id in ids]
        _delivered_once(server, rows)
        assert all(r.sent_at is not None and r.attempts == 1 for r in rows)
        assert all(failed == 0 for _, failed in results)
        by_cli = int(re.search(r"(\d+) e-mail\(s\) envoyé\(s\), 0 en échec", output).group(1))
        assert by_cli >= 1 and sum(sent for sent, _ in results) + by_cli <= 10  # work shared
    finally:
        server.stop()


def test_a_live_claim_is_respected_and_an_abandoned_one_taken_over(app, smtp):
    pk = _queue(app, "Réservation")
    smtp.worker.drain()
    assert len(smtp.messages) == 1
    with app.app_context():
        lease = outbox.claim_lease()
        assert lease == timedelta(seconds=30 * app.config["MAIL_TIMEOUT"])
        db.session.execute(sa.update(OutboxEmail).where(OutboxEmail.id == pk).values(
            sent_at=None, claimed_at=utcnow(), claimed_by="un-autre-envoyeur"))
        db.session.commit()
        assert outbox.send_pending([pk]) == (0, 0)  # someone is sending it right now
        db.session.execute(sa.update(OutboxEmail).where(OutboxEmail.id == pk).values(
            claimed_at=utcnow() - lease - timedelta(seconds=1)))
        db.session.commit()
        assert outbox.send_pending([pk]) == (1, 0)  # that sender died: taken over
    assert len(smtp.messages) == 2


def test_a_server_stalling_after_accepting_is_not_sent_twice(app, clean_outbox):
    """DATA accepted, then QUIT times out: the e-mail counts as sent, never retried."""
    server = SmtpServer(quit_delay=2.0).start()
    try:
        with mail_to(app, server.port, timeout=0.5):
            pk = _queue(app, "Accepté puis silence")
            with app.app_context():
                assert outbox.send_pending([pk]) == (1, 0)
                _make_due(app)
                assert outbox.send_pending() == (0, 0)
        rows = _rows(app)
        assert rows[0].sent_at is not None and rows[0].last_error is None
        _delivered_once(server, rows)
    finally:
        server.stop()


# --- Redis, and `flask worker` in its own process ---------------------------------------------

@pytest.fixture()
def redis_url(tmp_path):
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1",
                                "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)

    def up():
        try:
            return client.ping()
        except redis.ConnectionError:
            return False
    try:
        assert wait_until(up), "redis-server did not start"
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_redis_queue_and_a_real_consumer_deliver_once(app, database_url, redis_url,
                                                       clean_outbox):
    from tests.conftest import make_app
    server = SmtpServer().start()
    try:
        other = make_app(database_url, app.instance_path, MAIL_SERVER="127.0.0.1",
                         MAIL_PORT=server.port, TASK_QUEUE_URL=redis_url)
        other.extensions["mail"].suppress = False
        huey = other.extensions["sillon_tasks"].huey
        assert type(huey).__name__ == "RedisHuey"
        worker = RunningWorker(huey).start()
        try:
            pk = _queue(other, "Par Redis")
            worker.drain()
            assert wait_until(lambda: len(server.handler.messages) == 1)
            assert worker.enqueued == 1 and huey.pending_count() == 0
        finally:
            worker.stop()
        _delivered_once(server, _rows(other))
        assert _rows(other)[0].id == pk
    finally:
        server.stop()


def test_flask_worker_process_sweeps_and_sends(app, database_url, clean_outbox):
    server = SmtpServer().start()
    try:
        before = _queue(app, "Avant le worker")  # no MAIL_SERVER: not enqueued, the sweep sends it
        hour = (datetime.now(PARIS).hour + 12) % 24  # the daily digest stays out of the way
        worker = _flask(app, database_url, server.port, "worker", REMINDERS_HOUR=str(hour))
        try:
            assert wait_until(lambda: len(server.handler.messages) == 1, timeout=30)
            with mail_to(app, server.port):
                after = _queue(app, "Pendant le worker")  # enqueued at commit
                assert wait_until(lambda: len(server.handler.messages) == 2, timeout=30)
        finally:
            worker.send_signal(signal.SIGTERM)
            output, _ = worker.communicate(timeout=30)
        assert worker.returncode == 0, output
        assert "sweep_outbox" in output and "send_email" in output
        rows = _rows(app)
        assert [r.id for r in rows] == [before, after]
        _delivered_once(server, rows)
    finally:
        server.stop()
