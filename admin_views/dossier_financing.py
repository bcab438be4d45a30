"""The dossier's Financement tab: /admin/dossier/<id>/financement/ and its doors (the OPCO's
answers, the amounts, each instalment's claim: invoice, certificate, deposit, payment,
rejection; the employer's invoice; the documents). The dossier comes through DossierView's
scoped get_one, then portal.policy.may_see_financing (CFA staff, the dossier's employer); each
claim and document must belong to this prise en charge (404 otherwise, like another's row).
Every change is portal/financing's (service.py, claims.py)."""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

from flask import abort, flash, redirect, request, send_file  # noqa: F401
from flask_admin import expose
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from portal import policy
from portal.documents.uploads import MAX_BYTES
from portal.dossiers.errors import ALREADY_DONE, Stale, WriteRefused
from portal.extensions import db
from portal.financing import claims, service
from portal.financing.overview import documents_of, overview
from portal.models import DemandeRemboursement, Document, Echeance, OrganismeDelegant


@dataclass(frozen=True)
class TabLink:
    """The Financement entry of the dossier's tab bar (not a data tab of the registry)."""

    code: str = "financement"
    label: str = "Financement"


FINANCING_TAB = TabLink()


def financing_tabs(dossier) -> list:
    """The extra tab this person gets on this dossier's tab bar."""
    if dossier.prise_en_charge is not None and policy.may_see_financing(current_user, dossier):
        return [FINANCING_TAB]
    return []


def _date(raw):
    try:
        return date.fromisoformat((raw or "").strip()[:10])
    except ValueError:
        return None


