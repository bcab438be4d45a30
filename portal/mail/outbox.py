"""E-mails through Flask-Mail with an outbox table: nothing lost, nothing twice, never inside a
request.

`queue()` renders a French e-mail (templates/mail/<name>.txt and .html) into an OutboxEmail row
in the *current* transaction, so the e-mail exists if and only if the change that caused it is
committed. Once that transaction commits, `portal.tasks` hands the row's id to the background
worker, which calls `send_one()`; the worker's sweep (every minute) and `flask mail send-pending`
call `send_pending()` for the e-mails that are due. A request never talks to SMTP.

Every sender first *claims* the row with one conditional UPDATE (`sent_at IS NULL` and no live
claim): the row count tells who won, on SQLite and PostgreSQL alike, so two senders never send
one e-mail twice. A failure releases the claim and is retried with exponential back-off
(1 min, 2, 4 … up to 6 h). The SMTP conversation has a timeout (MAIL_TIMEOUT); a claim older
than the lease (MAIL_CLAIM_LEASE_SECONDS, by default 30 × MAIL_TIMEOUT) is taken as abandoned.
Without MAIL_SERVER the e-mails stay in the outbox and are logged.
"""
from __future__ import annotations

import logging
import secrets
import smtplib
import time
from datetime import timedelta
from typing import Iterable
from urllib.parse import urlsplit

from flask import current_app, has_request_context, render_template, request
from flask_mail import Connection, Message
from sqlalchemy import and_, or_, select, true, update
from sqlalchemy.exc import OperationalError

from portal.extensions import db
from portal.models import Document, OutboxEmail
from portal.models.people import utcnow

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=6)
FIRST_BACKOFF = timedelta(minutes=1)
LEASE_PER_TIMEOUT = 30  # an SMTP conversation is a dozen socket operations, each up to the timeout


def public_url(path: str = "") -> str:
    """An absolute link to a page of Sillon, for an e-mail: PUBLIC_BASE_URL, else the host of
    the current request."""
    base = (current_app.config.get("PUBLIC_BASE_URL") or "").rstrip("/")
    if not base and has_request_context():
        base = request.host_url.rstrip("/")
    return f"{base}{path}"


