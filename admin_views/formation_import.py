"""Import of apprentices by the formation (CSV / XLSX), under /admin/formation/<id>/import/.

Upload (the file read and kept in an ImportBatch) → preview of every row with its errors and
warnings → confirm: the batch is marked « en cours » and the background worker re-reads and
re-checks the stored bytes, creates the dossiers of the rows that may be created through the
dossier service and invites their people, in batches of rows (portal.dossiers.import_batches);
the batch's page shows a progress bar (portal/static/js/import_progress.js polls progress_view)
and, once done, the outcome; the manager gets an e-mail. A row whose apprentice has an open
dossier in another training is created only when the manager ticked it ("Créer quand même").
The training comes through FormationView.get_one (scoped by portal.policy) and
policy.may_import; the batch through row_or_404 (policy's filter) and must belong to that
training. Service code: portal.dossiers.imports; row checks: portal.rules.imports.
"""
from __future__ import annotations

from flask import Response, abort, flash, jsonify, redirect, render_template, request
from flask_admin import expose
from flask_login import current_user

from portal import policy
from portal.dossiers import imports
from portal.dossiers.service import WriteRefused
from portal.documents.uploads import too_large, too_large_message
from portal.extensions import db
from portal.models import ImportBatch
from portal.dossiers.import_batches import progress
from portal.rules.imports import COLUMNS, CREATE_ANYWAY, MAX_ROWS, ImportFileError

from .base import row_or_404

CONFIRM_FIELD = "creer_quand_meme"  # one value per ticked line number
IMPORT_ADVICE = "Rien n'a été importé : découpez-le en plusieurs fichiers."
# Above this many data rows the preview lists only the refused rows and those to confirm (the
# ready ones are counted): a page of 20 000 table rows helps nobody and weighs megabytes.
PREVIEW_ALL_ROWS = 200
PREVIEW_MAX_LISTED = 500


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n > 1 else ''}"


def _lines(lines, limit: int = 50) -> str:
    shown = ", ".join(str(n) for n in list(lines)[:limit])
    return shown + (f"… (et {len(lines) - limit} autres)" if len(lines) > limit else "")


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
                batch = imports.create_batch(formation, current_user, content, upload.filename)
                db.session.commit()
            except ImportFileError as exc:
                db.session.rollback()
                flash(str(exc), "error")
                return redirect(self.get_url(".import_view", formation_id=formation.id))
            return redirect(self.get_url(".import_preview_view", formation_id=formation.id,
                                         batch_id=batch.id))
        recent = imports.recent_batches(formation, current_user)
        return self.render("admin/formation_import.html", formation=formation, recent=recent,
                           columns=COLUMNS, max_rows=f"{MAX_ROWS:,}".replace(",", " "),
                           max_mb=imports.MAX_BYTES // (1024 * 1024),
                           max_bytes=imports.MAX_BYTES, sample_marker=imports.SAMPLE_MARKER,
                           size_message=too_large_message(imports.MAX_BYTES, IMPORT_ADVICE))

    @expose("/<int:formation_id>/import/<int:batch_id>/")
    def import_preview_view(self, formation_id, batch_id):
        formation = self._import_formation(formation_id)
        batch = self._import_batch(formation, batch_id)
        rows, problem = [], None
        if batch.status in (ImportBatch.PREVIEW, ImportBatch.FAILED):
            try:
                rows = imports.preview(formation, bytes(batch.content), batch.filename)
            except ImportFileError as exc:
                problem = str(exc)
        ready = sum(1 for r in rows if r.ok and not r.needs_confirmation)
        to_confirm = sum(1 for r in rows if r.ok and r.needs_confirmation)
        refused = sum(1 for r in rows if not r.ok)
        listed = rows if len(rows) <= PREVIEW_ALL_ROWS else \
            [r for r in rows if not r.ok or r.needs_confirmation][:PREVIEW_MAX_LISTED]
        unconfirmed = max(0, (batch.row_count or 0) - (batch.error_count or 0)
                          - (batch.created_count or 0))
        return self.render("admin/formation_import_preview.html", formation=formation,
                           batch=batch, rows=rows, listed=listed, ready=ready,
                           to_confirm=to_confirm, refused=refused, unconfirmed=unconfirmed,
                           problem=problem, columns=COLUMNS, confirm_field=CONFIRM_FIELD,
                           create_anyway=CREATE_ANYWAY, progress=progress(batch),
                           messages=outcome_messages(imports.outcome(batch)),
                           progress_url=self.get_url(".import_progress_view",
                                                     formation_id=formation.id,
                                                     batch_id=batch.id))

    @expose("/<int:formation_id>/import/<int:batch_id>/progression")
    def import_progress_view(self, formation_id, batch_id):
        """The batch's progress as JSON, polled by import_progress.js."""
        formation = self._import_formation(formation_id)
        batch = self._import_batch(formation, batch_id)
        return jsonify(progress(batch))

    @expose("/<int:formation_id>/import/<int:batch_id>/confirmer/", methods=("POST",))
    def import_confirm_view(self, formation_id, batch_id):
        formation = self._import_formation(formation_id)
        batch = self._import_batch(formation, batch_id)
        back = self.get_url(".import_preview_view", formation_id=formation.id,
                            batch_id=batch.id)
        try:
            imports.confirm(batch, current_user,
                            confirmed_lines(request.form.getlist(CONFIRM_FIELD)))
            db.session.commit()
        except (ImportFileError, WriteRefused) as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(back)
        flash("Import lancé : les dossiers sont créés en arrière-plan. Cette page suit sa "
              "progression ; vous recevrez un e-mail à la fin.", "info")
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


def outcome_messages(outcome) -> list[tuple[str, str]]:
    """The outcome of a confirmed import, in French: (category, message)."""
    messages = []
    if outcome.created:
        messages.append(("success", f"{_plural(outcome.created, 'dossier')} "
                         f"créé{'s' if outcome.created > 1 else ''} ; les invitations sont "
                         "envoyées aux alternant·es et aux contacts employeurs."))
    else:
        messages.append(("warning", "Aucun dossier n'a été créé" + (
            "." if outcome.unconfirmed else " : aucune ligne du fichier n'était prête.")))
    if outcome.unconfirmed:
        n = len(outcome.unconfirmed)
        messages.append(("warning", f"{_plural(n, 'ligne')} non importée{'s' if n > 1 else ''} "
                         f"faute de confirmation « {CREATE_ANYWAY} » (ligne{'s' if n > 1 else ''} "
                         f"{_lines(outcome.unconfirmed)}) : l'alternant·e a déjà un dossier en "
                         "cours dans une autre formation. Déposez à nouveau ces lignes pour les "
                         "créer."))
    if outcome.refused:
        n = len(outcome.refused)
        messages.append(("warning", f"{_plural(n, 'ligne')} refusée{'s' if n > 1 else ''} (ligne"
                         f"{'s' if n > 1 else ''} {_lines(outcome.refused)}) : corrigez-les dans "
                         "votre fichier et déposez-le à nouveau."))
    return messages
