"""A signer's steps, through their personal link: open it (the document shown), ask for a
code, sign with it (« Lu et approuvé »), or refuse with a reason. The last signature seals
the document (seal.py) and returns it as the signed copy, as a paper return would
(portal.dossiers.service). Each step commits once or raises SignatureRefused, nothing done.

Refusals keep one French wording per cause, and the page shows it next to the field."""
from __future__ import annotations

from hashlib import sha256

from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from portal.auth import throttle
from portal.dossiers import service as dossier_service
from portal.extensions import db
from portal.models import OutboxEmail
from portal.models.documents import agreed
from portal.models.people import utcnow
from portal.models.signatures import SignatureRequest, Signer
from portal.rules.formatting import moment
from portal.rules.signature import ROLE_LABELS, ROLE_NAMES

from . import links, mails
from .service import (ALREADY, AlreadyDone, Client, SignatureRefused, cfa_name,
                      end_request, record, running)
from .steps import (CANCELLED, DOCUMENTS, REFUSED, RUNNING, SIGNED, SIGNED_KIND, SIGNER_REFUSED,
                    SIGNER_SIGNED, TURN, WAITING)

NOT_VALID = "Ce lien de signature n'est pas valable."
METHOD = ("Signature électronique simple : lien personnel envoyé par e-mail et code à usage "
          "unique envoyé par e-mail")


class LinkRefused(SignatureRefused):
    """The link opens nothing (unknown, forged, used, expired, request over)."""


def find(token: str) -> Signer:
    """The signer of a personal link, or LinkRefused saying why in French (a forged or
    unknown link says only that it is not valid)."""
    signer_id = links.signer_id_of(token)
    signer = db.session.get(Signer, signer_id, options=[
        selectinload(Signer.request).selectinload(SignatureRequest.signers)]) \
        if signer_id else None
    if signer is None or not links.token_matches(token, signer):
        raise LinkRefused(NOT_VALID)
    request = signer.request
    if signer.status == SIGNER_SIGNED:
        raise LinkRefused(f"Vous avez signé ce document le {moment(signer.signed_at)} : ce "
                          "lien ne sert plus.")
    if signer.status == SIGNER_REFUSED:
        raise LinkRefused("Vous avez refusé de signer ce document : ce lien ne sert plus.")
    if request.status != RUNNING:
        raise LinkRefused("Cette demande de signature est terminée : ce lien ne sert plus.")
    if signer.link_expires_at <= utcnow():
        raise LinkRefused(f"Ce lien a expiré le {moment(signer.link_expires_at)} : demandez "
                          "au CFA de vous en renvoyer un.")
    return signer


def document_bytes(signer: Signer) -> bytes:
    """The unsigned document as it was sent for signature (its hash checked)."""
    document = signer.request.source_document
    data = bytes(document.data) if document is not None and document.data is not None else b""
    if sha256(data).hexdigest() != signer.request.source_sha256:
        raise SignatureRefused("Le document à signer a changé depuis l'envoi : le CFA doit "
                               "relancer la signature.")
    return data


def opened(signer: Signer, client: Client) -> None:
    record(signer.request, "lien_ouvert", signer=signer, client=client,
           sha256=signer.request.source_sha256)
    db.session.commit()


def waiting_for(signer: Signer) -> str | None:
    """Who must sign before this signer, in French; None when it is their turn."""
    if signer.status == TURN:
        return None
    before = [s for s in signer.request.signers
              if s.position < signer.position and s.status != SIGNER_SIGNED]
    names = " puis ".join(f"{ROLE_NAMES.get(s.role, s.role)} ({s.name})" for s in before)
    return f"Ce n'est pas encore votre tour : {names} doit signer avant vous."


def _your_turn(signer: Signer) -> None:
    reason = waiting_for(signer)
    if reason:
        raise SignatureRefused(reason)


def send_code(signer: Signer, client: Client) -> None:
    """A new 6-digit code by e-mail (valid links.CODE_MINUTES, MAX_TRIES tries); at most
    MAX_CODES_PER_HOUR an hour."""
    _your_turn(signer)
    over = throttle.take({f"signature-code:{signer.id}": links.MAX_CODES_PER_HOUR}, 3600)
    if over:
        raise SignatureRefused("Vous avez demandé trop de codes : réessayez dans une heure.",
                               "code")
    value = links.new_code()
    signer.code_hash = links.code_hash(signer, value)
    signer.code_expires_at = utcnow() + links.code_lifetime()
    signer.code_attempts = 0
    signer.codes_sent = (signer.codes_sent or 0) + 1
    mails.code(signer, value)
    record(signer.request, "code_envoye", signer=signer, client=client, detail=signer.email)
    _commit()


def sign(signer: Signer, *, code: str, approved: bool, client: Client) -> bool:
    """Sign with the code; True when it was the last signature (the document sealed)."""
    _your_turn(signer)
    if not approved:
        raise SignatureRefused("Cochez « Lu et approuvé » pour signer.", "lu_et_approuve")
    _check_code(signer, code, client)
    data = document_bytes(signer)
    request, now = signer.request, utcnow()
    signer.status, signer.signed_at = SIGNER_SIGNED, now
    signer.ip, signer.user_agent = client.ip, client.user_agent
    signer.code_hash = None
    record(request, "signature", signer=signer, client=client, sha256=request.source_sha256,
           detail=f"{signer.name} – {ROLE_LABELS.get(signer.role, signer.role)} : "
                  "« Lu et approuvé », code vérifié.")
    following = next((s for s in request.signers if s.status == WAITING), None)
    if following is not None:
        following.status, following.turn_started_at = TURN, now
        following.link_expires_at = max(following.link_expires_at,
                                         now + links.link_lifetime())
        mails.turn(following)
        record(request, "tour", signer=following, detail=following.email)
    else:
        _seal(request, data, client)
    _commit()
    return following is None


