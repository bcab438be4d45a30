"""A signature through a provider (SIGNATURE_PROVIDER = "yousign"): the request is created at
the provider, which e-mails the signers and signs; its webhooks (their HMAC checked) move
the request on; the signed file is fetched from it when all have signed and returned as the
signed copy (portal.dossiers.service), as with the built-in signature.

The built-in signature ("interne", the default) needs none of this: service.py and
signing.py are its implementation of the same steps."""
from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from portal.dossiers import service as dossier_service
from portal.extensions import db
from portal.models.people import utcnow
from portal.models.signatures import SignatureRequest
from portal.rules.signature import ROLE_LABELS

from . import mails
from .providers import provider_for
from .providers.base import ProviderError, ProviderSigner
from .service import AlreadyDone, SignatureRefused, end_request, record
from .steps import (CANCELLED, DOCUMENTS, RUNNING, SIGNED, SIGNED_KIND, SIGNER_SIGNED, TURN,
                    WAITING)


def provider_name() -> str:
    return (current_app.config.get("SIGNATURE_PROVIDER") or "interne").strip().lower()


def _provider():
    provider = provider_for(current_app.config)
    if provider is None:
        raise SignatureRefused("Aucun prestataire de signature n'est configuré.")
    return provider


def send(request: SignatureRequest) -> None:
    """Create the request at the provider (no commit: the caller commits with it)."""
    document = request.source_document
    signers = [ProviderSigner(first_name=s.first_name, last_name=s.last_name, email=s.email,
                              role=s.role) for s in request.signers]
    try:
        created = _provider().create(
            bytes(document.data), document.filename, signers,
            title=f"{DOCUMENTS[request.document]} – dossier n° {request.dossier_id}",
            external_id=f"sillon-{request.id}")
    except ProviderError as exc:
        raise SignatureRefused(str(exc)) from None
    request.external_id, request.external_document_id = created.request_id, created.document_id
    for signer, external in zip(request.signers, created.signer_ids):
        signer.external_id = external
    record(request, "fournisseur", detail=f"Demande créée chez le prestataire "
                                          f"({provider_name()}) : {created.request_id}")


_PENDING = "sillon_remote_cancels"


def cancel_remote(request: SignatureRequest, reason: str) -> None:
    """Cancel the request at the provider once this transaction is committed (the provider
    answers with a webhook, which must find the request already over)."""
    db.session.info.setdefault(_PENDING, []).append((request.external_id, reason))


def _after_commit(session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    provider = provider_for(current_app.config)
    for external_id, reason in pending:
        try:
            provider.cancel(external_id, reason)
        except ProviderError as exc:  # it expires at the provider; the CFA sees it in Sillon
            current_app.logger.warning("Yousign: annulation de %s impossible : %s",
                                       external_id, exc)


def _after_rollback(session) -> None:
    session.info.pop(_PENDING, None)


def init_app(app) -> None:
    from sqlalchemy import event
    from sqlalchemy.orm import Session
    for name, listener in (("after_commit", _after_commit), ("after_rollback", _after_rollback)):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)


def handle_webhook(name: str, body: bytes, headers) -> str:
    """A provider's webhook: refused (PermissionError) unless its signature checks; then the
    event applied once (a repeated event changes nothing). Returns what was done."""
    if name != provider_name() or name == "interne":
        raise LookupError(name)
    provider = _provider()
    if not provider.verify_webhook(body, headers):
        raise PermissionError("signature du webhook invalide")
    try:
        event = provider.parse_event(body)
    except ProviderError:
        return "ignoré"
    request = db.session.scalars(select(SignatureRequest).where(
        SignatureRequest.external_id == event.request_id)).first()
    if request is None or request.status != RUNNING:
        return "ignoré"
    signer = next((s for s in request.signers
                   if event.signer_id and s.external_id == event.signer_id), None)
    at = event.at.replace(tzinfo=None) if isinstance(event.at, datetime) else utcnow()
    record(request, "fournisseur", signer=signer, detail=f"{event.raw_name}")
    if event.kind == "signed" and signer is not None and signer.status != SIGNER_SIGNED:
        signer.status, signer.signed_at = SIGNER_SIGNED, at
        following = next((s for s in request.signers if s.status == WAITING), None)
        if following is not None:
            following.status, following.turn_started_at = TURN, at
        record(request, "signature", signer=signer, sha256=request.source_sha256,
               detail=f"{signer.name} – {ROLE_LABELS.get(signer.role, signer.role)} : signé "
                      "chez le prestataire.")
    elif event.kind == "done":
        _completed(request, provider)
    elif event.kind == "refused":
        from .signing import refused
        refused(request, signer, event.reason or "motif non précisé")
    elif event.kind in ("cancelled", "expired"):
        end_request(request, CANCELLED, f"{event.raw_name} chez le prestataire")
    try:
        db.session.commit()
    except StaleDataError:  # the same request changed meanwhile (another event): try again
        db.session.rollback()
        raise AlreadyDone("changed meanwhile") from None
    return event.kind


def _completed(request: SignatureRequest, provider) -> None:
    try:
        data = provider.fetch_signed(request.external_id, request.external_document_id)
    except ProviderError as exc:
        raise AlreadyDone(str(exc)) from None
    for signer in request.signers:
        if signer.status != SIGNER_SIGNED:
            signer.status, signer.signed_at = SIGNER_SIGNED, signer.signed_at or utcnow()
    request.status, request.finished_at = SIGNED, utcnow()  # before the dossier's move
    document = dossier_service.return_signed_electronically(
        request.dossier, SIGNED_KIND[request.document], data,
        f"{request.document}-signe-{provider_name()}.pdf", by=request.created_by)
    request.signed_document, request.signed_sha256 = document, document.sha256
    record(request, "scellement", sha256=document.sha256,
           detail=f"Document signé récupéré chez le prestataire : {document.sha256}")
    mails.to_signers(request, f"{DOCUMENTS[request.document]} : signé par tous.")

