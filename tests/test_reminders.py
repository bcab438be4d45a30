"""The daily digest (`flask reminders send`, and the worker's daily task at 07:00 Paris time):
one digest per person who must act, with late deadlines, received by a real SMTP server; a
second run the same day sends nothing new."""
from datetime import date

import sqlalchemy as sa

from portal.dossiers.deadlines import dossier_deadlines
from portal.extensions import db
from portal.models import Dossier


def _digest_for(smtp, address):
    found = [m for rcpt, m in smtp.messages if rcpt == [address]]
    assert len(found) == 1, f"{len(found)} digests for {address}"
    return smtp.text_of(found[0])


def test_daily_digest_reaches_whoever_must_act(app, smtp, clean_outbox):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["reminders", "send", "--date", "2026-11-23"])
    assert result.exit_code == 0, result.output
    assert "rappel(s) préparé(s)" in result.output
    with app.app_context():
        waiting = db.session.scalars(sa.select(Dossier).join(Dossier.formation)
                                     .where(Dossier.state == "validation_demandee")).all()
        assert waiting
        manager = waiting[0].formation.responsables[0].email
        late = [d for d in db.session.scalars(sa.select(Dossier)).all()
                if any(x.late and x.code == "opco" for x in dossier_deadlines(d, date(2026, 11, 23)))
                and d.employer_contact is not None]
    text = _digest_for(smtp, manager)
    assert f"Dossier n° {waiting[0].id}" in text
    assert "Validation (formation)" in text
    assert late, "the demo data has a dossier late for the OPCO"
    employer_text = _digest_for(smtp, late[0].employer_contact.email)
    assert "[EN RETARD] Dépôt à l'OPCO" in employer_text
    count = len(smtp.messages)
    # Cron ran twice: nothing new.
    result = runner.invoke(args=["reminders", "send", "--date", "2026-11-23"])
    assert "0 rappel(s) préparé(s)" in result.output
    assert len(smtp.messages) == count


def test_closed_dossiers_are_never_reminded(app):
    with app.app_context():
        from portal.mail.reminders import build_digests
        digests = build_digests(date(2026, 11, 23))
        ids = {item["dossier"].id for items in digests.values() for item in items}
        closed = set(db.session.scalars(sa.select(Dossier.id).where(
            Dossier.state.in_(("annule", "rompu")))).all())
        assert closed and not ids & closed


def test_the_daily_digest_runs_at_seven_paris_time_monday_to_saturday(app):
    from datetime import datetime
    from huey import crontab
    from portal.tasks import in_paris
    at_seven = in_paris(crontab(minute="0", hour="7", day_of_week=app.config["REMINDERS_DAYS"]))
    assert app.config["REMINDERS_HOUR"] == 7
    assert at_seven(datetime(2026, 11, 23, 6, 0))  # Monday, 07:00 in Paris (UTC+1)
    assert not at_seven(datetime(2026, 11, 23, 7, 0))  # 08:00 in Paris
    assert at_seven(datetime(2026, 6, 20, 5, 0))  # Saturday, 07:00 in Paris (UTC+2)
    assert not at_seven(datetime(2026, 11, 22, 6, 0))  # Sunday


def test_the_workers_daily_task_queues_digests_sent_once(app, smtp, clean_outbox):
    """The periodic task run by a real consumer: digests queued, committed, then each sent by
    the worker; a second run the same day (another consumer) adds nothing."""
    from datetime import datetime
    from portal.models import OutboxEmail
    from portal.tasks import PARIS
    tasks = app.extensions["sillon_tasks"]
    tasks.daily_reminders()
    smtp.worker.drain()  # the digest task, then the e-mails it committed
    count = len(smtp.messages)
    subject = f"[Sillon] Vos dossiers à traiter – {datetime.now(PARIS):%d/%m/%Y}"
    assert count and all(m["Subject"] == subject for _, m in smtp.messages)
    with app.app_context():
        rows = db.session.scalars(sa.select(OutboxEmail)).all()
        assert len(rows) == count and all(r.sent_at is not None for r in rows)
    tasks.daily_reminders()
    assert len(smtp.messages) == count
