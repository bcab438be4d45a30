"""Documents of a dossier: downloads /admin/dossier/<id>/documents/<kind>/ (by dossier in scope and
kind only: no file is reachable by guessing a URL), the ZIP list action, and the employer's
signed returns /admin/dossier/<id>/retour/<kind>/. Scoped through DossierView.get_one; the rules
are in portal.documents.

A refused signed return is told next to its file field on the Suivi tab (upload_refusal, read
once by the template). A body above the server's MAX_CONTENT_LENGTH (413, raised while the form
is parsed, before the view) is answered the same way for this view, and on the dossier's tab
for the other uploads of the dossier (financing), never by the bare error page."""
from __future__ import annotations

import io
import zipfile

from flask import abort, flash, redirect, render_template, request, send_file, session
from flask_admin.actions import action
from flask_admin import expose
from flask_login import current_user

from portal import policy
from portal.dossiers.documents import KINDS, document_bytes, why_not
from portal.documents.uploads import MAX_BYTES, SIGNED_KINDS, too_large, too_large_message
from portal.dossiers import service
from portal.extensions import db
from portal.models import Dossier
from portal.models.documents import DOCUMENT_KINDS, agreed

REFUSAL_KEY = "sillon_upload_refusal"  # {dossier, kind, message}, read once by the template


def _refuse(dossier_id: int, kind: str, message: str) -> None:
    session[REFUSAL_KEY] = {"dossier": dossier_id, "kind": kind, "message": message}


class DossierUploadsMixin:

    upload_max_bytes = MAX_BYTES  # the per-kind limit of a signed return, checked in the browser
    agreed = staticmethod(agreed)  # for the templates: "pas encore déposée"

    def upload_size_message(self) -> str:
        return too_large_message(self.upload_max_bytes)

    def upload_refusal(self, dossier_id: int, kind: str) -> str | None:
        """The refusal of the last upload of ``kind`` on this dossier, once."""
        refusal = session.get(REFUSAL_KEY)
        if not refusal or refusal.get("dossier") != dossier_id or refusal.get("kind") != kind:
            return None
        session.pop(REFUSAL_KEY, None)
        return refusal.get("message")

    def create_blueprint(self, admin):
        blueprint = super().create_blueprint(admin)
        blueprint.register_error_handler(413, self._too_large_body)
        return blueprint

    def _too_large_body(self, exc):
        """The body was refused before the view: back to the dossier's page with the message
        (nothing was read, nothing is saved)."""
        args = request.view_args or {}
        dossier_id = args.get("dossier_id")
        if not isinstance(dossier_id, int) or self.get_one(dossier_id) is None:
            # Not a dossier's page (or not one of the reader's): the error page.
            return render_template("error.html", code=413, title="Fichier trop volumineux",
                                   text=too_large(request.content_length)), 413
        message = too_large(request.content_length)
        endpoint = (request.endpoint or "").rsplit(".", 1)[-1]
        if endpoint == "upload_signed_view" and args.get("kind") in SIGNED_KINDS:
            _refuse(dossier_id, args["kind"], message)
            tab = "suivi"
        else:
            flash(message, "error")
            tab = "financement" if "financing" in endpoint else "suivi"
        return redirect(self.get_url(".tab_view", dossier_id=dossier_id, tab_code=tab)
                        + (f"#depot-{args['kind']}" if tab == "suivi" and args.get("kind")
                           in SIGNED_KINDS else ""))

    @expose("/<int:dossier_id>/retour/<kind>/", methods=("POST",))
    def upload_signed_view(self, dossier_id, kind):
        dossier = self.get_one(dossier_id)
        if dossier is None or kind not in SIGNED_KINDS:
            abort(404)
        back = redirect(self.get_url(".tab_view", dossier_id=dossier_id, tab_code="suivi")
                        + f"#depot-{kind}")
        reason = policy.upload_refusal(current_user, dossier)
        if reason:  # no file field on their page: told at the top of it
            flash(reason, "error")
            return back
        upload = request.files.get("fichier")
        if upload is None or not upload.filename:
            _refuse(dossier_id, kind, "Choisissez le fichier PDF signé à déposer.")
            return back
        data = upload.stream.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            _refuse(dossier_id, kind, too_large(request.content_length))
            return back
        try:
            document = service.upload_signed(dossier, kind, data, upload.filename,
                                             by=current_user)
        except service.WriteRefused as exc:
            db.session.rollback()
            _refuse(dossier_id, kind, str(exc))
            return back
        flash(f"{DOCUMENT_KINDS[kind]} {agreed(kind, 'déposé')} : {document.filename}.",
              "success")
        return back

    @expose("/<int:dossier_id>/documents/<kind>/", methods=("GET",))
    def document_view(self, dossier_id, kind):
        dossier = self.get_one(dossier_id)
        if dossier is None or kind not in KINDS:
            abort(404)
        reason = why_not(kind, dossier)
        if reason:
            return self.render("admin/dossier/document_unavailable.html", dossier=dossier,
                               label=DOCUMENT_KINDS[kind], reason=reason), 409
        data, name = document_bytes(kind, dossier, current_user)
        return send_file(io.BytesIO(data), mimetype="application/pdf", as_attachment=True,
                         download_name=name)

    @action("telecharger_documents", "Télécharger les documents (ZIP)")
    def action_download_documents(self, ids):
        out = io.BytesIO()
        skipped = []
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for pk in ids:  # re-filtered through the scope by the base view
                dossier = db.session.get(Dossier, pk)
                for kind in KINDS:
                    reason = why_not(kind, dossier)
                    if reason:
                        skipped.append(f"Dossier n° {pk} – {DOCUMENT_KINDS[kind]} : {reason}")
                        continue
                    data, name = document_bytes(kind, dossier, current_user)
                    archive.writestr(f"dossier-{pk}/{name}", data)
            archive.writestr("LISEZMOI.txt", "Documents non inclus :\n" + (
                "\n".join(skipped) if skipped else "aucun") + "\n")
        out.seek(0)
        return send_file(out, mimetype="application/zip", as_attachment=True,
                         download_name="documents-sillon.zip")
