"""Import of apprentices by the formation (CSV / XLSX), under /admin/formation/<id>/import/.

Upload → preview of every row with its errors and warnings (the file is kept in an ImportBatch)
→ confirm: the stored bytes are re-read and re-checked, the dossiers of the rows that may be
created are created through the dossier service and their people invited, in one commit. A row
whose apprentice has an open dossier in another training is created only when the manager
ticked it ("Créer quand même"). The training comes through FormationView.get_one (scoped by
portal.policy) and policy.may_import; the batch through row_or_404 (policy's filter) and must
belong to that training. Service code: portal.dossiers.imports; row checks: portal.rules.imports.
"""
from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request
from flask_admin import expose
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from portal import policy
from portal.dossiers import imports
from portal.dossiers.service import WriteRefused
from portal.documents.uploads import too_large, too_large_message
from portal.extensions import db
from portal.models import ImportBatch
from portal.rules.imports import COLUMNS, CREATE_ANYWAY, MAX_ROWS, ImportFileError

from .base import row_or_404

CONFIRM_FIELD = "creer_quand_meme"  # one value per ticked line number
IMPORT_ADVICE = "Rien n'a été importé : découpez-le en plusieurs fichiers."
CHANGED_MEANWHILE = ("Pendant l'import, une autre saisie a créé un compte ou un dossier pour "
                     "les mêmes personnes : aucun dossier n'a été créé. Vérifiez l'aperçu "
                     "ci-dessous puis confirmez à nouveau.")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n > 1 else ''}"


def _lines(lines) -> str:
    return ", ".join(str(n) for n in lines)


def confirmed_lines(values) -> set[int]:
    """The ticked line numbers of the posted form; anything that is not one is ignored."""
    lines = set()
    for value in values:
        try:
            line = int(str(value).strip())
        except (TypeError, ValueError):
            continue
        if 0 < line <= imports.MAX_LINES:
            lines.add(line)
    return lines


class FormationImportMixin:

    def create_blueprint(self, admin):
        blueprint = super().create_blueprint(admin)
        blueprint.register_error_handler(413, self._too_large_body)
        return blueprint

    def _too_large_body(self, exc):
        """A body above MAX_CONTENT_LENGTH, refused while the form is parsed (before the
        view): the import page (or the training's files page) says so, nothing is kept."""
        args = request.view_args or {}
        endpoint = (request.endpoint or "").rsplit(".", 1)[-1]
        formation_id = args.get("formation_id")
        targets = {"import_view": ".import_view", "files_view": ".files_view"}
        if endpoint in targets and isinstance(formation_id, int) \
                and self.get_one(formation_id) is not None:
            if endpoint == "import_view":
                flash(too_large(request.content_length, imports.MAX_BYTES, IMPORT_ADVICE),
                      "error")
            else:
                flash(too_large(request.content_length), "error")
            return redirect(self.get_url(targets[endpoint], formation_id=formation_id))
        return render_template("error.html", code=413, title="Fichier trop volumineux",
                               text=too_large(request.content_length)), 413

    def _import_formation(self, formation_id):
        formation = self.get_one(formation_id)
        if formation is None:
            abort(404)
        if not policy.may_import(current_user, formation):
            abort(403)
        return formation

    def _import_batch(self, formation, batch_id) -> ImportBatch:
        batch = row_or_404(ImportBatch, batch_id)
        if batch.formation_id != formation.id:
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
            if len(content) > imports.MAX_BYTES:
                flash(too_large(request.content_length, imports.MAX_BYTES, IMPORT_ADVICE),
                      "error")
                return redirect(self.get_url(".import_view", formation_id=formation.id))
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
        recent = imports.recent_batches(formation, current_user)
        return self.render("admin/formation_import.html", formation=formation, recent=recent,
                           columns=COLUMNS, max_rows=MAX_ROWS,
                           max_mb=imports.MAX_BYTES // (1024 * 1024),
                           max_bytes=imports.MAX_BYTES, sample_marker=imports.SAMPLE_MARKER,
                           size_message=too_large_message(imports.MAX_BYTES, IMPORT_ADVICE))

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
        ready = sum(1 for r in rows if r.ok and not r.needs_confirmation)
        to_confirm = sum(1 for r in rows if r.ok and r.needs_confirmation)
        refused = sum(1 for r in rows if not r.ok)
        unconfirmed = max(0, (batch.row_count or 0) - (batch.error_count or 0)
                          - (batch.created_count or 0))
        return self.render("admin/formation_import_preview.html", formation=formation,
                           batch=batch, rows=rows, ready=ready, to_confirm=to_confirm,
                           refused=refused, unconfirmed=unconfirmed, problem=problem,
                           columns=COLUMNS, confirm_field=CONFIRM_FIELD,
                           create_anyway=CREATE_ANYWAY)

    @expose("/<int:formation_id>/import/<int:batch_id>/confirmer/", methods=("POST",))
    def import_confirm_view(self, formation_id, batch_id):
        formation = self._import_formation(formation_id)
        batch = self._import_batch(formation, batch_id)
        back = self.get_url(".import_preview_view", formation_id=formation.id,
                            batch_id=batch.id)
        try:
            outcome = imports.confirm(batch, current_user,
                                      confirmed_lines(request.form.getlist(CONFIRM_FIELD)))
            db.session.commit()
        except (ImportFileError, WriteRefused) as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(back)
        except IntegrityError:
            # Another door (a dossier typed by hand, a registration) created one of these
            # people meanwhile: nothing is kept, the batch stays to confirm again.
            db.session.rollback()
            flash(CHANGED_MEANWHILE, "error")
            return redirect(back)
        if outcome.created:
            flash(f"{_plural(outcome.created, 'dossier')} créé{'s' if outcome.created > 1 else ''}"
                  " ; les invitations sont envoyées aux alternant·es et aux contacts "
                  "employeurs.", "success")
        else:
            flash("Aucun dossier n'a été créé" + (
                "." if outcome.unconfirmed else " : aucune ligne du fichier n'était prête."),
                "warning")
        if outcome.unconfirmed:
            n = len(outcome.unconfirmed)
            flash(f"{_plural(n, 'ligne')} non importée{'s' if n > 1 else ''} faute de "
                  f"confirmation « {CREATE_ANYWAY} » (ligne{'s' if n > 1 else ''} "
                  f"{_lines(outcome.unconfirmed)}) : l'alternant·e a déjà un dossier en cours "
                  "dans une autre formation. Déposez à nouveau ces lignes pour les créer.",
                  "warning")
        if outcome.refused:
            n = len(outcome.refused)
            flash(f"{_plural(n, 'ligne')} refusée{'s' if n > 1 else ''} (ligne"
                  f"{'s' if n > 1 else ''} {_lines(outcome.refused)}) : corrigez-les dans "
                  "votre fichier et déposez-le à nouveau.", "warning")
        return redirect(back)

    @expose("/<int:formation_id>/import/modele.<any(csv, xlsx):ext>")
    def import_template_view(self, formation_id, ext):
        self._import_formation(formation_id)
        if ext == "csv":
            data, mimetype = imports.template_csv(), "text/csv; charset=utf-8"
        else:
            data, mimetype = imports.template_xlsx(), imports.XLSX_TYPE
        return Response(data, mimetype=mimetype, headers={
            "Content-Disposition": f'attachment; filename="modele-import-alternants.{ext}"'})
