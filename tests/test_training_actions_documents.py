"""The documents and the attendance of a training action (issue 14, SPEC §6): the convocation
with its calendar invitation (outbox and a real SMTP server), the émargement sheet, the
attendance per half-day and the session's close, the attestation, the convention with a
structure, the reminder a week before."""
from __future__ import annotations

import io
import re
from datetime import time, timedelta

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from portal.dossiers.errors import WriteRefused
from portal.extensions import db
from portal.models import (Cfa, Document, Inscription, OutboxEmail, Presence, SessionFormation,
                           Structure)
from portal.training_actions import attendance, documents, service
from tests.test_rules_training_actions import parse, props, unescape
from tests.test_training_actions_service import (CFA, REFERENT, TODAY, _request, _user,
                                                 world)  # noqa: F401 - the fixture

START = TODAY + timedelta(days=14)   # Monday 15/03/2027, the world's session: 2 days, 9 h–17 h
END = START + timedelta(days=1)
AFTER = END + timedelta(days=1)


@pytest.fixture()
def docs(app, world):  # noqa: F811 - the imported fixture
    """The world, and the documents stored during the test removed afterwards."""
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.max(Document.id))) or 0
    yield world
    with app.app_context():
        db.session.execute(sa.update(Inscription).where(
            Inscription.session_id == world["session"]).values(
            convocation_document_id=None, attestation_document_id=None))
        db.session.execute(sa.delete(Document).where(Document.id > before))
        db.session.commit()


def _retain(ids, *who):
    """Requests accepted by ACME's référent and retained by the CFA (the 3rd of ACME waits)."""
    out = []
    for key in who:
        inscription = _request(ids, key)
        service.run("accepter", inscription, by=_user(REFERENT), today=TODAY)
        code = "retenir" if service.refusal("retenir", inscription, _user(CFA),
                                            today=TODAY) is None else "mettre_en_attente"
        service.run(code, inscription, by=_user(CFA), today=TODAY)
        out.append(inscription)
    return out


def _text(data: bytes) -> str:
    """The PDF's text, blanks (non-breaking ones included) as single spaces."""
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return re.sub(r"[\s\u00a0\u202f]+", " ", text)


def _outbox(kind: str, ids=None) -> list[OutboxEmail]:
    """This test's e-mails of a kind: those naming its own action (the demo has others)."""
    stmt = sa.select(OutboxEmail).where(OutboxEmail.subject.like(f"%{kind}%"))
    if ids is not None:
        title = db.session.get(SessionFormation, ids["session"]).action.intitule
        stmt = stmt.where(OutboxEmail.subject.like(f"%{title}%"))
    return list(db.session.scalars(stmt.order_by(OutboxEmail.id)))


def _session(ids) -> SessionFormation:
    return db.session.get(SessionFormation, ids["session"])


def _attachments(email: OutboxEmail) -> list[Document]:
    return [db.session.get(Document, int(pk)) for pk in email.attachment_document_ids.split(",")]


# ---- the convocation -------------------------------------------------------------------------

def test_the_convocation_pdf_and_invitation_are_sent_and_sent_again(app, docs):
    with app.app_context():
        (inscription,) = _retain(docs, "benef")
        pdf = documents.send_convocation(inscription, by=_user(CFA), today=TODAY)
        assert inscription.convocation_document_id == pdf.id
        assert inscription.convocation_sent_at is not None
        assert inscription.history[-1].comment == "Convocation envoyée"
        (email,) = _outbox("convocation", docs)
        recipients = email.recipients.split(",")
        assert docs["benef"] in recipients and REFERENT in recipients
        assert docs["decider"] in recipients
        pdf_doc, ics_doc = _attachments(email)
        assert (pdf_doc.content_type, ics_doc.content_type) == ("application/pdf",
                                                                "text/calendar")
        event = props(parse(ics_doc.data.decode("utf-8")), "VCALENDAR/VEVENT")
        assert event["DTSTART"] == (";TZID=Europe/Paris", "20270315T090000")
        assert event["DTEND"] == (";TZID=Europe/Paris", "20270316T170000")
        assert unescape(event["SUMMARY"][1]) == inscription.session.action.intitule
        assert unescape(event["LOCATION"][1]) == "Montpellier"
        assert event["ATTENDEE"][1] == f"mailto:{docs['benef']}"
        uid = event["UID"]
        assert event["SEQUENCE"][1] == "0"
        text = _text(pdf_doc.data)
        for expected in (inscription.user.full_name, inscription.session.action.intitule,
                         "du 15/03/2027 au 16/03/2027", "de 9 h 00 à 17 h 00", "Montpellier",
                         "pièce d'identité", "CFA Sillon Sud"):
            assert expected in text, expected
        # Sent again: a new e-mail, a new version of the PDF, the same calendar event.
        again = documents.send_convocation(inscription, by=_user(CFA), today=TODAY)
        assert inscription.history[-1].comment == "Convocation renvoyée"
        assert again.version == pdf.version + 1 and inscription.convocation_document_id == again.id
        first, second = _outbox("convocation", docs)
        assert "à nouveau" in second.body_text
        ics_again = _attachments(second)[1]
        event_again = props(parse(ics_again.data.decode()), "VCALENDAR/VEVENT")
        # The same event, a higher sequence: calendars replace the first invitation with it.
        assert event_again["UID"] == uid and event_again["SEQUENCE"][1] == "1"
        documents.send_convocation(inscription, by=_user(CFA), today=TODAY)
        third = _outbox("convocation", docs)[-1]
        assert props(parse(_attachments(third)[1].data.decode()),
                     "VCALENDAR/VEVENT")["SEQUENCE"][1] == "2"


