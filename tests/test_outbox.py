"""The e-mail outbox against a real SMTP server on 127.0.0.1: e-mails exist only when their
transaction commits, are sent by the worker once committed, survive an SMTP outage and are
retried with back-off by `flask mail send-pending`."""
from datetime import timedelta

import sqlalchemy as sa

from portal.mail import outbox as notifications
from portal.extensions import db
from portal.models import OutboxEmail
from portal.models.people import utcnow
from tests.support.smtp import SmtpServer, free_port


def _queue(app, to="personne@exemple.fr", commit=True):
    with app.test_request_context():
        email = notifications.queue([to], "information", "Essai d'envoi", dossier=None,
                                    headline="Ceci est un essai.", link=None, actor=None,
                                    comment=None)
        if commit:
            db.session.commit()
        else:
            db.session.rollback()
        return email.id if commit else None


def test_committed_email_is_delivered_in_french(app, smtp, clean_outbox):
    pk = _queue(app)  # the commit enqueues it; the worker sends it
    assert len(smtp.messages) == 1
    with app.app_context():
        email = db.session.get(OutboxEmail, pk)
        assert email.sent_at is not None and email.attempts == 1
        assert email.claimed_at is None and email.claimed_by is None  # claim released
        assert notifications.send_pending([pk]) == (0, 0)  # never twice
    recipients, message = smtp.messages[0]
    assert len(smtp.messages) == 1
    assert recipients == ["personne@exemple.fr"]
    assert message["Subject"] == "Essai d'envoi"
    assert message["Message-ID"].startswith(f"<outbox-{pk}.")
    assert "Ceci est un essai." in smtp.text_of(message)
    assert "Merci de ne pas y répondre" in smtp.text_of(message)
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "<p>" in html


def test_rolled_back_change_sends_nothing(app, smtp, clean_outbox):
    _queue(app, commit=False)
    with app.app_context():
        assert notifications.send_pending() == (0, 0)
        assert db.session.execute(sa.select(sa.func.count()).select_from(OutboxEmail)
                                  ).scalar_one() == 0
    assert smtp.messages == []


def test_smtp_down_keeps_the_email_and_retries_with_backoff(app, clean_outbox):
    port = free_port()  # nobody listens there yet
    saved = (app.config.get("MAIL_SERVER"), app.config.get("MAIL_PORT"))
    mail_state = app.extensions["mail"]
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    mail_state.server, mail_state.port, mail_state.suppress = "127.0.0.1", port, False
    try:
        pk = _queue(app)
        with app.app_context():
            assert notifications.send_pending([pk]) == (0, 1)
            email = db.session.get(OutboxEmail, pk)
            assert email.sent_at is None and email.attempts == 1 and email.last_error
            first_retry = email.next_attempt_at
            assert timedelta(seconds=50) < first_retry - utcnow() <= timedelta(minutes=1)
            # Not due yet: a later send does not hammer the server.
            assert notifications.send_pending() == (0, 0)
            email.next_attempt_at = utcnow() - timedelta(seconds=1)
            db.session.commit()
            assert notifications.send_pending() == (0, 1)
            email = db.session.get(OutboxEmail, pk)
            assert email.attempts == 2
            assert timedelta(minutes=1) < email.next_attempt_at - utcnow() <= timedelta(minutes=2)
            email.next_attempt_at = utcnow() - timedelta(seconds=1)
            db.session.commit()
        server = SmtpServer(port).start()
        try:
            result = app.test_cli_runner().invoke(args=["mail", "send-pending"])
            assert result.exit_code == 0, result.output
            assert "1 e-mail(s) envoyé(s)" in result.output
            assert len(server.messages) == 1
        finally:
            server.stop()
        with app.app_context():
            assert db.session.get(OutboxEmail, pk).sent_at is not None
    finally:
        app.config.update(MAIL_SERVER=saved[0], MAIL_PORT=saved[1])
        mail_state.server, mail_state.port = saved


def test_backoff_grows_and_is_capped():
    delays = [notifications.backoff(n) for n in range(1, 15)]
    assert delays[0] == timedelta(minutes=1) and delays[1] == timedelta(minutes=2)
    assert delays == sorted(delays)
    assert max(delays) == timedelta(hours=6)


def test_without_mail_server_emails_stay_in_the_outbox(app, clean_outbox, caplog):
    assert not app.config.get("MAIL_SERVER")
    pk = _queue(app)
    with app.app_context():
        caplog.set_level("INFO", logger="portal.mail.outbox")
        assert notifications.send_pending([pk]) == (0, 0)
        assert db.session.get(OutboxEmail, pk).sent_at is None
    assert "Essai d'envoi" in caplog.text
