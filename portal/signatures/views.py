"""The signer's pages, reached by their personal link (no account: the link and the e-mailed
code are the proof), and the providers' webhooks. Every page is public (portal.public) and
finds its signer through signing.find, the one door of a link; forms carry Flask-WTF's CSRF
token; the webhook's proof is its HMAC (checked by the provider's adapter), not a token.

    GET  /signature/<token>               the document, the signer's status, the forms
    GET  /signature/<token>/document.pdf  the document (shown in the page)
    POST /signature/<token>/code          a new code by e-mail
    POST /signature/<token>/signer        sign: code + « Lu et approuvé »
    POST /signature/<token>/refuser       refuse with a reason
    POST /signature/webhook/<provider>    a provider's event
"""
from __future__ import annotations

import io

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for

from portal.extensions import csrf, db
from portal.public import public
from portal.rules.formatting import moment
from portal.rules.signature import ROLE_LABELS

from . import links, signing
from .service import AlreadyDone, Client, SignatureRefused
from .steps import DOCUMENTS, signer_label

bp = Blueprint("signature", __name__, url_prefix="/signature")
REFUSAL_FIELDS = ("code", "lu_et_approuve", "motif")


def _signer_or_page(token: str):
    """(signer, None) or (None, the page saying why the link opens nothing)."""
    try:
        return signing.find(token), None
    except signing.LinkRefused as exc:
        db.session.rollback()
        return None, (render_template("signature/closed.html", reason=str(exc)), 410
                      if str(exc) != signing.NOT_VALID else 404)


def _page(signer, token: str, *, errors: dict | None = None, status: int = 200):
    request_ = signer.request
    return render_template(
        "signature/sign.html", signer=signer, token=token, sig=request_,
        dossier=request_.dossier, document=DOCUMENTS[request_.document],
        role_label=ROLE_LABELS.get(signer.role, signer.role), signers=request_.signers,
        signer_label=signer_label, roles=ROLE_LABELS, waiting=signing.waiting_for(signer),
        moment=moment, errors=errors or {}, code_minutes=links.CODE_MINUTES,
        tries=links.MAX_TRIES, code_sent=bool(signer.code_hash)), status


@bp.route("/<token>")
@public
def page(token):
    signer, closed = _signer_or_page(token)
    if closed:
        return closed
    signing.opened(signer, Client.of(request))
    return _page(signer, token)


@bp.route("/<token>/document.pdf")
@public
def document(token):
    signer, closed = _signer_or_page(token)
    if closed:
        return closed
    try:
        data = signing.document_bytes(signer)
    except SignatureRefused as exc:
        return render_template("signature/closed.html", reason=str(exc)), 409
    response = send_file(io.BytesIO(data), mimetype="application/pdf", as_attachment=False,
                         download_name=signer.request.source_document.filename)
    response.sillon_frame_same_origin = True  # shown in the signer's page (security_headers)
    return response


def _act(token, action):
    signer, closed = _signer_or_page(token)
    if closed:
        return closed
    try:
        done = action(signer)
    except AlreadyDone as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return redirect(url_for(".page", token=token))
    except SignatureRefused as exc:
        db.session.rollback()
        if exc.field in REFUSAL_FIELDS:
            signer = signing.find(token)  # as committed (a wrong code counted)
            return _page(signer, token, errors={exc.field: str(exc)}, status=422)
        flash(str(exc), "error")
        return redirect(url_for(".page", token=token))
    return done


@bp.route("/<token>/code", methods=["POST"])
@public
def send_code(token):
    def action(signer):
        signing.send_code(signer, Client.of(request))
        flash(f"Un code à 6 chiffres vient de vous être envoyé à {signer.email}. Il est "
              f"valable {links.CODE_MINUTES} minutes.", "info")
        return redirect(url_for(".page", token=token) + "#signer")
    return _act(token, action)


def _done(signer, step, *, refused: bool):
    """Run ``step`` (signing or refusing) and say it is done: the page of the end."""
    name, document_name = signer.name, DOCUMENTS[signer.request.document]
    last = step()
    return render_template("signature/done.html", name=name, document=document_name,
                           last=bool(last) and not refused, refused=refused)


@bp.route("/<token>/signer", methods=["POST"])
@public
def sign(token):
    return _act(token, lambda signer: _done(signer, lambda: signing.sign(
        signer, code=request.form.get("code", ""),
        approved=request.form.get("lu_et_approuve") == "1", client=Client.of(request)),
        refused=False))


@bp.route("/<token>/refuser", methods=["POST"])
@public
def refuse(token):
    return _act(token, lambda signer: _done(signer, lambda: signing.refuse(
        signer, reason=request.form.get("motif", ""), client=Client.of(request)),
        refused=True))


@bp.route("/webhook/<provider>", methods=["POST"])
@public
@csrf.exempt
def webhook(provider):
    from .external import handle_webhook
    body = request.get_data(cache=False)
    try:
        done = handle_webhook(provider, body, request.headers)
    except LookupError:
        abort(404)
    except PermissionError:
        db.session.rollback()
        return {"error": "signature invalide"}, 401
    except AlreadyDone:  # changed meanwhile by another event: the provider sends it again
        return {"error": "conflit, réessayer"}, 409
    except SignatureRefused as exc:
        db.session.rollback()
        return {"error": str(exc)}, 502
    return {"ok": True, "event": done}


def init_app(app) -> None:
    from .external import init_app as init_providers
    from .service import init_app as init_service
    app.register_blueprint(bp)
    init_providers(app)  # a provider's request is cancelled there after the commit
    init_service(app)  # a dossier leaving « Éléments économiques validés » ends its signatures