def test_the_convocation_only_for_a_retained_request_by_the_cfa(app, docs):
    with app.app_context():
        (inscription,) = _retain(docs, "benef")
        accepted = _request(docs, "benef3")
        service.run("accepter", accepted, by=_user(REFERENT), today=TODAY)
        cases = [(accepted, CFA, TODAY, "demande retenue"),
                 (inscription, REFERENT, TODAY, "équipe du CFA"),
                 (inscription, docs["benef"], TODAY, "équipe du CFA"),
                 (inscription, CFA, AFTER, "s'est terminée le 16/03/2027")]
        for target, who, today, message in cases:
            with pytest.raises(WriteRefused, match=message):
                documents.send_convocation(target, by=_user(who), today=today)
            db.session.rollback()
        session = _session(docs)
        session.annulee = True
        db.session.commit()
        with pytest.raises(WriteRefused, match="annulée"):
            documents.send_convocation(inscription, by=_user(CFA), today=TODAY)
        db.session.rollback()
        assert _outbox("convocation", docs) == []
        assert db.session.get(Inscription, inscription.id).convocation_sent_at is None


def test_the_convocation_through_the_smtp_server(app, docs, smtp):
    with app.app_context():
        (inscription,) = _retain(docs, "benef")
        documents.send_convocation(inscription, by=_user(CFA), today=TODAY)
        intitule = inscription.session.action.intitule
    (rcpts, message), = [(r, m) for r, m in smtp.messages
                         if "convocation" in m["Subject"] and intitule in m["Subject"]]
    with app.app_context():
        from portal.training_actions.messages import _deciders
        deciders = _deciders(db.session.get(Inscription, inscription.id))
    assert REFERENT in deciders and docs["decider"] in deciders
    assert sorted(rcpts) == sorted({docs["benef"], *deciders})
    parts = {part.get_filename(): part for part in message.iter_attachments()}
    name = f"convocation-{inscription.id}"
    assert set(parts) == {f"{name}.pdf", f"{name}.ics"}
    assert parts[f"{name}.pdf"].get_content_type() == "application/pdf"
    assert parts[f"{name}.ics"].get_content_type() == "text/calendar"
    ics = parts[f"{name}.ics"].get_payload(decode=True).decode("utf-8")
    assert props(parse(ics), "VCALENDAR")["METHOD"] == ("", "REQUEST")
    assert PdfReader(io.BytesIO(parts[f"{name}.pdf"].get_payload(decode=True))).pages


# ---- the attendance --------------------------------------------------------------------------

def test_the_attendance_sheet_has_one_table_per_half_day(app, docs):
    with app.app_context():
        people = _retain(docs, "benef", "benef2")
        data = documents.attendance_sheet(_session(docs))
        reader = PdfReader(io.BytesIO(data))
        assert len(reader.pages) == 4
        for page, label in zip(reader.pages, ("Lundi 15/03/2027 – matin",
                                              "Lundi 15/03/2027 – après-midi",
                                              "Mardi 16/03/2027 – matin",
                                              "Mardi 16/03/2027 – après-midi")):
            text = page.extract_text()
            assert label in text and "Signature" in text
            assert all(p.user.full_name in text for p in people)


