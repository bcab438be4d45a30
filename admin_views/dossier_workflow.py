"""Workflow doors of the dossier screens: the buttons of Suivi – Info and La mission, the list
actions acting on many dossiers (the workflow table's `bulk` column) and the choice of the CFA
contact. Every decision is portal/dossiers/service.py's (which asks portal.policy); every
dossier comes through the view's scoped get_one / scoped_ids."""
from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, render_template, request
from flask_admin import expose
from flask_login import current_user

from portal import policy
from portal.dossiers import service, workflow
from portal.dossiers.errors import CONFLICT_TITLE
from portal.dossiers.transitions import NotConfirmed
from portal.extensions import db
from portal.models import Dossier

ORIGINS = ("suivi", "resume")  # the tabs offering workflow buttons
MISSION_DONE = {"soumettre": "Mission soumise au responsable de la formation.",
                "valider": "Mission validée.", "renvoyer": "Mission renvoyée pour être revue."}


def _date(raw: str | None):
    try:
        return date.fromisoformat((raw or "").strip()[:10])
    except ValueError:
        return None


def _version():
    """The dossier's version the person's page showed (hidden ``_version``), if it sent one."""
    raw = (request.form.get("_version") or "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 12 else None


def _typed_wrong(dossier, code, inputs) -> dict[str, str]:
    """Field → French message when the person may run the transition but what they typed
    for it is refused (the OPCO's number and deposit date); empty otherwise."""
    transition = workflow.TRANSITIONS[code]
    from portal.dossiers import guards
    if policy.transition_refusal(current_user, dossier, transition) is not None or \
            dossier.state not in transition.sources:
        return {}
    return guards.opco_deposit_problems(dossier, **inputs)


def conflict_page(message: str, back: str):
    """The answer to a request that lost a race, or acted on what the dossier no longer is:
    409 (Conflict), in French, with the way back to the dossier (nothing was changed)."""
    return render_template("error.html", code=409, title=CONFLICT_TITLE, text=message,
                           back_url=back, back_label="Revenir au dossier"), 409


class DossierWorkflowMixin:

    @expose("/<int:dossier_id>/transition/<code>/", methods=("POST",))
    def transition_view(self, dossier_id, code):
        dossier = self.get_one(dossier_id)
        if dossier is None:
            abort(404)
        rupture = _date(request.form.get("rupture_date")) if code == "rompre" else None
        # The page the button was on (Suivi – Info or Résumé): the answer goes back there.
        origin = request.form.get("_from") if request.form.get("_from") in ORIGINS else "suivi"
        back = self.get_url(".tab_view", dossier_id=dossier_id, tab_code=origin)
        inputs = {}
        if code == "declarer_envoi_opco":  # the OPCO's dossier number and the deposit date
            inputs = {"numero_opco": request.form.get("numero_opco"),
                      "date_depot": _date(request.form.get("date_depot"))}
        try:
            target = service.run_transition(
                code, dossier, current_user, comment=request.form.get("comment"),
                rupture_date=rupture, version=_version(), inputs=inputs,
                confirmed=request.form.get(workflow.CONFIRM_FIELD) == "oui")
        except service.Stale as exc:
            db.session.rollback()
            return conflict_page(str(exc), back)
        except NotConfirmed as exc:
            # Nothing written; what was typed stays on the page, the reason by the check box.
            db.session.rollback()
            flash(str(exc), "error")
            return self._answer_on(origin, dossier, (code, {"confirmation": str(exc)})), 422
        except service.WriteRefused as exc:
            db.session.rollback()
            problems = _typed_wrong(dossier, code, inputs) if inputs else {}
            if problems:
                # What was typed stays on the page, each reason next to its field.
                return self._answer_on(origin, dossier, (code, problems)), 422
            flash(str(exc), "error")
        else:
            flash(f"Dossier n° {dossier.id} : {workflow.state_label(target)}.", "success")
        return redirect(back)

    def _answer_on(self, origin, dossier, transition_error):
        from portal.dossiers import tabs
        return self._render_tab(tabs.get_tab(origin), dossier, None, None, None,
                                extra={"transition_error": transition_error})

    @expose("/<int:dossier_id>/mission/<action_code>/", methods=("POST",))
    def mission_action_view(self, dossier_id, action_code):
        dossier = self.get_one(dossier_id)
        if dossier is None or action_code not in MISSION_DONE:
            abort(404)
        back = self.get_url(".tab_view", dossier_id=dossier_id, tab_code="mission")
        try:
            service.run_mission(action_code, dossier, current_user,
                                comment=request.form.get("comment"), version=_version())
        except service.Stale as exc:
            db.session.rollback()
            return conflict_page(str(exc), back)
        except service.WriteRefused as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            flash(MISSION_DONE[action_code], "success")
        return redirect(back)

    @expose("/<int:dossier_id>/conseiller/", methods=("POST",))
    def advisor_view(self, dossier_id):
        """The CFA contact of a dossier ("contact au CFA"), chosen by CFA staff."""
        dossier = self.get_one(dossier_id)
        if dossier is None:
            abort(404)
        raw = request.form.get("cfa_conseiller_id", "")
        advisors = {u.id: u for u in policy.cfa_advisors()}
        choice = int(raw) if raw.isdigit() and int(raw) in advisors else None
        if choice is None:
            flash("Choisissez une personne de l'équipe du CFA.", "error")
        else:
            try:
                service.apply_changes(dossier, {"cfa_conseiller_id": choice}, by=current_user,
                                      source="conseiller", version=_version())
            except service.Stale as exc:
                db.session.rollback()
                return conflict_page(str(exc), self.get_url(".tab_view", dossier_id=dossier_id,
                                                            tab_code="suivi"))
            except service.WriteRefused as exc:
                db.session.rollback()
                flash(str(exc), "error")
            else:
                flash(f"Contact au CFA : {advisors[choice].full_name}.", "success")
        return redirect(self.get_url(".tab_view", dossier_id=dossier_id, tab_code="suivi"))

    def is_action_allowed(self, name):
        transition = workflow.TRANSITIONS.get(name)
        if transition is not None:
            return transition.bulk and current_user.has_role(*transition.roles)
        return super().is_action_allowed(name)

    # --- bulk: each dossier is tried on its own; the report says what was done and refused ---
    def _bulk(self, code, ids):
        transition = workflow.TRANSITIONS[code]
        done, refused = [], []
        for pk in ids:  # already re-filtered through the scope by the base view
            dossier = db.session.get(Dossier, pk)
            try:
                service.run_transition(code, dossier, current_user)
                done.append(pk)
            except service.WriteRefused as exc:
                db.session.rollback()
                refused.append((pk, str(exc)))
        if done:
            flash(f"« {transition.label} » fait pour {len(done)} dossier"
                  f"{'s' if len(done) > 1 else ''} : n° {', '.join(map(str, done))}.", "success")
        for pk, reason in refused:
            flash(f"Dossier n° {pk} refusé : {reason}", "error")

    def _refresh_actions_from_the_table(self):
        """One list action per row of the workflow table's `bulk` column."""
        for transition in workflow.bulk_transitions():
            name = transition.code
            if name in self._actions_data:
                continue
            handler = (lambda code: (lambda ids: self._bulk(code, ids)))(name)
            text = f"{transition.label} (dossiers sélectionnés)"
            self._actions.append((name, text))
            self._actions_data[name] = (handler, text,
                                        f"« {transition.label} » pour les dossiers "
                                        "sélectionnés ?")

    def init_actions(self):
        super().init_actions()
        self._refresh_actions_from_the_table()
