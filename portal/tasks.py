"""Background work on Huey: outbox e-mails, their retry sweep, the daily reminders, the
hourly fold of the dossiers' tally.

Why Huey (rather than RQ or Dramatiq): small and well kept, with an embedded storage that
needs no server (SqliteHuey: a file in the instance folder, the default for `make run`) and
Redis for production (RedisHuey, Debian's redis-server), periodic tasks built in (the retry
sweep, the daily digest) and thread workers (sending e-mail waits on the network, not the CPU).
RQ always needs Redis; Dramatiq needs a broker and a separate scheduler.

TASK_QUEUE_URL picks the storage: `sqlite:///path` (default `instance/tasks.sqlite3`) or
`redis://host:port/db`. The web process only *enqueues ids*, after its transaction committed
(SQLAlchemy's after_commit: the worker always finds the row). Enqueuing costs at most
TASK_QUEUE_TIMEOUT and never raises into the request: if the queue is down, the outbox row
stays and the sweep sends it within a minute. `flask worker` runs the consumer.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from huey import Huey, RedisHuey, SqliteHuey, crontab
from sqlalchemy import event

from portal.extensions import db
from portal.mail.bulk import PENDING_OUTBOX
from portal.mail.outbox import send_one, send_pending
from portal.mail.reminders import send_digests
from portal.models import OutboxEmail
from portal.models.tallies import fold_dossier_tally

log = logging.getLogger(__name__)

PARIS = ZoneInfo("Europe/Paris")
SWEEP_LIMIT = 200
_PENDING = PENDING_OUTBOX  # Session.info key: outbox ids written in this transaction
_IMPORTS = "sillon_import_ids"  # Session.info key: imports confirmed in this transaction
# (the same key as portal.dossiers.import_batches.PENDING_IMPORTS)


@dataclass
class TaskQueue:
    """What create_app keeps in app.extensions["sillon_tasks"]."""
    huey: Huey
    send_email: object  # huey TaskWrapper: send_email(outbox_id)
    sweep_outbox: object  # periodic, every minute
    daily_reminders: object  # periodic, REMINDERS_DAYS at REMINDERS_HOUR:00 (Paris)
    run_import: object = None  # huey TaskWrapper: run_import(batch_id)
    fold_tally: object = None  # periodic, every hour at :17 (portal.models.tallies)

    def enqueue_emails(self, ids) -> None:
        for pk in sorted(ids):
            self.send_email(pk)

    def enqueue_imports(self, ids) -> None:
        for pk in sorted(ids):
            self.run_import(pk)


def make_huey(url: str, timeout: float) -> Huey:
    """The queue named by TASK_QUEUE_URL, whose operations wait at most about `timeout`."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        from redis import ConnectionPool
        from redis.backoff import NoBackoff
        from redis.retry import Retry
        # The consumer blocks up to 1 s in BRPOP (huey's read_timeout): the socket waits a
        # little longer; one retry replaces a pooled connection a Redis restart closed.
        pool = ConnectionPool.from_url(url, socket_connect_timeout=timeout,
                                       socket_timeout=timeout + 1.0,
                                       retry=Retry(NoBackoff(), 1))
        return RedisHuey("sillon", connection_pool=pool, results=False)
    if url.startswith("sqlite:///"):
        return SqliteHuey("sillon", filename=url[len("sqlite:///"):], timeout=timeout,
                          results=False)
    raise ValueError(f"TASK_QUEUE_URL non reconnue : {url!r} (sqlite:///… ou redis://…)")


def in_paris(schedule):
    """A crontab read in Paris time (huey hands periodic checks a naive UTC timestamp)."""
    def validate(timestamp: datetime) -> bool:
        local = timestamp.replace(tzinfo=timezone.utc).astimezone(PARIS).replace(tzinfo=None)
        return schedule(local)
    return validate


def _register_tasks(app: Flask, huey: Huey) -> TaskQueue:
    @huey.task(name="send_email")
    def send_email(outbox_id: int):
        with app.app_context():
            return send_one(outbox_id)

    @huey.task(name="run_import")
    def run_import(batch_id: int):
        # The confirmation of an import (portal.dossiers.import_batches.run): its batches of
        # rows commit one by one; a failure is recorded on the import, which the manager may
        # confirm again (it resumes after the last committed row). Not retried by huey.
        from portal.dossiers.import_batches import run
        with app.app_context():
            try:
                return run(batch_id)
            finally:
                db.session.remove()

    @huey.periodic_task(crontab(minute="*"), name="sweep_outbox")
    def sweep_outbox():
        with app.app_context():
            sent, failed = send_pending(limit=SWEEP_LIMIT)
            if sent or failed:
                log.info("Balayage de la boîte d'envoi : %s envoyé(s), %s en échec", sent, failed)
            return sent, failed

    @huey.periodic_task(crontab(minute="*"), name="sweep_imports")
    def sweep_imports():
        with app.app_context():
            try:
                return sweep_stale_imports(app.extensions["sillon_tasks"])
            finally:
                db.session.remove()

    @huey.periodic_task(crontab(minute="17"), name="fold_dossier_tally")
    def fold_tally():
        # The dossiers' tally gets a row per statement adding or removing dossiers: folded
        # into one every hour, its sum (the CFA's list count) reads a few rows.
        with app.app_context():
            try:
                fold_dossier_tally(db.session)
                db.session.commit()
            finally:
                db.session.remove()

    days = app.config.get("REMINDERS_DAYS") or "1-6"
    hour = int(app.config.get("REMINDERS_HOUR", 7))
    # Created here so that `flask worker` (flush_locks) clears it if a consumer died holding it.
    digest_lock = huey.lock_task("daily_reminders")

    @huey.periodic_task(in_paris(crontab(minute="0", hour=str(hour), day_of_week=days)),
                        name="daily_reminders")
    def daily_reminders():
        # One consumer at a time (several may run the scheduler); a second run the same day
        # queues nothing new anyway (send_digests skips whoever already has today's digest).
        with digest_lock, app.app_context():
            from portal.training_actions.documents import send_reminders
            send_reminders(datetime.now(PARIS).date())  # a week before each training session
            from portal.signatures.service import remind_due
            remind_due()  # a signer whose turn came three days ago (and every three days)
            return send_digests(datetime.now(PARIS).date())

    return TaskQueue(huey, send_email, sweep_outbox, daily_reminders, run_import, fold_tally)


