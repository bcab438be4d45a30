"""Documents of a dossier: downloads /admin/dossier/<id>/documents/<kind>/ (by dossier in scope and
kind only: no file is reachable by guessing a URL), the ZIP list action, and the employer's
signed returns /admin/dossier/<id>/retour/<kind>/. Scoped through DossierView.get_one; the rules
are in portal.documents."""
from __future__ import annotations

import io
import zipfile

from flask import abort, flash, redirect, request, send_file
from flask_admin.actions import action
from flask_admin import expose
from flask_login import current_user

from portal.dossiers.documents import KINDS, document_bytes, why_not
from portal.documents.uploads import MAX_BYTES, SIGNED_KINDS
from portal.dossiers import service
from portal.extensions import db
from portal.models import Dossier
from portal.models.documents import DOCUMENT_KINDS


class DossierUploadsMixin:

    @expose("/<int:dossier_id>/retour/<kind>/", methods=("POST",))
    def upload_signed_view(self, dossier_id, kind):
        dossier = self.get_one(dossier_id)
        if dossier is None or kind not in SIGNED_KINDS:
            abort(404)
        back = redirect(self.get_url(".tab_view", dossier_id=dossier_id, tab_code="suivi"))
        upload = request.files.get("fichier")
        if upload is None or not upload.filename:
            flash("Choisissez le fichier PDF signé à déposer.", "error")
            return back
        data = upload.stream.read(MAX_BYTES + 1)
        try:
            document = service.upload_signed(dossier, kind, data, upload.filename,
                                             by=current_user)
        except service.WriteRefused as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return back
        flash(f"{DOCUMENT_KINDS[kind]} déposé : {document.filename}.", "success")
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