def _check_code(signer: Signer, code: str, client: Client) -> None:
    if not signer.code_hash:
        raise SignatureRefused("Demandez d'abord votre code : il vous est envoyé par e-mail.",
                               "code")
    if signer.code_attempts >= links.MAX_TRIES:
        raise SignatureRefused("Ce code est bloqué après trop d'essais : demandez-en un "
                               "nouveau.", "code")
    if signer.code_expires_at <= utcnow():
        raise SignatureRefused("Ce code a expiré : demandez-en un nouveau.", "code")
    if links.code_matches(signer, code):
        return
    signer.code_attempts += 1
    left = links.MAX_TRIES - signer.code_attempts
    record(signer.request, "code_bloque" if left == 0 else "code_refuse", signer=signer,
           client=client)
    _commit()
    if left == 0:
        raise SignatureRefused("Code erroné. Ce code est maintenant bloqué : demandez-en un "
                               "nouveau.", "code")
    raise SignatureRefused(f"Code erroné : il vous reste {left} essai{'s' if left > 1 else ''}.",
                           "code")


def refuse(signer: Signer, *, reason: str, client: Client) -> None:
    """The signer refuses: every running request of the dossier ends, the dossier goes back
    for correction with the reason, and everyone is told."""
    reason = (reason or "").strip()
    if not reason:
        raise SignatureRefused("Indiquez pourquoi vous refusez de signer.", "motif")
    refused(signer.request, signer, reason, client)
    _commit()


def refused(request: SignatureRequest, signer: Signer | None, reason: str,
            client: Client | None = None) -> None:
    """A refusal (here or at a provider): every running request of the dossier ends, the
    dossier goes back for correction with the reason, everyone is told. No commit."""
    if signer is not None:
        signer.status = SIGNER_REFUSED
    record(request, "refus", signer=signer, client=client, sha256=request.source_sha256,
           detail=reason)
    comment = refusal_comment(request, signer, reason)
    dossier = request.dossier
    for each in running(dossier):
        if each is request:
            end_request(each, REFUSED, reason, signer=signer, client=client)
        else:
            end_request(each, CANCELLED, f"Annulée : {comment}", signer=signer, client=client)
    dossier_service.signature_refused(dossier, comment,
                                      by=signer.user if signer is not None else None)
    # The workflow's e-mail told the parties, the CFA and the managers; the others (a legal
    # representative) hear it from here.
    told = {e.recipients for e in db.session.new if isinstance(e, OutboxEmail)}
    mails.to_signers(request, "La signature électronique a été refusée.", comment,
                     told={a for r in told for a in r.split(",")})


def refusal_comment(request: SignatureRequest, signer: Signer | None, reason: str) -> str:
    who = f" par {signer.name} – {ROLE_LABELS.get(signer.role, signer.role)}" if signer else ""
    return f"Refus de signer {mails.ARTICLES[request.document]}{who} : {reason}"


def _seal(request: SignatureRequest, data: bytes, client: Client) -> None:
    from flask import current_app

    from .certificate import sealing_identity
    from .seal import SignerLine, seal, signature_page_pdf
    dossier, now = request.dossier, utcnow()
    lines = [SignerLine(name=s.name, role_label=ROLE_LABELS.get(s.role, s.role), email=s.email,
                        signed_at=s.signed_at, method=METHOD, ip=s.ip)
             for s in request.signers]
    page = signature_page_pdf(title=DOCUMENTS[request.document], dossier_number=dossier.id,
                              apprentice=dossier.apprenti_nom_complet,
                              source_sha256=request.source_sha256, signers=lines,
                              sealed_at=now, cfa_name=cfa_name(dossier))
    sealed = seal(data, page, sealing_identity(current_app._get_current_object()),
                  reason=f"{DOCUMENTS[request.document]} "
                         f"{agreed(SIGNED_KIND[request.document], 'signé')} électroniquement par "
                         + ", ".join(s.name for s in request.signers))
    kind = SIGNED_KIND[request.document]
    filename = f"{request.document}-signe-electroniquement.pdf"
    # Signed first: the dossier's move this may cause ends only the requests still running.
    request.status, request.finished_at = SIGNED, now
    document = dossier_service.return_signed_electronically(dossier, kind, sealed, filename,
                                                            by=request.created_by)
    request.signed_document, request.signed_sha256 = document, document.sha256
    record(request, "scellement", client=client, sha256=document.sha256,
           detail=f"Empreinte du document signé : {document.sha256}")
    article = mails.ARTICLES[request.document]
    mails.to_signers(request, f"{article[0].upper()}{article[1:]} est signé par tous.",
                     "Le document signé et scellé est disponible dans l'onglet Suivi – Info "
                     "du dossier.")


def _commit() -> None:
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise AlreadyDone(ALREADY) from None