def test_attendance_is_noted_only_for_the_session_its_half_days_and_its_people(app, docs):
    with app.app_context():
        benef, benef2 = _retain(docs, "benef", "benef2")
        other = _request(docs, "benef3")  # requested, never retained
        session = _session(docs)
        cfa = _user(CFA)
        refused = [
            ({(benef.id, START, "matin"): True}, cfa, START - timedelta(days=1),
             "ne commence que le 15/03/2027"),
            ({(benef.id, START + timedelta(days=5), "matin"): True}, cfa, AFTER,
             "ne fait pas partie de la session"),            # Saturday 20/03, after the end
            ({(benef.id, START, "soir"): True}, cfa, AFTER, "ne fait pas partie"),
            ({(other.id, START, "matin"): True}, cfa, AFTER, "n'est pas retenue"),
            ({(benef.id, END, "matin"): True}, cfa, START, "pas encore passé"),
            ({(benef.id, START, "matin"): "oui"}, cfa, AFTER, "présente ou absente"),
            ({(benef.id, START, "matin"): True}, _user(REFERENT), AFTER, "équipe du CFA"),
        ]
        for marks, who, today, message in refused:
            with pytest.raises(WriteRefused, match=message):
                attendance.record(session, marks, by=who, today=today)
            db.session.rollback()
        assert db.session.scalars(sa.select(Presence).where(
            Presence.inscription_id.in_([benef.id, benef2.id]))).all() == []
        # A session starting at 14:00 has no morning on its first day.
        session.heure_debut = time(14)
        db.session.commit()
        with pytest.raises(WriteRefused, match="lundi 15/03/2027 – matin ne fait pas partie"):
            attendance.record(session, {(benef.id, START, "matin"): True}, by=cfa, today=START)
        db.session.rollback()
        assert attendance.record(session, {(benef.id, START, "apres_midi"): True,
                                           (benef2.id, START, "apres_midi"): True},
                                 by=cfa, today=START) == 2
        attendance.record(session, {(benef2.id, START, "apres_midi"): False}, by=cfa,
                          today=START)   # corrected: the same row, now absent
        rows = db.session.scalars(sa.select(Presence).where(
            Presence.inscription_id == benef2.id)).all()
        assert [(r.jour, r.demi_journee, r.present) for r in rows] == \
            [(START, "apres_midi", False)]
        assert benef2.history[-1].comment == \
            "Émargement – lundi 15/03/2027 – après-midi : absente"
        # The history reads in the day's order: the morning before the afternoon.
        attendance.record(session, {(benef.id, END, "apres_midi"): False,
                                    (benef.id, END, "matin"): True,
                                    (benef.id, START, "apres_midi"): True}, by=cfa, today=END)
        assert benef.history[-1].comment == (
            "Émargement – lundi 15/03/2027 – après-midi : présente ; mardi 16/03/2027 – matin : "
            "présente ; mardi 16/03/2027 – après-midi : absente")


def test_the_close_marks_present_and_absent_and_closes_the_waiting_list(app, docs):
    with app.app_context():
        benef, benef2, benef3 = _retain(docs, "benef", "benef2", "benef3")
        assert benef3.state == "liste_attente"
        session, cfa = _session(docs), _user(CFA)
        attendance.record(session, {(benef.id, START, "matin"): True,
                                    (benef.id, END, "matin"): False,
                                    (benef2.id, START, "matin"): False}, by=cfa, today=END)
        for who, today, message in ((cfa, END, "se termine le 16/03/2027"),
                                    (_user(REFERENT), AFTER, "équipe du CFA")):
            with pytest.raises(WriteRefused, match=message):
                attendance.close(session, by=who, today=today)
            db.session.rollback()
        assert db.session.get(Inscription, benef.id).state == "retenue"
        moved = attendance.close(session, by=cfa, today=AFTER)
        assert moved == {benef.id: "presente", benef2.id: "absente", benef3.id: "non_retenue"}
        db.session.expire_all()
        assert db.session.get(Inscription, benef.id).history[-1].comment == \
            "Présente 1 demi-journée(s) sur 4."
        assert db.session.get(Inscription, benef3.id).state == "non_retenue"  # not moved up
        # Closed: the state certifies the marks, which no longer change.
        with pytest.raises(WriteRefused, match="ne se modifie plus"):
            attendance.record(session, {(benef2.id, START, "matin"): True}, by=cfa,
                              today=AFTER)
        db.session.rollback()
        with pytest.raises(WriteRefused, match="session est clôturée"):
            attendance.record(session, {}, by=cfa, today=AFTER)
        db.session.rollback()
        assert db.session.execute(sa.select(Presence.present).where(
            Presence.inscription_id == benef2.id, Presence.jour == START,
            Presence.demi_journee == "matin")).scalar_one() is False


