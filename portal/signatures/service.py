"""The one write path of the electronic signature: the CFA starts it (a request per document
not yet returned signed, its signers in order), cancels it, and the reminders go out; a
signer's steps are in signing.py. The dossier itself changes only through
portal.dossiers.service (its history, the sealed documents, a refusal's return for
correction). Each function commits once, or raises SignatureRefused with nothing changed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from portal import policy
from portal.documents.uploads import latest
from portal.dossiers import documents as dossier_documents
from portal.dossiers import service as dossier_service
from portal.dossiers.workflow import STATES, state_label
from portal.extensions import db
from portal.models import Dossier
from portal.models.people import utcnow
from portal.models.signatures import SignatureEvent, SignatureRequest, Signer
from portal.rules import signature as rules

from . import links, mails
from .steps import (CANCELLED, DOCUMENTS, RUNNING, SIGNED_KIND, SIGNER_CANCELLED, TURN,
                    WAITING)

REMIND_AFTER = timedelta(days=3)
ALREADY = "Cette signature a changé entre-temps : rechargez la page pour la voir telle qu'elle est."


class SignatureRefused(Exception):
    """A refusal in French; ``field`` names the form field it belongs next to."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class AlreadyDone(SignatureRefused):
    """Someone else did it first (two clicks, two tabs): nothing more to do."""


@dataclass(frozen=True)
class Client:
    """Where an action comes from, for the evidence file."""

    ip: str | None = None
    user_agent: str | None = None

    @classmethod
    def of(cls, request) -> "Client":
        from portal.auth.throttle import client_ip
        return cls(client_ip(), (request.headers.get("User-Agent") or "")[:300] or None)


def record(request: SignatureRequest, kind: str, *, signer: Signer | None = None, user=None,
           client: Client | None = None, sha256: str | None = None,
           detail: str | None = None) -> SignatureEvent:
    event = SignatureEvent(request=request, signer=signer, user_id=getattr(user, "id", None),
                           kind=kind, ip=client.ip if client else None,
                           user_agent=client.user_agent if client else None,
                           document_sha256=sha256, detail=detail, at=utcnow())
    db.session.add(event)
    return event


def cfa_name(dossier) -> str:
    formation = dossier.formation
    cfa = getattr(formation, "cfa", None)
    return getattr(cfa, "nom", None) or current_app.config.get("CFA_NAME") or "Le CFA"


# --- who signs -------------------------------------------------------------------------------

def _person(role, first, last, email, user=None):
    if not email:
        return None
    return rules.Person(role, (first or "").strip(), (last or "").strip(),
                        email.strip().lower(), getattr(user, "id", None))


def signer_plan(dossier, cfa_user) -> tuple[list[rules.Person], list[str]]:
    """The signers of the dossier's documents, in order, and what is missing to ask them."""
    contact = dossier.employer_contact
    if dossier.responsable_email:
        employer = _person(rules.EMPLOYER, dossier.responsable_prenom, dossier.responsable_nom,
                           dossier.responsable_email,
                           contact if contact is not None and contact.email.lower()
                           == dossier.responsable_email.strip().lower() else None)
    elif contact is not None:
        employer = _person(rules.EMPLOYER, contact.first_name, contact.last_name,
                           contact.email, contact)
    else:
        employer = None
    apprentice = _person(rules.APPRENTICE, dossier.apprenti_prenom, dossier.apprenti_nom,
                         dossier.apprenti_email, dossier.apprentice_user)
    rep = dossier.representant_legal
    legal = _person(rules.LEGAL_REP, rep.prenom, rep.nom, rep.email) if rep else None
    advisor = dossier.cfa_conseiller or cfa_user
    cfa = _person(rules.CFA, advisor.first_name, advisor.last_name, advisor.email, advisor)
    contrat = dossier.contrat
    conclusion = (contrat.date_conclusion if contrat is not None else None) \
        or dossier.date_debut_contrat
    emancipated = bool(getattr(dossier.apprenti, "emancipe", False))
    minor = rules.needs_legal_representative(dossier.apprenti_date_naissance, conclusion,
                                             emancipated)
    return rules.signer_plan({rules.EMPLOYER: employer, rules.APPRENTICE: apprentice,
                              rules.LEGAL_REP: legal, rules.CFA: cfa}, minor=minor)


