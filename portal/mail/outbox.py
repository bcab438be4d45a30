"""E-mails through Flask-Mail with an outbox table: nothing is lost when SMTP is down.

`queue()` renders a French e-mail (templates/mail/<name>.txt and .html) into an OutboxEmail row
in the *current* transaction, so the e-mail exists if and only if the change that caused it is
committed. After the request (hence after its commit) the e-mails queued by it are sent, and any
older e-mail that is due is retried. `flask mail send-pending` does the same from cron. A
failure is recorded and retried with exponential back-off (1 min, 2, 4 … up to 6 h).
Without MAIL_SERVER the e-mails stay in the outbox and are logged.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Iterable

from flask import current_app, g, has_request_context, render_template, request
from flask_mail import Message
from sqlalchemy import or_, select, true

from portal.extensions import db, mail
from portal.models import Document, OutboxEmail
from portal.models.people import utcnow

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=6)
FIRST_BACKOFF = timedelta(minutes=1)


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
    if has_request_context():
        g.setdefault("outbox_queued", []).append(email)
    return email


def _message(email: OutboxEmail) -> Message:
    message = Message(subject=email.subject, recipients=email.recipients.split(","),
                      body=email.body_text, html=email.body_html,
                      sender=current_app.config.get("MAIL_DEFAULT_SENDER"))
    for pk in filter(None, (email.attachment_document_ids or "").split(",")):
        document = db.session.get(Document, int(pk))
        if document is not None and document.data is not None:
            message.attach(document.filename, document.content_type, document.data)
    return message


def send_pending(ids: Iterable[int] | None = None, *, limit: int = 200) -> tuple[int, int]:
    """Send the given outbox e-mails (or every due one) and every due older one. Each e-mail is
    committed on its own, so one failure never blocks the others. Returns (sent, failed)."""
    now = utcnow()
    if not current_app.config.get("MAIL_SERVER"):
        pending = db.session.execute(select(OutboxEmail.id, OutboxEmail.recipients,
                                            OutboxEmail.subject)
                                     .where(OutboxEmail.sent_at.is_(None))
                                     .where(OutboxEmail.id.in_(list(ids)) if ids else true())
                                     .limit(limit)).all()
        for pk, recipients, subject in pending:
            log.info("E-mail %s gardé dans la boîte d'envoi (pas de MAIL_SERVER) : %s → %s",
                     pk, subject, recipients)
        return 0, 0
    wanted = [int(i) for i in ids] if ids else []
    stmt = (select(OutboxEmail.id).where(OutboxEmail.sent_at.is_(None))
            .where(or_(OutboxEmail.next_attempt_at <= now,
                       OutboxEmail.id.in_(wanted) if wanted else False))
            .order_by(OutboxEmail.id).limit(limit))
    sent = failed = 0
    for pk in db.session.scalars(stmt).all():
        email = db.session.get(OutboxEmail, pk)
        if email is None or email.sent_at is not None:
            continue
        try:
            mail.send(_message(email))
        except Exception as exc:  # noqa: BLE001 - any SMTP/network failure is retried later
            email.attempts += 1
            email.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            email.next_attempt_at = utcnow() + backoff(email.attempts)
            failed += 1
            log.warning("Échec d'envoi de l'e-mail %s (tentative %s) : %s", pk, email.attempts,
                        email.last_error)
        else:
            email.attempts += 1
            email.sent_at = utcnow()
            email.last_error = None
            sent += 1
        db.session.commit()
    return sent, failed


def init_app(app) -> None:
    @app.after_request
    def _send_queued(response):
        queued = g.pop("outbox_queued", None)
        if not queued:
            return response
        try:
            # Only e-mails whose transaction was committed exist in the database.
            ids = [e.id for e in queued if e.id is not None]
            db.session.rollback()  # never send from a half-finished transaction
            send_pending(ids)
        except Exception:  # noqa: BLE001 - the user's action succeeded; the outbox keeps it
            log.exception("Envoi des e-mails après la requête impossible")
            db.session.rollback()
        return response

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
