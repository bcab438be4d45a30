"""The training's calendar and programme: /admin/formation/<id>/fichiers/ (the manager of the
training or the cfa_admin uploads; every dossier of the training offers them). Scoped through
FormationView.get_one; rights from portal.policy.may_edit."""
from __future__ import annotations

from flask import abort, flash, redirect, request
from flask_admin import expose
from flask_login import current_user

from portal import policy
from portal.documents.uploads import MAX_BYTES, UploadRefused, check_pdf, safe_name, store
from portal.extensions import db
from portal.models.documents import DOCUMENT_KINDS, agreed

FILE_KINDS = ("calendrier", "programme")


class FormationFilesMixin:

    @expose("/<int:formation_id>/fichiers/", methods=("GET", "POST"))
    def files_view(self, formation_id):
        formation = self.get_one(formation_id)
        if formation is None:
            abort(404)
        may_upload = policy.may_edit(current_user, formation)
        if request.method == "POST":
            kind = request.form.get("kind")
            upload = request.files.get("fichier")
            if not may_upload:
                flash("Seul le responsable de la formation dépose ces fichiers.", "error")
            elif kind not in FILE_KINDS or upload is None or not upload.filename:
                flash("Choisissez le type de fichier et le PDF à déposer.", "error")
            else:
                data = upload.stream.read(MAX_BYTES + 1)
                try:
                    check_pdf(data)
                    store(data, kind=kind, filename=safe_name(upload.filename, kind, None),
                          user=current_user, formation=formation)
                    db.session.commit()
                    flash(f"{DOCUMENT_KINDS[kind]} {agreed(kind, 'déposé')}.", "success")
                except UploadRefused as exc:
                    db.session.rollback()
                    flash(str(exc), "error")
            return redirect(self.get_url(".files_view", formation_id=formation_id))
        files = [(kind, DOCUMENT_KINDS[kind], formation.latest_document(kind))
                 for kind in FILE_KINDS]
        return self.render("admin/formation_files.html", formation=formation, files=files,
                           may_upload=may_upload)