# --- reading ----------------------------------------------------------------------------------

def requests_of(dossier) -> list[SignatureRequest]:
    """The dossier's requests, the latest of each document first."""
    return list(db.session.scalars(select(SignatureRequest).where(
        SignatureRequest.dossier_id == dossier.id).order_by(SignatureRequest.id.desc())))


def running(dossier) -> list[SignatureRequest]:
    return [r for r in requests_of(dossier) if r.status == RUNNING]


def current_signer(request: SignatureRequest) -> Signer | None:
    return next((s for s in request.signers if s.status == TURN), None)


# --- the CFA starts, cancels -----------------------------------------------------------------

def start(dossier: Dossier, *, by, client: Client | None = None) -> list[SignatureRequest]:
    """Send the CERFA and the convention (those not yet returned signed) for signature."""
    reason = policy.signature_start_refusal(by, dossier)
    if reason:
        raise SignatureRefused(reason)
    if running(dossier):
        raise AlreadyDone("La signature électronique de ce dossier est déjà en cours.")
    todo = [doc for doc in DOCUMENTS if latest(dossier, SIGNED_KIND[doc]) is None]
    if not todo:
        raise SignatureRefused("Le CERFA et la convention signés sont déjà déposés.")
    plan, missing = signer_plan(dossier, by)
    if missing:
        raise SignatureRefused("Il manque " + ", ".join(missing) + " pour lancer la "
                               "signature électronique (onglets du dossier).")
    from .external import provider_name
    provider = provider_name()
    created = []
    try:
        for document in todo:
            created.append(_new_request(dossier, document, plan, by=by, client=client,
                                        provider=provider))
        labels = " et ".join(DOCUMENTS[doc] for doc in todo)
        dossier_service.note_signature(
            dossier, f"Signature électronique lancée : {labels} (signataires dans l'ordre : "
                     + ", ".join(f"{p.first_name} {p.last_name} – {rules.ROLE_LABELS[p.role]}"
                                 for p in plan) + ").", by=by)
        db.session.flush()
        if provider != "interne":
            from .external import send
            for request in created:
                send(request)
        else:
            for request in created:
                _invite_all(request)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise AlreadyDone("La signature électronique de ce dossier vient d'être lancée.") \
            from None
    return created


def _new_request(dossier, document, plan, *, by, client, provider) -> SignatureRequest:
    data, _ = dossier_documents.document_bytes(document, dossier, by)  # stored: locked
    source = latest(dossier, document)
    now = utcnow()
    request = SignatureRequest(dossier=dossier, document=document, provider=provider,
                               status=RUNNING, source_document=source,
                               source_sha256=source.sha256, created_by=by, created_at=now)
    for position, person in enumerate(plan, start=1):
        request.signers.append(Signer(
            position=position, role=person.role, first_name=person.first_name,
            last_name=person.last_name, email=person.email, user_id=person.user_id,
            status=TURN if position == 1 else WAITING, nonce=links.new_nonce(),
            turn_started_at=now if position == 1 else None,
            link_expires_at=now + links.link_lifetime()))
    db.session.add(request)
    record(request, "demande_creee", user=by, client=client, sha256=source.sha256,
           detail=f"{DOCUMENTS[document]} envoyé en signature ({provider}).")
    return request


def _invite_all(request: SignatureRequest) -> None:
    name = cfa_name(request.dossier)
    for signer in request.signers:
        mails.invitation(signer, your_turn=signer.status == TURN, cfa_name=name)
        record(request, "invitation", signer=signer, detail=signer.email)


