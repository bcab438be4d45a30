"""The dossier's tab pages: /admin/dossier/<id>/<tab>/ (GET shows, POST saves the whole page).

Scope comes from DossierView.get_one (portal.policy); who may change a tab from
portal.policy.tab_edit_refusal; what is valid from portal.dossiers.tabs (which calls portal.rules).
A page saves only when every field of it is valid: otherwise nothing is written and every
anomaly is shown next to its field, with the input kept.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask import abort, flash, redirect, request
from flask_admin import expose
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError

from portal import policy
from portal.accounts import invitations as accounts
from portal.dossiers import tabs
from portal.dossiers import workflow
from portal.extensions import db
from portal.dossiers.locking import DossierLocked
from portal.models import DossierHistory
from portal.rules import ERROR
from portal.dossiers.tabs.base import REQUIRED_MESSAGE, blank

STALE_MESSAGE = ("Ce dossier a été modifié par une autre personne pendant votre saisie : "
                 "vos changements n'ont pas été enregistrés. Ils sont encore affichés "
                 "ci-dessous ; rechargez l'onglet pour voir la version à jour.")


def _comparable(value):
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, Decimal):
        return value.normalize()
    return value


def _display(value) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    return str(value)


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
                status = 422
            else:
                form = form_class(data=tab.load(dossier))
        elif request.method == "POST":
            abort(405)
        return self._render_tab(tab, dossier, form, refusal, posted_findings), status

    # --- saving --------------------------------------------------------------------------------
    def _submitted(self, tab, form, dossier) -> dict:
        if hasattr(tab, "form_data"):
            return tab.form_data(form, dossier)
        return {name: field.data for name, field in form._fields.items()
                if name != "csrf_token" and name in tab.fields}

    def _save_tab(self, tab, dossier, form):
        """Validate the whole page; save it only when nothing blocks. Returns (saved, findings
        shown on the page)."""
        format_ok = form.validate()
        if "csrf_token" in form.errors:
            flash("Le formulaire a expiré : enregistrez à nouveau.", "error")
        submitted = self._submitted(tab, form, dossier)
        # Fields the format check rejected have no usable value: keep them out of the rules.
        for name in form.errors:
            submitted.pop(name, None)
        before = tabs.dossier_data(dossier)
        merged = tabs.dossier_data(dossier, submitted)
        findings = tabs.dossier_findings(dossier, merged)
        # Blocking: this tab's own checks (required fields, formats, identifiers), and every
        # cross-tab error on this tab that this submission brings (absent before it). An older
        # anomaly caused by another tab stays shown but does not hold this page hostage.
        own = {(f.field, f.message) for f in tab.check(merged, dossier)}
        existing = {(tf.finding.field, tf.finding.message)
                    for tf in tabs.dossier_findings(dossier, before)
                    if tf.tab == tab.code and tf.finding.level == ERROR}
        blocking = [tf.finding for tf in findings
                    if tf.tab == tab.code and tf.finding.level == ERROR and (
                        (tf.finding.field, tf.finding.message) in own
                        or (tf.finding.field, tf.finding.message) not in existing
                        # The legal minimum pay is never saved below, whoever caused it.
                        or tf.finding.field.startswith("remuneration_"))]
        for finding in blocking:
            field = form._fields.get(finding.field)
            if field is not None and finding.message not in field.errors:
                field.errors = list(field.errors) + [finding.message]
        version = request.form.get("_version", type=int)
        stale = version is not None and version != dossier.version
        if not format_ok or blocking or stale:
            if stale:
                flash(STALE_MESSAGE, "error")
            elif not format_ok or blocking:
                count = sum(len(errors) for errors in form.errors.values()) or len(blocking)
                flash(f"L'onglet n'a pas été enregistré : {count} anomalie"
                      f"{'s' if count > 1 else ''} à corriger.", "error")
            db.session.rollback()
            return False, findings
        try:
            self._record_changes(tab, dossier, before, submitted)
            emails_before = {f: accounts.normalize_email(getattr(dossier, f))
                             for f in accounts.PEOPLE_FIELDS}
            tab.store(dossier, submitted, current_user)
            # A new or changed address on the dossier invites that person (SPEC §4).
            changed = [f for f, old in emails_before.items()
                       if accounts.normalize_email(getattr(dossier, f)) != old]
            if changed:
                accounts.link_dossier_people(dossier, by=current_user, fields=changed)
            dossier.updated_at = workflow.now()  # bump the version even if only parts changed
            workflow.on_tab_saved(dossier, current_user)
            db.session.commit()
        except StaleDataError:
            db.session.rollback()
            flash(STALE_MESSAGE, "error")
            return False, findings
        except DossierLocked as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return False, findings
        return True, None

    def _record_changes(self, tab, dossier, before, submitted):
        form_class = tab.form_class(dossier)
        for name, value in submitted.items():
            old = before.get(name)
            if name == "remuneration" or _comparable(value) == _comparable(old):
                continue
            unbound = getattr(form_class, name, None)
            label = unbound.args[0] if unbound is not None and unbound.args else name
            db.session.add(DossierHistory(
                dossier=dossier, user_id=current_user.id, kind="field",
                field=f"{tab.label} – {label}", old_value=_display(old),
                new_value=_display(value)))

    # --- rendering -----------------------------------------------------------------------------
    def _render_tab(self, tab, dossier, form, refusal, posted_findings):
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
            dossier=dossier, tab=tab, tabs=tabs.visible_tabs(dossier), status=status,
            form=form, readonly=bool(refusal) or not tab.editable, refusal=refusal,
            sections=tab.sections(dossier, data) if tab.editable else [],
            findings_by_field=by_field, unplaced=unplaced, required=required,
            all_findings=shown, state=workflow.STATES.get(dossier.state),
            blank=blank,
        )
        context.update(tab.extra_context(dossier, data))
        return self.render(tab.template, **context)