# ---- the attestation and the convention -------------------------------------------------------

def test_the_attestation_states_the_hours_attended(app, docs):
    with app.app_context():
        benef, benef2 = _retain(docs, "benef", "benef2")
        session, cfa = _session(docs), _user(CFA)
        attendance.record(session, {(benef.id, START, "matin"): True,
                                    (benef.id, START, "apres_midi"): True,
                                    (benef.id, END, "matin"): True}, by=cfa, today=AFTER)
        with pytest.raises(WriteRefused, match="personne présente"):
            documents.attestation(benef, by=cfa)   # still "retenue"
        db.session.rollback()
        attendance.close(session, by=cfa, today=AFTER)
        for who, target, message in ((cfa, benef2, "personne présente"),
                                     (_user(REFERENT), benef, "équipe du CFA")):
            with pytest.raises(WriteRefused, match=message):
                documents.attestation(target, by=who)
            db.session.rollback()
        document = documents.attestation(benef, by=cfa)
        assert benef.attestation_document_id == document.id
        text = _text(document.data)
        for expected in (benef.user.full_name, "ACME", session.action.intitule,
                         "du 15/03/2027 au 16/03/2027", "10,5 h", "3 sur 4 prévues", "14 h",
                         "76341287634", "L6353-1"):
            assert expected in text, expected
        (email,) = _outbox("attestation de fin de formation", docs)
        assert email.recipients == docs["benef"].lower()
        assert email.attachment_document_ids == str(document.id)
        assert "Attestation de fin de formation délivrée" in benef.history[-1].comment


def test_the_convention_lists_the_structure_s_trainees_and_the_price(app, docs):
    with app.app_context():
        benef, benef2 = _retain(docs, "benef", "benef2")
        session = _session(docs)
        acme = db.session.get(Structure, docs["structure"])
        cfa = db.session.scalars(sa.select(Cfa)).first()
        text = _text(documents.convention(session, acme))
        for expected in (cfa.nom, cfa.siret, acme.raison_sociale, acme.siren,
                         benef.user.full_name, benef2.user.full_name, session.action.intitule,
                         "du 15/03/2027 au 16/03/2027", "350 €", "700 €",
                         "L6353-1", "Montpellier"):
            assert expected in text, expected
        other = db.session.scalars(sa.select(Structure).where(
            Structure.id != acme.id)).first()
        alone = _text(documents.convention(session, other))
        assert benef.user.full_name not in alone and "Aucun stagiaire" in alone


# ---- the reminder ----------------------------------------------------------------------------

def test_the_reminder_goes_once_a_week_before(app, docs):
    with app.app_context():
        (benef,) = _retain(docs, "benef")
        _request(docs, "benef2")   # requested only: not reminded
        intitule = _session(docs).action.intitule

        def reminders():
            return [e for e in _outbox("rappel") if intitule in e.subject]
        documents.send_reminders(START - timedelta(days=8))
        assert reminders() == []
        documents.send_reminders(START - timedelta(days=7))
        (email,) = reminders()
        assert email.recipients == docs["benef"].lower()
        assert "commence dans 7 jours" in email.body_text
        assert _session(docs).rappel_envoye_at is not None
        documents.send_reminders(START - timedelta(days=7))
        documents.send_reminders(START - timedelta(days=6))
        assert len(reminders()) == 1


def test_the_daily_reminders_job_sends_the_session_reminder(app, docs, clean_outbox):
    from datetime import datetime
    from portal.tasks import PARIS
    with app.app_context():
        (benef,) = _retain(docs, "benef")
        session = _session(docs)
        today = datetime.now(PARIS).date()
        session.date_debut = today + timedelta(days=7)
        session.date_fin = session.date_debut
        db.session.commit()
        intitule = session.action.intitule
    app.extensions["sillon_tasks"].daily_reminders.call_local()
    with app.app_context():
        (email,) = [e for e in _outbox("rappel") if intitule in e.subject]
        assert email.recipients == docs["benef"].lower()
