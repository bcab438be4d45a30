"""Import of apprentices by the formation (CSV / XLSX), under /admin/formation/<id>/import/.

Upload → preview of every row with its errors (the file is kept in an ImportBatch) → confirm:
the stored bytes are re-read and re-checked, the dossiers of the valid rows are created and
their people invited, in one commit. The training is looked up through FormationView.get_one
(scoped by portal.policy); only the CFA staff and the training's managers and gestionnaires
import. Service code: portal.dossiers.imports; row checks: portal.rules.imports.
"""
from __future__ import annotations

from flask import Response, abort, flash, redirect, request
from flask_admin import expose
from flask_login import current_user
from sqlalchemy import select

from portal import policy
from portal.dossiers import imports
from portal.extensions import db
from portal.models import ImportBatch
from portal.rules.imports import COLUMNS, MAX_ROWS, ImportFileError



class FormationImportMixin:

    def _import_formation(self, formation_id):
        formation = self.get_one(formation_id)
        if formation is None:
            abort(404)
        if not policy.may_import(current_user, formation):
            abort(403)
        return formation

    def _import_batch(self, formation, batch_id) -> ImportBatch:
        batch = db.session.get(ImportBatch, batch_id)
        if batch is None or batch.formation_id != formation.id:
            abort(404)
        return batch

    @expose("/<int:formation_id>/import/", methods=("GET", "POST"))
    def import_view(self, formation_id):
        formation = self._import_formation(formation_id)
        if request.method == "POST":
            upload = request.files.get("fichier")
            if upload is None or not upload.filename:
                flash("Choisissez le fichier à importer (CSV ou Excel .xlsx).", "error")
                return redirect(self.get_url(".import_view", formation_id=formation.id))
            content = upload.stream.read(imports.MAX_BYTES + 1)
            try:
                batch, _ = imports.create_batch(formation, current_user, content,
                                                upload.filename)
                db.session.commit()
            except ImportFileError as exc:
                db.session.rollback()
                flash(str(exc), "error")
                return redirect(self.get_url(".import_view", formation_id=formation.id))
            return redirect(self.get_url(".import_preview_view", formation_id=formation.id,
                                         batch_id=batch.id))
        recent = db.session.execute(
            select(ImportBatch).where(ImportBatch.formation_id == formation.id)
            .order_by(ImportBatch.id.desc()).limit(10)).scalars().all()
        return self.render("admin/formation_import.html", formation=formation, recent=recent,
                           columns=COLUMNS, max_rows=MAX_ROWS,
                           max_mb=imports.MAX_BYTES // (1024 * 1024))

    @expose("/<int:formation_id>/import/<int:batch_id>/")
    def import_preview_view(self, formation_id, batch_id):
        formation = self._import_formation(formation_id)
        batch = self._import_batch(formation, batch_id)
        rows, problem = [], None
        if batch.status == ImportBatch.PREVIEW:
            try:
                rows = imports.preview(formation, bytes(batch.content), batch.filename)
            except ImportFileError as exc:
                problem = str(exc)
        valid = sum(1 for r in rows if r.ok)
        return self.render("admin/formation_import_preview.html", formation=formation,
                           batch=batch, rows=rows, valid=valid, refused=len(rows) - valid,
                           problem=problem, columns=COLUMNS)

    @expose("/<int:formation_id>/import/<int:batch_id>/confirmer/", methods=("POST",))
    def import_confirm_view(self, formation_id, batch_id):
        formation = self._import_formation(formation_id)
        batch = self._import_batch(formation, batch_id)
        try:
            created = imports.confirm(batch, current_user)
            db.session.commit()
        except ImportFileError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(self.get_url(".import_preview_view", formation_id=formation.id,
                                         batch_id=batch_id))
        if created:
            flash(f"{created} dossier{'s' if created > 1 else ''} créé"
                  f"{'s' if created > 1 else ''} ; les invitations sont envoyées "
                  "aux alternant·es et aux contacts employeurs.", "success")
        else:
            flash("Aucun dossier n'a été créé : aucune ligne du fichier n'était prête.",
                  "warning")
        return redirect(self.get_url(".import_preview_view", formation_id=formation.id,
                                     batch_id=batch_id))

    @expose("/<int:formation_id>/import/modele.<any(csv, xlsx):ext>")
    def import_template_view(self, formation_id, ext):
        self._import_formation(formation_id)
        if ext == "csv":
            data, mimetype = imports.template_csv(), "text/csv; charset=utf-8"
        else:
            data, mimetype = imports.template_xlsx(), imports.XLSX_TYPE
        return Response(data, mimetype=mimetype, headers={
            "Content-Disposition": f'attachment; filename="modele-import-alternants.{ext}"'})
