"""The CFA's doors of the electronic signature on a dossier (Suivi – Info): send the CERFA and
the convention for signature, cancel it, and the evidence file of a request (JSON, PDF) for
the CFA and the parties. The dossier comes through DossierView.get_one (portal.policy's
scope), the request must be one of its own; what each person may do is portal.policy's
(signature_start_refusal, signature_cancel_refusal, may_follow_signatures). The signers'
own pages are portal/signatures/views.py (their personal links)."""
from __future__ import annotations

import io

from flask import abort, flash, redirect, request, send_file
from flask_admin import expose
from flask_login import current_user

from portal import policy
from portal.extensions import db
from portal.models.signatures import SignatureRequest
from portal.signatures import evidence, service
from portal.signatures.panel import panel

from .scoped_forms import MAX_ID


class DossierSignaturesMixin:

    def signature_panel(self, dossier):
        """What Suivi – Info shows of the dossier's electronic signature (its template)."""
        return panel(dossier, current_user)

    def _signature_dossier(self, dossier_id):
        dossier = self.get_one(dossier_id)
        if dossier is None:
            abort(404)
        return dossier

    def _back_to_signatures(self, dossier):
        return redirect(self.get_url(".tab_view", dossier_id=dossier.id, tab_code="suivi")
                        + "#signature-electronique")

    def _signature_step(self, dossier_id, step, done):
        """Run ``step`` on the dossier (through portal.signatures.service) and say how it went:
        ``done(result)`` on success, the refusal in French otherwise; back to Suivi – Info."""
        dossier = self._signature_dossier(dossier_id)
        try:
            result = step(dossier)
        except service.AlreadyDone as exc:
            db.session.rollback()
            flash(str(exc), "warning")
        except service.SignatureRefused as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            flash(done(result), "success")
        return self._back_to_signatures(dossier)

    @expose("/<int:dossier_id>/signature/lancer/", methods=("POST",))
    def signature_start_view(self, dossier_id):
        return self._signature_step(
            dossier_id,
            lambda dossier: service.start(dossier, by=current_user,
                                          client=service.Client.of(request)),
            lambda created: "Signature électronique lancée ("
            + " et ".join(service.DOCUMENTS[r.document] for r in created)
            + ") : chaque signataire reçoit son lien par e-mail.")

    @expose("/<int:dossier_id>/signature/annuler/", methods=("POST",))
    def signature_cancel_view(self, dossier_id):
        return self._signature_step(
            dossier_id,
            lambda dossier: service.cancel(dossier, by=current_user,
                                           reason=request.form.get("motif", ""),
                                           client=service.Client.of(request)),
            lambda _: "Signature électronique annulée : les signataires en sont prévenus. "
                      "Vous pouvez la relancer.")

    @expose("/<int:dossier_id>/signature/<int:request_id>/preuve.<any(json, pdf):ext>")
    def signature_evidence_view(self, dossier_id, request_id, ext):
        dossier = self._signature_dossier(dossier_id)
        if not policy.may_follow_signatures(current_user, dossier):
            abort(403)
        sig = db.session.get(SignatureRequest, request_id) if 0 < request_id <= MAX_ID else None
        if sig is None or sig.dossier_id != dossier.id:
            abort(404)
        if ext == "json":
            data, mimetype = evidence.as_json(sig), "application/json"
        else:
            data, mimetype = evidence.as_pdf(sig), "application/pdf"
        return send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=True,
                         download_name=evidence.filename(sig, ext))
