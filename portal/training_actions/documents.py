"""The documents of a training action (SPEC §6, seed 003: "il édite les documents
administratifs (convention, convocation, attestation)"): the convocation with its calendar
invitation, the émargement sheet, the attestation de fin de formation (Code du travail, art.
L6353-1), the convention de formation with a structure (art. L6353-1 and following), and the
reminder a week before a session.

The PDFs are rendered by portal/documents/render.py from the plain data built here; the
stored ones belong to no dossier (portal.documents.uploads.store). Each write is one
transaction with its history entry and its outbox e-mails; CFA staff only."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import func, select

from portal.dossiers.errors import AlreadyDone
from portal.documents.render import render_pdf
from portal.documents.uploads import store
from portal.extensions import db
from portal.mail.outbox import queue
from portal.models import InscriptionHistory, SessionFormation
from portal.models.people import utcnow
from portal.rules.formatting import day as fr_day
from portal.rules.training_actions import attended_hours, ics_event
from portal.training_actions import messages
from portal.training_actions.attendance import (expected, half_day_label, outcome,
                                                require_cfa, retained)
from portal.training_actions.service import RequestRefused, _commit, _history
from portal.training_actions.states import state_label

A_APPORTER = ("Cette convocation et une pièce d'identité.",
              "De quoi prendre des notes.",
              "Les documents utiles à votre mission (livret d'apprentissage, contrat, "
              "référentiel du diplôme), si vous en disposez.")
REMINDER_DAYS = 7
# Times used by the calendar invitation when the session has none.
DEFAULT_START, DEFAULT_END = time(9, 0), time(17, 0)
# The history entries of a convocation sent (their count is the next invitation's sequence).
SENT, RESENT = "Convocation envoyée", "Convocation renvoyée"


# ---- plain data for the templates -------------------------------------------------------------

def _hours(value) -> str:
    """Decimal('14.00') → '14 h', Decimal('10.5') → '10,5 h'."""
    if value is None:
        return ""
    value = Decimal(str(value)).normalize()
    text = str(int(value)) if value == value.to_integral_value() else format(value, "f")
    return text.replace(".", ",") + "\u00a0h"


def _clock(value: time) -> str:
    return f"{value.hour} h {value.minute:02d}"


def _dates(session) -> str:
    if session.date_debut == session.date_fin:
        return f"le {fr_day(session.date_debut)}"
    return f"du {fr_day(session.date_debut)} au {fr_day(session.date_fin)}"


def _times(session) -> str:
    if session.heure_debut and session.heure_fin:
        return f"de {_clock(session.heure_debut)} à {_clock(session.heure_fin)}"
    return "précisés par l'organisateur"


def _organiser(session) -> str | None:
    person = session.organisateur
    return f"{person.full_name} ({person.email})" if person is not None else None


def _cfa(cfa) -> dict:
    contact = " ".join(p for p in (cfa.contact_prenom, (cfa.contact_nom or "").upper()) if p)
    address = ", ".join(p for p in (cfa.adresse, " ".join(
        p for p in (cfa.code_postal, cfa.commune) if p)) if p)
    return dict(nom=cfa.nom, siret=cfa.siret, uai=cfa.uai, nda=cfa.numero_declaration_activite,
                adresse=address or None, signataire=cfa.signataire_visa,
                contact=(f"{contact}, {cfa.contact_fonction}" if contact and cfa.contact_fonction
                         else contact or None),
                telephone=cfa.contact_telephone or cfa.telephone,
                email=cfa.contact_email or cfa.email)


def _base(session, ref: str) -> dict:
    action = session.action
    return dict(
        dossier={"id": ref}, cfa=_cfa(action.cfa), issued_on=date.today(),
        action=dict(intitule=action.intitule, objectifs=action.objectifs,
                    public_vise=action.public_vise, duree=_hours(action.duree_heures) or None),
        session=dict(dates=_dates(session), horaires=_times(session), lieu=session.lieu,
                     organisateur=_organiser(session)))


def _person(inscription) -> dict:
    return dict(name=inscription.user.full_name, email=inscription.user.email)


def _structure(structure) -> dict:
    etab = next((e for e in structure.etablissements if not e.en_attente), None)
    address = None
    if etab is not None:
        street = " ".join(p for p in (etab.adresse_numero, etab.adresse_voie) if p)
        address = ", ".join(p for p in (street, " ".join(
            p for p in (etab.code_postal, etab.commune) if p)) if p) or None
    referent = structure.referent
    return dict(raison_sociale=structure.raison_sociale, siren=structure.siren,
                siret=etab.siret if etab is not None else None, adresse=address,
                representant=referent.full_name if referent is not None else None)


def _ref(session, inscription=None) -> str:
    return f"AF-{session.id}" + (f"-{inscription.id}" if inscription is not None else "")


# ---- the convocation --------------------------------------------------------------------------

def _convocations_sent(inscription) -> int:
    return db.session.scalar(select(func.count(InscriptionHistory.id)).where(
        InscriptionHistory.inscription_id == inscription.id,
        InscriptionHistory.comment.in_((SENT, RESENT)))) or 0


def invitation(inscription, *, stamp: datetime | None = None) -> str:
    """The calendar invitation of the convocation; its UID is the request's and its sequence
    the number of convocations sent before, so a convocation sent again updates the same event."""
    session, action = inscription.session, inscription.session.action
    domain = urlsplit(current_app.config.get("PUBLIC_BASE_URL") or "").hostname or \
        "sillon.local"
    cfa = action.cfa
    organiser = session.organisateur.email if session.organisateur is not None else \
        (cfa.contact_email or cfa.email)
    try:
        return ics_event(
            uid=f"inscription-{inscription.id}@{domain}",
            start=datetime.combine(session.date_debut, session.heure_debut or DEFAULT_START),
            end=datetime.combine(session.date_fin, session.heure_fin or DEFAULT_END),
            summary=action.intitule, location=session.lieu,
            description=(f"Convocation à la formation « {action.intitule} » ({cfa.nom}).\n"
                         "À apporter : " + " ".join(A_APPORTER)),
            organizer_email=organiser, attendee_email=inscription.user.email,
            stamp=stamp or utcnow(), sequence=_convocations_sent(inscription))
    except ValueError as exc:
        raise RequestRefused(f"Invitation d'agenda impossible : {exc}") from None


def _convocation_refusal(inscription, today: date) -> str | None:
    session = inscription.session
    if inscription.state != "retenue":
        return ("La convocation ne s'envoie qu'à une demande retenue : cette demande est "
                f"« {state_label(inscription.state)} ».")
    if session.annulee:
        return "La session est annulée : aucune convocation à envoyer."
    if today > session.date_fin:
        return f"La session s'est terminée le {fr_day(session.date_fin)}."
    return None


def send_convocation(inscription, *, by, today: date | None = None):
    """Send (or send again) the convocation of a retained request: the PDF stored on the
    request, an e-mail to the person (their structure's deciders in copy) with the PDF and the
    calendar invitation. Returns the convocation's Document."""
    require_cfa(by, inscription)
    reason = _convocation_refusal(inscription, today or date.today())
    if reason:
        raise RequestRefused(reason)
    session, resent = inscription.session, inscription.convocation_sent_at is not None
    ctx = {**_base(session, _ref(session, inscription)), "person": _person(inscription),
           "structure": _structure(inscription.structure), "a_apporter": A_APPORTER}
    name = f"convocation-{inscription.id}"
    pdf = store(render_pdf("convocation", ctx), kind="convocation", filename=f"{name}.pdf",
                user=by)
    ics = store(invitation(inscription).encode("utf-8"), kind="convocation_ics",
                filename=f"{name}.ics", user=by, content_type="text/calendar")
    db.session.flush()  # the documents' ids, for the request and the outbox
    inscription.convocation_document_id = pdf.id
    inscription.convocation_sent_at = inscription.updated_at = utcnow()
    deciders = messages._deciders(inscription)
    queue([inscription.user.email, *deciders], "convocation",
          f"[Sillon] {session.action.intitule} du {fr_day(session.date_debut)} : convocation",
          attachments=[pdf, ics], person=inscription.user.full_name,
          action=session.action.intitule, session_dates=_dates(session),
          horaires=_times(session), place=session.lieu, organiser=_organiser(session),
          a_apporter=A_APPORTER, contact=_contact_line(session), resent=resent,
          structure=inscription.structure.raison_sociale, copy_to_employer=bool(deciders),
          link=messages.link(inscription), link_label="Ouvrir la demande")
    _history(inscription, by, inscription.state, inscription.state,
             RESENT if resent else SENT)
    _commit(True)
    return pdf


def _contact_line(session) -> str | None:
    cfa = _cfa(session.action.cfa)
    parts = [p for p in (cfa["contact"], cfa["telephone"], cfa["email"]) if p]
    return " – ".join(parts) or None


# ---- the émargement, the attestation, the convention ------------------------------------------

def attendance_sheet(session: SessionFormation) -> bytes:
    """The émargement: one table per half-day with the retained people and a signature column
    (the route checks the reader is CFA staff)."""
    people = [dict(name=i.user.full_name, structure=i.structure.raison_sociale)
              for i in retained(session)]
    halves = [dict(label=half_day_label(day, half).capitalize())
              for day, half in expected(session)]
    return render_pdf("emargement", {**_base(session, _ref(session)), "people": people,
                                     "half_days": halves})


def attestation(inscription, *, by):
    """The attestation de présence et de fin de formation of a request marked present
    (art. L6353-1: objectives, nature, duration followed), stored on the request and e-mailed
    to the person. Returns the Document."""
    require_cfa(by, inscription)
    if inscription.state != "presente":
        raise RequestRefused("L'attestation se délivre à une personne présente à la session : "
                             f"cette demande est « {state_label(inscription.state)} ».")
    session = inscription.session
    _, present, count = outcome(inscription)
    hours = attended_hours(present, count, session.action.duree_heures)
    ctx = {**_base(session, _ref(session, inscription)), "person": _person(inscription),
           "structure": _structure(inscription.structure), "present": present,
           "expected": count, "hours": _hours(hours)}
    again = inscription.attestation_document_id is not None
    document = store(render_pdf("attestation_formation", ctx), kind="attestation",
                     filename=f"attestation-formation-{inscription.id}.pdf", user=by)
    db.session.flush()
    inscription.attestation_document_id = document.id
    inscription.updated_at = utcnow()
    messages._send([inscription.user.email], inscription, "attestation de fin de formation",
                   "votre attestation de fin de formation est jointe.", user=by,
                   attachments=[document])
    _history(inscription, by, inscription.state, inscription.state,
             f"Attestation de fin de formation {'délivrée à nouveau' if again else 'délivrée'}"
             f" ({_hours(hours)}, {present} demi-journée(s) sur {count})")
    _commit(True)
    return document


def convention(session: SessionFormation, structure) -> bytes:
    """The convention de formation between the CFA and a structure for this session: the
    parties, the action, the structure's retained trainees, the price × trainees
    (art. L6353-1 and following; the route checks the reader is CFA staff)."""
    trainees = [i.user.full_name for i in retained(session, structure.id)]
    price = session.action.prix
    total = Decimal(price) * len(trainees) if price is not None else None
    return render_pdf("convention_action", {
        **_base(session, f"{_ref(session)}-S{structure.id}"), "structure": _structure(structure),
        "trainees": trainees, "price": price, "total": total})


# ---- the reminder -----------------------------------------------------------------------------

def _due_sessions(today: date) -> list[SessionFormation]:
    return list(db.session.scalars(select(SessionFormation).where(
        SessionFormation.rappel_envoye_at.is_(None), SessionFormation.annulee.is_(False),
        SessionFormation.date_debut > today,
        SessionFormation.date_debut <= today + timedelta(days=REMINDER_DAYS))
        .order_by(SessionFormation.date_debut, SessionFormation.id)))


def _remind(session, today: date) -> int:
    people = [i for i in retained(session) if i.state == "retenue"]
    days = (session.date_debut - today).days
    for inscription in people:
        queue([inscription.user.email], "rappel_session",
              f"[Sillon] {session.action.intitule} du {fr_day(session.date_debut)} : rappel",
              person=inscription.user.full_name, action=session.action.intitule, days=days,
              session_dates=_dates(session), horaires=_times(session), place=session.lieu,
              contact=_contact_line(session), link=messages.link(inscription),
              link_label="Ouvrir la demande")
        _history(inscription, None, "retenue", "retenue",
                 f"Rappel envoyé {days} jour(s) avant la session")
    if people:
        session.rappel_envoye_at = utcnow()
    return len(people)


def send_reminders(today: date | None = None) -> int:
    """The reminder e-mail, a week before each session, to its retained people; once per
    session (rappel_envoye_at), one transaction per session. Called by the daily reminders
    job (portal/tasks.py). Returns how many e-mails were queued."""
    today = today or date.today()
    count = 0
    for session in _due_sessions(today):
        try:
            sent = _remind(session, today)
            _commit(True)
        except AlreadyDone:  # another run reminded this session meanwhile
            continue
        count += sent
    return count
