"""`flask reminders send`: one digest per person who must act, with late deadlines, received by a
real SMTP server; a second run the same day sends nothing new."""
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
