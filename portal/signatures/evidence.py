"""The evidence file of a signature request (« dossier de preuve »): every event with its time,
signer, IP, browser and the document's SHA-256, as JSON (times in UTC, ISO 8601) and as a PDF
summary (times in Paris), downloadable by the CFA and the parties."""
from __future__ import annotations

import json

from flask import render_template

from portal.documents.render import FONTS, _text, html_to_pdf
from portal.models.people import utcnow
from portal.rules.formatting import moment
from portal.rules.signature import ROLE_LABELS

from .signing import METHOD
from .steps import DOCUMENTS, EVENT_LABELS, request_label, signer_label


def _iso(value) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value else None


def facts(request) -> dict:
    """Everything the evidence file says, as plain data."""
    source = request.source_document
    dossier = request.dossier
    return {
        "dossier": dossier.id, "apprentice": dossier.apprenti_nom_complet,
        "document": DOCUMENTS[request.document], "document_code": request.document,
        "source_filename": source.filename if source is not None else "—",
        "source_sha256": request.source_sha256, "signed_sha256": request.signed_sha256,
        "status": request.status, "status_label": request_label(request.status),
        "provider": request.provider,
        "provider_label": "Sillon (signature intégrée)" if request.provider == "interne"
        else request.provider.capitalize(),
        "method": METHOD if request.provider == "interne" else
        f"Signature électronique chez le prestataire {request.provider.capitalize()}",
        "reason": request.reason,
        "created_at": _iso(request.created_at), "created_at_fr": moment(request.created_at),
        "created_by": request.created_by.full_name if request.created_by else "—",
        "finished_at": _iso(request.finished_at),
        "signers": [{
            "position": s.position, "name": s.name, "role": s.role,
            "role_label": ROLE_LABELS.get(s.role, s.role), "email": s.email,
            "status": s.status, "status_label": signer_label(s.status),
            "signed_at": _iso(s.signed_at), "signed_at_fr": moment(s.signed_at),
            "ip": s.ip, "user_agent": s.user_agent} for s in request.signers],
        "events": [{
            "at": _iso(ev.at), "at_fr": moment(ev.at), "kind": ev.kind,
            "label": EVENT_LABELS.get(ev.kind, ev.kind),
            "signer": ev.signer.name if ev.signer is not None else
            (ev.user.full_name if ev.user is not None else None),
            "ip": ev.ip, "user_agent": ev.user_agent, "document_sha256": ev.document_sha256,
            "detail": ev.detail} for ev in request.events],
    }


def as_json(request) -> bytes:
    data = {key: value for key, value in facts(request).items()}
    for signer in data["signers"]:
        signer.pop("signed_at_fr")
    for event in data["events"]:
        event.pop("at_fr")
    data.pop("created_at_fr")
    data["edited_at"] = _iso(utcnow())
    return json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")


def as_pdf(request) -> bytes:
    e = dict(facts(request), edited_fr=moment(utcnow()))
    html = render_template("pdf/signature_evidence.html", e=e, t=_text, fonts=FONTS.as_posix(),
                           dossier=request.dossier)
    return html_to_pdf(html)


def filename(request, ext: str) -> str:
    return f"dossier-{request.dossier_id}-{request.document}-preuve-signature.{ext}"