class _QueueStore:
    """The queue's key-value storage, shared by every consumer (portal.dossiers.import_batches
    .stale_batches keeps there the progress it saw)."""

    def __init__(self, huey: Huey):
        self._huey = huey

    def get(self, key):
        return self._huey.get(key, peek=True)

    def put(self, key, value) -> None:
        self._huey.put(key, value)


def sweep_stale_imports(queue: TaskQueue, now: float | None = None) -> list[int]:
    """Queue again the imports « en cours » whose progress has not moved for
    import_batches.STALE_MINUTES (their worker died); the ids queued. In an app context."""
    import time

    from portal.dossiers.import_batches import stale_batches
    stale = stale_batches(_QueueStore(queue.huey), time.time() if now is None else now)
    if stale:
        log.warning("Import(s) %s sans progression depuis un moment : relancé(s)",
                    ", ".join(map(str, stale)))
        queue.enqueue_imports(stale)
    return stale


# --- enqueue after commit ----------------------------------------------------------------------

def _collect(session, flush_context):
    ids = [obj.id for obj in session.new if isinstance(obj, OutboxEmail)]
    if ids:
        session.info.setdefault(_PENDING, set()).update(ids)


def _outermost(session) -> bool:
    """Commit and rollback events fire for savepoints too: only the outermost one counts (a
    savepoint's rows are not committed yet; a savepoint rolled back leaves ids whose task will
    find no row, which is harmless)."""
    return session.get_nested_transaction() is None


def _forget(session):
    if _outermost(session):
        session.info.pop(_PENDING, None)
        session.info.pop(_IMPORTS, None)


def _enqueue_imports(session) -> None:
    """The imports confirmed by the transaction just committed, to the worker. If the queue is
    down the import stays « en cours » and says so on its page (the manager is told to try
    again later); nothing was created."""
    ids = session.info.pop(_IMPORTS, None)
    queue = current_app.extensions.get("sillon_tasks")
    if not ids or queue is None:
        return
    try:
        queue.enqueue_imports(ids)
    except Exception:  # noqa: BLE001 - the claim is committed; logged for the operator
        log.warning("File des tâches indisponible : import(s) %s non lancé(s)",
                    ", ".join(map(str, sorted(ids))), exc_info=True)


def _enqueue_committed(session):
    if not _outermost(session):
        return
    _enqueue_imports(session)
    ids = session.info.pop(_PENDING, None)
    if not ids:
        return
    queue = current_app.extensions.get("sillon_tasks")
    if queue is None:
        return
    if not current_app.config.get("MAIL_SERVER"):
        log.info("E-mail(s) %s gardé(s) dans la boîte d'envoi (pas de MAIL_SERVER)",
                 ", ".join(map(str, sorted(ids))))
        return
    try:
        queue.enqueue_emails(ids)
    except Exception:  # noqa: BLE001 - the change is committed; the sweep sends the e-mail
        log.warning("File des tâches indisponible : e-mail(s) %s envoyé(s) par le balayage",
                    ", ".join(map(str, sorted(ids))), exc_info=True)


def _listen_once(name, fn):
    if not event.contains(db.session, name, fn):
        event.listen(db.session, name, fn)


def init_app(app: Flask) -> None:
    huey = make_huey(app.config["TASK_QUEUE_URL"], float(app.config["TASK_QUEUE_TIMEOUT"]))
    app.extensions["sillon_tasks"] = _register_tasks(app, huey)
    _listen_once("after_flush", _collect)
    _listen_once("after_commit", _enqueue_committed)
    _listen_once("after_rollback", _forget)

    import click

    @app.cli.command("worker")
    @click.option("--workers", default=2, show_default=True, help="Fils d'exécution.")
    @click.option("--no-periodic", is_flag=True,
                  help="Sans les tâches planifiées (si un autre worker les lance).")
    def worker_command(workers, no_periodic):
        """Run the background worker: outbox e-mails, retry sweep, daily reminders."""
        consumer = huey.create_consumer(workers=workers, periodic=not no_periodic,
                                        worker_type="thread", max_delay=1.0, flush_locks=True)
        consumer.run()
