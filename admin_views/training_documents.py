"""The documents and the attendance of a training action's session (issue 14 part 4, SPEC §6,
seed 003): the émargement sheet and the convention de formation of a structure (Code du
travail, art. L6353-1 and following), the convocation with its calendar invitation, the
attendance grid and the session's close, the attestation de fin de formation (art. L6353-1),
and the download of a request's stored convocation or attestation.

Every row comes through portal.policy (row_or_404: another's row answers 404); the doors are
CFA staff's (403 for the others), except the download of one's own request's documents. Every
change is portal/training_actions' (documents.py, attendance.py)."""
from __future__ import annotations

import io
from datetime import date

from flask import abort, flash, redirect, request, send_file
from flask_admin import expose
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from portal import policy
from portal.dossiers.errors import Stale, WriteRefused
from portal.training_actions.service import ALREADY_DONE
from portal.extensions import db
from portal.models import CFA_ROLES, Document, Inscription, SessionFormation, Structure
from portal.training_actions import attendance, documents
from portal.training_actions.states import BENEFICIARY, CFA

from .base import row_or_404

# The stored documents of a request: kind in the URL → the request's column.
STORED = {"convocation": "convocation_document_id", "attestation": "attestation_document_id"}


def _cfa_only() -> None:
    if not current_user.has_role(*CFA_ROLES):
        abort(403)


def _pdf(data: bytes, filename: str):
    return send_file(io.BytesIO(data), mimetype="application/pdf", as_attachment=True,
                     download_name=filename)


def _conflict(message: str, back: str, label: str):
    from admin_views.training_actions import _conflict as conflict
    return conflict(message, back, label)


def _write(step, back: str, label: str, refused, done: str):
    """Run one write: a race → 409, a refusal → ``refused(message)`` (422), else a flash and
    the way back (303)."""
    try:
        step()
    except Stale as exc:
        db.session.rollback()
        return _conflict(str(exc), back, label)
    except (StaleDataError, IntegrityError):
        db.session.rollback()
        return _conflict(ALREADY_DONE, back, label)
    except WriteRefused as exc:
        db.session.rollback()
        return refused(str(exc))
    flash(done, "success")
    return redirect(back, 303)


# --- the session's doors (SessionFormationView) ---------------------------------------------------

def _cell(inscription_id: int, day: date, half_day: str) -> str:
    return f"p-{inscription_id}-{day.isoformat()}-{half_day}"


def grid(session, today: date) -> dict:
    """The attendance grid: the retained people × the session's half-days, each cell's field
    name, whether it is checked (a mark noted present) and open (the half-day is passed)."""
    halves = attendance.expected(session)
    rows = []
    for inscription in attendance.retained(session):
        marks = attendance.marks_of(inscription)
        markable = inscription.state in attendance.OPEN_FOR_MARKS
        rows.append(dict(inscription=inscription, closed=not markable, cells=[dict(
            name=_cell(inscription.id, d, h), checked=marks.get((d, h)) is True,
            noted=(d, h) in marks, open=markable and d <= today) for d, h in halves]))
    return dict(half_days=[dict(label=attendance.half_day_label(d, h), open=d <= today)
                           for d, h in halves], rows=rows,
                closed=bool(rows) and all(r["closed"] for r in rows))


def posted_marks(session, form, today: date) -> dict:
    """Every open cell of the grid (a request not closed, a half-day passed): checked →
    present, unchecked → absent."""
    marks = {}
    for inscription in attendance.retained(session):
        if inscription.state not in attendance.OPEN_FOR_MARKS:
            continue  # closed: its cells are shown, disabled
        for d, h in attendance.expected(session):
            if d <= today:
                marks[(inscription.id, d, h)] = form.get(_cell(inscription.id, d, h)) == "1"
    return marks


