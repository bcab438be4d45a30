"""The employer's signed returns: /admin/dossier/<id>/retour/<kind>/ (POST, one PDF). Scoped
through DossierView.get_one; every rule in portal.documents.uploads."""
from __future__ import annotations

from flask import abort, flash, redirect, request
from flask_admin import expose
from flask_login import current_user

from portal.documents.uploads import SIGNED_KINDS, MAX_BYTES, UploadRefused, upload_signed
from portal.extensions import db
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
            document = upload_signed(dossier, kind, data, upload.filename, current_user)
            db.session.commit()
        except UploadRefused as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return back
        flash(f"{DOCUMENT_KINDS[kind]} déposé : {document.filename}.", "success")
        return back
