"""Workflow doors of the dossier screens: the buttons of Suivi – Info and La mission, and the
list actions acting on many dossiers. Every decision is portal.dossiers.workflow's; every dossier comes
through the view's scoped get_one / scoped_ids."""
from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, request
from flask_admin import expose
from flask_admin.actions import action
from flask_login import current_user

from portal.dossiers import workflow
from portal.extensions import db
from portal.models import Dossier


class DossierWorkflowMixin:

    @expose("/<int:dossier_id>/transition/<code>/", methods=("POST",))
    def transition_view(self, dossier_id, code):
        dossier = self.get_one(dossier_id)
        if dossier is None:
            abort(404)
        rupture = None
        if code == "rompre":
            try:
                rupture = date.fromisoformat(request.form.get("rupture_date", ""))
            except ValueError:
                rupture = None
        try:
            target = workflow.run_transition(code, dossier, current_user,
                                             comment=request.form.get("comment"),
                                             rupture_date=rupture)
        except workflow.TransitionRefused as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            flash(f"Dossier n° {dossier.id} : {workflow.state_label(target)}.", "success")
        return redirect(self.get_url(".tab_view", dossier_id=dossier_id, tab_code="suivi"))

    @expose("/<int:dossier_id>/mission/<action_code>/", methods=("POST",))
    def mission_action_view(self, dossier_id, action_code):
        dossier = self.get_one(dossier_id)
        if dossier is None or action_code not in ("soumettre", "valider", "renvoyer"):
            abort(404)
        try:
            workflow.run_mission(action_code, dossier, current_user,
                                 comment=request.form.get("comment"))
        except workflow.TransitionRefused as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            flash({"soumettre": "Mission soumise au responsable de la formation.",
                   "valider": "Mission validée.",
                   "renvoyer": "Mission renvoyée pour être revue."}[action_code], "success")
        return redirect(self.get_url(".tab_view", dossier_id=dossier_id, tab_code="mission"))

    def is_action_allowed(self, name):
        transition = workflow.TRANSITIONS.get(name)
        if transition is not None:
            return current_user.has_role(*transition.roles)
        return super().is_action_allowed(name)

    # --- bulk: each dossier is tried on its own; the report says what was done and refused ---
    def _bulk(self, code, ids):
        transition = workflow.TRANSITIONS[code]
        done, refused = [], []
        for pk in ids:  # already re-filtered through the scope by the base view
            dossier = db.session.get(Dossier, pk)
            try:
                workflow.run_transition(code, dossier, current_user)
                done.append(pk)
            except workflow.TransitionRefused as exc:
                db.session.rollback()
                refused.append((pk, str(exc)))
        if done:
            flash(f"« {transition.label} » fait pour {len(done)} dossier"
                  f"{'s' if len(done) > 1 else ''} : n° {', '.join(map(str, done))}.", "success")
        for pk, reason in refused:
            flash(f"Dossier n° {pk} refusé : {reason}", "error")

    @action("valider_formation", "Valider les dossiers (formation)",
            "Valider les dossiers sélectionnés ?")
    def action_validate_formation(self, ids):
        self._bulk("valider_formation", ids)

    @action("valider_economie", "Valider les éléments économiques",
            "Valider les éléments économiques des dossiers sélectionnés ?")
    def action_validate_economy(self, ids):
        self._bulk("valider_economie", ids)