class SessionDocumentsMixin:
    """Mixed into SessionFormationView: /admin/session-formation/<id>/…"""

    def _cfa_session(self, session_id) -> SessionFormation:
        session = row_or_404(SessionFormation, session_id)
        _cfa_only()
        return session

    @expose("/<int:session_id>/emargement.pdf")
    def attendance_sheet_view(self, session_id):
        session = self._cfa_session(session_id)
        return _pdf(documents.attendance_sheet(session), f"emargement-session-{session.id}.pdf")

    @expose("/<int:session_id>/convention/<int:structure_id>.pdf")
    def convention_view(self, session_id, structure_id):
        session = self._cfa_session(session_id)
        structure = db.session.get(Structure, structure_id)
        if structure is None or not attendance.retained(session, structure.id):
            abort(404)
        return _pdf(documents.convention(session, structure),
                    f"convention-session-{session.id}-structure-{structure.id}.pdf")

    def _attendance_page(self, session, *, error=None, status=200):
        today = date.today()
        return self.render("admin/training/attendance.html", session=session,
                           grid=grid(session, today), error=error,
                           closable=today > session.date_fin), status

    @expose("/<int:session_id>/presences/", methods=("GET", "POST"))
    def attendance_view(self, session_id):
        session = self._cfa_session(session_id)
        if request.method == "GET":
            return self._attendance_page(session)
        back = self.get_url(".attendance_view", session_id=session.id)
        label = "Revenir aux présences"

        def refused(message):
            return self._attendance_page(session, error=message, status=422)
        if request.form.get("cloturer") == "1":
            return _write(lambda: attendance.close(session, by=current_user), back, label,
                          refused, "Session clôturée : chaque personne retenue est notée "
                          "présente ou absente.")
        marks = posted_marks(session, request.form, date.today())
        return _write(lambda: attendance.record(session, marks, by=current_user), back, label,
                      refused, "Présences enregistrées.")


# --- the request's doors (InscriptionView) --------------------------------------------------------

class InscriptionDocumentsMixin:
    """Mixed into InscriptionView: /admin/inscription/<id>/…"""

    def _document_write(self, inscription_id, key: str, step, done: str):
        from admin_views.training_actions import selection_page
        inscription = row_or_404(Inscription, inscription_id)
        _cfa_only()
        if request.form.get("retour") == "selection":
            back = self.get_url("session_formation.selection_view",
                                session_id=inscription.session_id)
            label = "Revenir à la sélection"

            listed = inscription.state in attendance.RETAINED  # in the documents' table

            def refused(message):
                return selection_page(self, inscription.session, errors={"_": message},
                                      form_key=f"{key}-{inscription.id}" if listed else "page",
                                      status=422)
        else:
            back = self.get_url(".details_view", id=inscription.id)
            label = "Revenir à la demande"

            def refused(message):
                return self._details_page(inscription, errors={"_": message},
                                          form_key=key, status=422)
        return _write(lambda: step(inscription), back, label, refused, done)

    @expose("/<int:inscription_id>/convocation/", methods=("POST",))
    def convocation_view(self, inscription_id):
        return self._document_write(
            inscription_id, "convocation",
            lambda i: documents.send_convocation(i, by=current_user),
            "Convocation envoyée avec son invitation d'agenda.")

    @expose("/<int:inscription_id>/attestation/", methods=("POST",))
    def attestation_view(self, inscription_id):
        return self._document_write(
            inscription_id, "attestation", lambda i: documents.attestation(i, by=current_user),
            "Attestation de fin de formation délivrée.")

    @expose("/<int:inscription_id>/document/<kind>/")
    def stored_document_view(self, inscription_id, kind):
        inscription = row_or_404(Inscription, inscription_id)
        column = STORED.get(kind)
        roles = policy.roles_on_inscription(current_user, inscription)
        if column is None or not roles & {CFA, BENEFICIARY}:
            abort(404)
        document = db.session.get(Document, getattr(inscription, column) or 0)
        if document is None:
            abort(404)
        return _pdf(document.data, document.filename)
