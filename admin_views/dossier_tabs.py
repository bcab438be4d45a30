"""The dossier's tab pages: /admin/dossier/<id>/<tab>/ (GET shows, POST saves the whole page).

Scope comes from DossierView.get_one (portal.policy); who may change a tab from
portal.policy.tab_edit_refusal; what is valid from portal.dossiers.tabs (which calls portal.rules).
A page saves only when every field of it is valid: otherwise nothing is written and every
anomaly is shown next to its field, with the input kept.
"""
from __future__ import annotations

from flask import abort, flash, redirect, request
from flask_admin import expose
from flask_login import current_user

from portal import policy
from portal.dossiers import service, tabs, workflow
from portal.dossiers.tabs.base import REQUIRED_MESSAGE, blank
from portal.extensions import db

STALE_MESSAGE = ("Ce dossier a été modifié par une autre personne pendant votre saisie : "
                 "vos changements n'ont pas été enregistrés. Ils sont encore affichés "
                 "ci-dessous ; rechargez l'onglet pour voir la version à jour.")


def visible_tab_bar(dossier) -> list:
    """The tab bar of a dossier for the current person: the registry's tabs, then the
    Financement tab when this person may see the dossier's financing."""
    from admin_views.dossier_financing import financing_tabs
    return tabs.visible_tabs(dossier) + financing_tabs(dossier)


class DossierTabsMixin:
    """Mixed into DossierView: the tab routes share its scoped get_one and its access rules."""

    def _scoped_dossier(self, dossier_id: int):
        dossier = self.get_one(dossier_id)
        if dossier is None:
            abort(404)
        return dossier

    @expose("/<int:dossier_id>/", methods=("GET",))
    def dossier_home(self, dossier_id):
        self._scoped_dossier(dossier_id)
        return redirect(self.get_url(".tab_view", dossier_id=dossier_id, tab_code="base"))

    @expose("/<int:dossier_id>/<tab_code>/", methods=("GET", "POST"))
    def tab_view(self, dossier_id, tab_code):
        dossier = self._scoped_dossier(dossier_id)
        tab = tabs.get_tab(tab_code)
        if tab is None or not tab.visible(dossier):
            abort(404)
        refusal = policy.tab_edit_refusal(current_user, dossier, tab.code) \
            if tab.editable else None
        form = None
        posted_findings = None
        status = 200
        if tab.editable:
            form_class = tab.form_class(dossier)
            if request.method == "POST":
                if refusal:
                    flash(refusal, "error")
                    return redirect(self.get_url(".tab_view", dossier_id=dossier.id,
                                                 tab_code=tab.code)), 303
                form = form_class()
                saved, posted_findings = self._save_tab(tab, dossier, form)
                if saved:
                    flash(f"Onglet « {tab.label} » enregistré.", "success")
                    return redirect(self.get_url(".tab_view", dossier_id=dossier.id,
                                                 tab_code=tab.code))
                # Lost to a concurrent change (the input is kept on the page): a conflict.
                status = 409 if saved is None else 422
            else:
                form = form_class(data=tab.load(dossier))
        elif request.method == "POST":
            abort(405)
        return self._render_tab(tab, dossier, form, refusal, posted_findings), status

    # --- saving: through the one write path -------------------------------------------------
    def _submitted(self, tab, form, dossier) -> dict:
        if hasattr(tab, "form_data"):
            return tab.form_data(form, dossier)
        return {name: field.data for name, field in form._fields.items()
                if name != "csrf_token" and name in tab.fields}

    def _save_tab(self, tab, dossier, form):
        """Validate the whole page; save it only when nothing blocks. Returns (saved, findings
        shown on the page); saved is None when the page lost to a concurrent change."""
        # Fields this person sees but may not change are shown disabled (not posted): they
        # keep their stored value, whatever a forged form says.
        stored = tab.load(dossier)
        for name in policy.readonly_fields(current_user, dossier, form._fields):
            form._fields[name].process(None, stored.get(name))
        format_ok = form.validate()
        if "csrf_token" in form.errors:
            flash("Le formulaire a expiré : enregistrez à nouveau.", "error")
        submitted = self._submitted(tab, form, dossier)
        # Fields the format check rejected have no usable value: keep them out of the rules.
        for name in form.errors:
            submitted.pop(name, None)
        findings = tabs.dossier_findings(dossier, tabs.dossier_data(dossier, submitted))
        blocking = tabs.blocking_findings(tab, dossier, submitted)
        if not format_ok:
            self._attach(form, blocking, {})
            count = sum(len(errors) for errors in form.errors.values()) or len(blocking)
            flash(f"L'onglet n'a pas été enregistré : {count} anomalie"
                  f"{'s' if count > 1 else ''} à corriger.", "error")
            db.session.rollback()
            return False, findings
        try:
            service.apply_changes(
                dossier, submitted, by=current_user, source="tab", tab=tab,
                version=request.form.get("_version", type=int),
                findings=lambda d, changes: tabs.blocking_findings(tab, d, changes))
        except service.Stale:
            db.session.rollback()
            flash(STALE_MESSAGE, "error")
            return None, findings
        except service.WriteRefused as exc:
            db.session.rollback()
            self._attach(form, exc.findings, exc.errors)
            flash(str(exc), "error")
            return False, findings
        return True, None

    @staticmethod
    def _attach(form, findings, errors) -> None:
        """Each message next to its field."""
        pairs = [(f.field, f.message) for f in findings] + list(errors.items())
        for name, message in pairs:
            field = form._fields.get(name)
            if field is not None and message not in field.errors:
                field.errors = list(field.errors) + [message]

    # --- rendering -----------------------------------------------------------------------------
    def _render_tab(self, tab, dossier, form, refusal, posted_findings, extra=None):
        stored = tabs.dossier_findings(dossier)
        status = tabs.tab_status(dossier, stored)
        if posted_findings is not None:
            shown = posted_findings
        else:
            # On arrival, blank required fields are only marked (*); "Ce champ est obligatoire"
            # appears after a save attempt and in the Résumé. Other anomalies show at once.
            shown = [tf for tf in stored if tf.finding.message != REQUIRED_MESSAGE]
        data = tabs.dossier_data(dossier)
        if form is not None and request.method == "POST":
            data = tabs.dossier_data(dossier, {k: f.data for k, f in form._fields.items()
                                               if k != "csrf_token"})
        by_field: dict[str, list] = {}
        unplaced = []
        for tf in shown:
            if tf.tab != tab.code:
                continue
            if form is not None and (tf.finding.field in form._fields
                                     or any(tf.finding.field.startswith(prefix)
                                            for prefix in tab.field_prefixes)):
                by_field.setdefault(tf.finding.field, []).append(tf.finding)
            else:
                unplaced.append(tf.finding)
        required = tab.required(data, dossier) if tab.editable else set()
        context = dict(
            dossier=dossier, tab=tab, tabs=visible_tab_bar(dossier), status=status,
            form=form, readonly=bool(refusal) or not tab.editable, refusal=refusal,
            sections=tab.sections(dossier, data) if tab.editable else [],
            findings_by_field=by_field, unplaced=unplaced, required=required,
            all_findings=shown, state=workflow.STATES.get(dossier.state),
            blank=blank, readonly_fields=policy.readonly_fields(
                current_user, dossier, form._fields if form is not None else ()),
        )
        context.update(tab.extra_context(dossier, data))
        context.update(extra or {})
        return self.render(tab.template, **context)