def backoff(attempts: int) -> timedelta:
    """Delay before the next attempt after `attempts` failures."""
    return min(FIRST_BACKOFF * (2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def queue(recipients: Iterable[str] | str, template: str, subject: str, *, dossier=None,
          attachments: Iterable[Document] = (), **context) -> OutboxEmail | None:
    """Add an e-mail to the outbox in the current transaction (no commit). Returns None when
    there is nobody to write to."""
    if isinstance(recipients, str):
        recipients = [recipients]
    addresses = sorted({r.strip().lower() for r in recipients if r and r.strip()})
    if not addresses:
        return None
    context.setdefault("base_url", current_app.config.get("PUBLIC_BASE_URL", "").rstrip("/"))
    context.setdefault("dossier", dossier)
    body_text = render_template(f"mail/{template}.txt", subject=subject, **context)
    body_html = render_template(f"mail/{template}.html", subject=subject, **context)
    email = OutboxEmail(recipients=",".join(addresses), subject=subject, body_text=body_text,
                        body_html=body_html,
                        dossier_id=getattr(dossier, "id", None),
                        attachment_document_ids=",".join(str(d.id) for d in attachments) or None)
    db.session.add(email)
    return email


# --- SMTP with a timeout -----------------------------------------------------------------------

def mail_timeout() -> float:
    return float(current_app.config.get("MAIL_TIMEOUT") or 10.0)


def claim_lease() -> timedelta:
    seconds = current_app.config.get("MAIL_CLAIM_LEASE_SECONDS")
    return timedelta(seconds=float(seconds or LEASE_PER_TIMEOUT * mail_timeout()))


class TimeoutConnection(Connection):
    """Flask-Mail 0.10's Connection opens `smtplib.SMTP(host, port)` with no timeout (it offers
    no option for one): a server that accepts and never answers holds the sender forever. Same
    connection, with `timeout=` on the socket of this connection only."""

    def __init__(self, state, timeout: float):
        super().__init__(state)
        self.timeout = timeout

    def configure_host(self):
        factory = smtplib.SMTP_SSL if self.mail.use_ssl else smtplib.SMTP
        host = factory(self.mail.server, self.mail.port, timeout=self.timeout)
        host.set_debuglevel(int(self.mail.debug))
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host

    def __exit__(self, exc_type, exc_value, tb):
        if self.host is None:
            return
        if exc_type is not None:
            self.host.close()  # no polite QUIT to a server that just failed us
            return
        try:
            self.host.quit()
        except (smtplib.SMTPException, OSError):
            # The server accepted the message already: a failing QUIT must not become a retry.
            self.host.close()


def _message(email: OutboxEmail) -> Message:
    domain = urlsplit(current_app.config.get("PUBLIC_BASE_URL") or "").hostname or "sillon.local"
    # One Message-ID per outbox row: a copy sent again after a crash (see _deliver) is
    # recognisable as the same message by the receiving side.
    message = Message(subject=email.subject, recipients=email.recipients.split(","),
                      body=email.body_text, html=email.body_html,
                      sender=current_app.config.get("MAIL_DEFAULT_SENDER"))
    message.msgId = f"<outbox-{email.id}.{email.created_at:%Y%m%d%H%M%S}@{domain}>"
    for pk in filter(None, (email.attachment_document_ids or "").split(",")):
        document = db.session.get(Document, int(pk))
        if document is not None and document.data is not None:
            message.attach(document.filename, document.content_type, document.data)
    return message


def _smtp_send(message: Message) -> None:
    with TimeoutConnection(current_app.extensions["mail"], mail_timeout()) as connection:
        message.send(connection)


# --- claims ------------------------------------------------------------------------------------

def _claimable(now):
    """Not sent, and nobody holds a live claim on it."""
    return and_(OutboxEmail.sent_at.is_(None),
                or_(OutboxEmail.claimed_at.is_(None),
                    OutboxEmail.claimed_at < now - claim_lease()))


def _write(stmt, *, tries: int) -> int:
    """One UPDATE in its own transaction; its row count. SQLite answers "database is locked"
    at once, without waiting, when waiting could deadlock two writers: try again shortly."""
    stmt = stmt.execution_options(synchronize_session=False)
    for attempt in range(1, tries + 1):
        try:
            count = db.session.execute(stmt).rowcount
            db.session.commit()
            return count
        except OperationalError:
            db.session.rollback()
            if attempt >= tries:
                raise
            time.sleep(0.05 * 2 ** min(attempt, 5))
    return 0  # tries < 1: nothing written


def _claim(pk: int, token: str, *, due_only: bool) -> bool:
    """One statement, in its own short transaction: the row is ours iff it changed. A fresh
    e-mail (never tried) may be claimed at once; a failed one only once its back-off is over."""
    now = utcnow()
    due = OutboxEmail.next_attempt_at <= now
    stmt = (update(OutboxEmail)
            .where(OutboxEmail.id == pk, _claimable(now),
                   due if due_only else or_(OutboxEmail.attempts == 0, due))
            .values(claimed_at=now, claimed_by=token))
    try:
        return _write(stmt, tries=4) == 1
    except OperationalError:
        log.warning("E-mail %s : réservation impossible (base occupée), nouvel essai au "
                    "prochain balayage", pk, exc_info=True)
        return False


def _finish(pk: int, token: str, **values) -> bool:
    """Record the outcome and release the claim, if the claim is still ours. Tried for a few
    seconds: if it never lands, the claim expires and the e-mail may go out again."""
    stmt = (update(OutboxEmail)
            .where(OutboxEmail.id == pk, OutboxEmail.claimed_by == token)
            .values(claimed_at=None, claimed_by=None, attempts=OutboxEmail.attempts + 1,
                    **values))
    kept = _write(stmt, tries=8) == 1
    if not kept:
        log.warning("E-mail %s : réservation expirée pendant l'envoi (bail trop court ?)", pk)
    return kept


def _deliver(pk: int, *, due_only: bool) -> bool | None:
    """Claim, send, record. True sent, False failed (retried later), None not ours to send.

    At least once, not exactly once, at one edge: if this process dies after the SMTP server
    accepted the message but before the outcome is committed, the claim expires after the lease
    and the e-mail is sent again (with the same Message-ID). SMTP offers nothing better."""
    token = secrets.token_hex(16)
    if not _claim(pk, token, due_only=due_only):
        return None
    attempts = 0
    try:
        email = db.session.get(OutboxEmail, pk, populate_existing=True)
        attempts = email.attempts
        message = _message(email)
        db.session.commit()  # end the read transaction: nothing is held while SMTP talks
        _smtp_send(message)
    except Exception as exc:  # noqa: BLE001 - any SMTP/network/render failure is retried later
        db.session.rollback()
        error = f"{type(exc).__name__}: {exc}"[:2000]
        _finish(pk, token, last_error=error, next_attempt_at=utcnow() + backoff(attempts + 1))
        log.warning("Échec d'envoi de l'e-mail %s (tentative %s) : %s", pk, attempts + 1, error)
        return False
    _finish(pk, token, sent_at=utcnow(), last_error=None)
    return True


def _log_kept(ids: Iterable[int] | None, limit: int) -> None:
    pending = db.session.execute(select(OutboxEmail.id, OutboxEmail.recipients,
                                        OutboxEmail.subject)
                                 .where(OutboxEmail.sent_at.is_(None))
                                 .where(OutboxEmail.id.in_(list(ids)) if ids else true())
                                 .limit(limit)).all()
    db.session.commit()  # end the read transaction
    for pk, recipients, subject in pending:
        log.info("E-mail %s gardé dans la boîte d'envoi (pas de MAIL_SERVER) : %s → %s",
                 pk, subject, recipients)


def send_one(pk: int) -> bool | None:
    """The worker's task: send one e-mail just committed (or retry it when due)."""
    if not current_app.config.get("MAIL_SERVER"):
        _log_kept([pk], 1)
        return None
    return _deliver(int(pk), due_only=False)


def send_pending(ids: Iterable[int] | None = None, *, limit: int = 200) -> tuple[int, int]:
    """Send the given outbox e-mails (or every due one) and every due older one, each claimed
    first and committed on its own, so one failure never blocks the others and a concurrent
    sender never sends the same one. Returns (sent, failed)."""
    if not current_app.config.get("MAIL_SERVER"):
        _log_kept(ids, limit)
        return 0, 0
    now = utcnow()
    wanted = [int(i) for i in ids] if ids else []
    stmt = (select(OutboxEmail.id).where(_claimable(now))
            .where(or_(OutboxEmail.next_attempt_at <= now,
                       OutboxEmail.id.in_(wanted) if wanted else False))
            .order_by(OutboxEmail.id).limit(limit))
    candidates = db.session.scalars(stmt).all()
    db.session.commit()  # a claim is a write: never upgrade a read transaction (SQLite)
    sent = failed = 0
    for pk in candidates:
        outcome = _deliver(pk, due_only=pk not in wanted)
        sent += outcome is True
        failed += outcome is False
    return sent, failed


def init_app(app) -> None:
    import click
    from flask.cli import AppGroup
    group = AppGroup("mail", help="Boîte d'envoi des e-mails.")

    @group.command("send-pending")
    @click.option("--limit", default=500, show_default=True)
    def send_pending_command(limit):
        """Send (or retry) every due e-mail of the outbox."""
        sent, failed = send_pending(limit=limit)
        click.echo(f"{sent} e-mail(s) envoyé(s), {failed} en échec (nouvel essai plus tard).")

    app.cli.add_command(group)