def cancel(dossier: Dossier, *, by, reason: str, client: Client | None = None) -> int:
    """The CFA cancels the running requests (to correct and start again)."""
    refusal = policy.signature_cancel_refusal(by, dossier)
    if refusal:
        raise SignatureRefused(refusal)
    reason = (reason or "").strip()
    if not reason:
        raise SignatureRefused("Indiquez pourquoi vous annulez la signature.", "motif")
    requests = running(dossier)
    if not requests:
        raise AlreadyDone("Aucune signature électronique n'est en cours sur ce dossier.")
    try:
        for request in requests:
            end_request(request, CANCELLED, reason, by=by, client=client)
            mails.to_signers(request, "La signature électronique a été annulée par le CFA.",
                             f"Motif : {reason}")
        dossier_service.note_signature(
            dossier, f"Signature électronique annulée par le CFA : {reason}", by=by)
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise AlreadyDone(ALREADY) from None
    return len(requests)


def end_request(request, status: str, reason: str | None, *, by=None, signer=None,
                client=None) -> None:
    """The request is over: its links open only a page saying so (signing.find), its codes
    are void."""
    request.status, request.reason, request.finished_at = status, reason, utcnow()
    for each in request.signers:
        if each.status in (WAITING, TURN):
            each.status = SIGNER_CANCELLED
        each.code_hash = None
    if status == CANCELLED:
        record(request, "annulation", signer=signer, user=by, client=client, detail=reason)
        if request.provider != "interne" and request.external_id:
            from .external import cancel_remote
            cancel_remote(request, reason or "")


# --- the dossier moves on without the signature ----------------------------------------------

def on_transition(code, *, dossier, source, target, user=None, **_):
    """Receiver of portal.dossiers.signals.transition_applied (inside its transaction): a
    dossier that leaves the state where it is signed — sent back for correction, cancelled,
    broken off, its paper documents returned — ends its running signatures (the document they
    sign is no longer the one to sign), and their signers are told."""
    state, after = STATES.get(source or ""), STATES.get(target or "")
    if state is None or not state.e_signature or (after is not None and after.e_signature):
        return
    for request in running(dossier):
        reason = f"Le dossier est passé à l'état « {state_label(target)} »."
        end_request(request, CANCELLED, reason, by=user)
        mails.to_signers(request, "La signature électronique est annulée : le dossier a "
                                  "changé.", reason)


def on_signed_returned(kind, *, dossier, user=None, **_):
    """Receiver of portal.dossiers.signals.signed_returned: a document returned signed on
    paper ends the running signature of that document (the one being sealed is no longer
    running)."""
    for request in running(dossier):
        if SIGNED_KIND[request.document] == kind:
            reason = "Le document signé a été déposé sur papier."
            end_request(request, CANCELLED, reason, by=user)
            mails.to_signers(request, "La signature électronique est annulée : le document "
                                      "signé a été déposé.", reason)


def init_app(app) -> None:
    from portal.dossiers import signals
    signals.transition_applied.connect(on_transition, weak=False)
    signals.signed_returned.connect(on_signed_returned, weak=False)


# --- reminders (the worker, daily) -----------------------------------------------------------

def remind_due(now=None) -> int:
    """Remind each signer whose turn came REMIND_AFTER ago (and every REMIND_AFTER since the
    last reminder) without signing. Returns how many were reminded; commits."""
    now = now or utcnow()
    due = now - REMIND_AFTER
    signers = db.session.scalars(
        select(Signer).join(SignatureRequest)
        .where(SignatureRequest.status == RUNNING, SignatureRequest.provider == "interne",
               Signer.status == TURN, Signer.turn_started_at <= due,
               (Signer.reminded_at.is_(None)) | (Signer.reminded_at <= due))).all()
    for signer in signers:
        signer.reminded_at = now
        if signer.link_expires_at < now + REMIND_AFTER:
            signer.link_expires_at = now + links.link_lifetime()
        mails.turn(signer, reminder=True)
        record(signer.request, "rappel", signer=signer, detail=signer.email)
    db.session.commit()
    return len(signers)