def _int(raw):
    raw = (raw or "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


class DossierFinancingMixin:

    # --- reading -----------------------------------------------------------------------------
    def _financing(self, dossier_id):
        dossier = self.get_one(dossier_id)
        if dossier is None or dossier.prise_en_charge is None or \
                not policy.may_see_financing(current_user, dossier):
            abort(404)
        return dossier, dossier.prise_en_charge

    def _claim(self, pec, claim_id) -> DemandeRemboursement:
        claim = db.session.get(DemandeRemboursement, claim_id)
        if claim is None or claim.prise_en_charge_id != pec.id:
            abort(404)
        return claim

    def _financing_page(self, dossier, pec, *, errors=None, form_key=None, status=200):
        from portal.dossiers import tabs, workflow
        from admin_views.dossier_tabs import visible_tab_bar
        context = dict(
            dossier=dossier, tab=FINANCING_TAB, tabs=visible_tab_bar(dossier),
            status=tabs.tab_status(dossier), state=workflow.STATES.get(dossier.state),
            errors=errors or {}, form_key=form_key, posted=request.form if errors else {},
            delegants=policy.scoped(db.session.query(OrganismeDelegant), OrganismeDelegant,
                                    current_user).order_by(OrganismeDelegant.nom).all()
            if policy.may_see_amounts_of(current_user) else [],
            **overview(pec, current_user))
        return self.render("admin/dossier/tab_financement.html", **context), status

    @expose("/<int:dossier_id>/financement/", methods=("GET",))
    def financing_view(self, dossier_id):
        dossier, pec = self._financing(dossier_id)
        return self._financing_page(dossier, pec)

    @expose("/<int:dossier_id>/financement/document/<int:document_id>/", methods=("GET",))
    def financing_document_view(self, dossier_id, document_id):
        dossier, pec = self._financing(dossier_id)
        what = documents_of(pec).get(document_id)
        if what is None or not policy.financing_document_allowed(current_user, what):
            abort(404)
        document = db.session.get(Document, document_id)
        return send_file(io.BytesIO(document.data), mimetype="application/pdf",
                         as_attachment=True, download_name=document.filename)

    # --- writing: one door per step, each answered the same way -------------------------------
    def _run(self, dossier, pec, form_key, step, done: str):
        back = self.get_url(".financing_view", dossier_id=dossier.id)
        from admin_views.dossier_workflow import conflict_page
        try:
            step()
        except Stale as exc:
            db.session.rollback()
            return conflict_page(str(exc), back)
        except (StaleDataError, IntegrityError):  # a race the write path did not name
            db.session.rollback()
            return conflict_page(ALREADY_DONE, back)
        except WriteRefused as exc:
            # Shown once: next to the fields it is about, or at the top of the tab.
            db.session.rollback()
            db.session.refresh(pec)
            errors = dict(exc.errors)
            if str(exc) != " ".join(exc.errors.values()):
                errors["_"] = str(exc)  # a reason of its own, above the fields' messages
            return self._financing_page(dossier, pec, errors=errors, form_key=form_key,
                                        status=422)
        flash(done, "success")
        return redirect(back, 303)

    @expose("/<int:dossier_id>/financement/reponse/<code>/", methods=("POST",))
    def financing_answer_view(self, dossier_id, code):
        dossier, pec = self._financing(dossier_id)
        form = request.form
        return self._run(dossier, pec, f"answer-{code}", lambda: service.answer(
            pec, code, by=current_user, on=_date(form.get("date")), reason=form.get("motif"),
            version=_int(form.get("_version"))),
            "Réponse de l'OPCO enregistrée.")

    @expose("/<int:dossier_id>/financement/montants/", methods=("POST",))
    def financing_amounts_view(self, dossier_id):
        dossier, pec = self._financing(dossier_id)
        form = request.form
        raw = {name: form.get(name) for name in service.EDITABLE if name in form}
        if "date_depot" in raw:
            raw["date_depot"] = _date(raw["date_depot"])
        if "organisme_delegant_id" in raw:
            raw["organisme_delegant_id"] = _int(raw["organisme_delegant_id"])
        return self._run(dossier, pec, "amounts", lambda: service.update(
            pec, raw, by=current_user, version=_int(form.get("_version"))),
            "Informations de financement enregistrées.")

    @expose("/<int:dossier_id>/financement/echeance/<int:echeance_id>/demande/",
            methods=("POST",))
    def financing_claim_view(self, dossier_id, echeance_id):
        dossier, pec = self._financing(dossier_id)
        echeance = db.session.get(Echeance, echeance_id)
        if echeance is None or echeance.prise_en_charge_id != pec.id:
            abort(404)
        return self._run(dossier, pec, f"instalment-{echeance_id}",
                         lambda: claims.create_claim(echeance, by=current_user),
                         f"Facture générée pour « {echeance.label} ».")

    @expose("/<int:dossier_id>/financement/demande/<int:claim_id>/<step>/", methods=("POST",))
    def financing_claim_step_view(self, dossier_id, claim_id, step):
        dossier, pec = self._financing(dossier_id)
        claim = self._claim(pec, claim_id)
        form = request.form
        version = _int(form.get("_version"))
        if step == "certificat":
            upload = request.files.get("fichier")
            data = upload.stream.read(MAX_BYTES + 1) if upload and upload.filename else b""
            name = upload.filename if upload else None
            action = lambda: claims.attach_certificate(claim, data, name, by=current_user,  # noqa
                                                       version=version)
            done = "Certificat de réalisation joint."
        elif step == "depot":
            action = lambda: claims.deposit(claim, by=current_user, version=version,  # noqa
                                            on=_date(form.get("date")))
            done = "Demande déposée : le récépissé est disponible."
        elif step == "paiement":
            action = lambda: claims.record_payment(  # noqa: E731
                claim, by=current_user, on=_date(form.get("date")), amount=form.get("montant"),
                reference=form.get("reference"), version=version)
            done = "Paiement enregistré."
        elif step == "rejet":
            action = lambda: claims.reject(claim, by=current_user, on=_date(form.get("date")),  # noqa
                                           reason=form.get("motif"), version=version)
            done = "Rejet de la demande enregistré."
        else:
            abort(404)
        return self._run(dossier, pec, f"claim-{claim_id}-{step}", action, done)

    @expose("/<int:dossier_id>/financement/facture-employeur/", methods=("POST",))
    def financing_employer_invoice_view(self, dossier_id):
        dossier, pec = self._financing(dossier_id)
        return self._run(dossier, pec, "employer-invoice",
                         lambda: claims.employer_invoice(pec, by=current_user),
                         "Facture de l'employeur émise.")

