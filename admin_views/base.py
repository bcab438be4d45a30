"""The one secure base view: every Flask-Admin door goes through portal.policy.

See ../shared/design/FLASK_ADMIN_SECURITY.md for the doors. Each override below names the door
it guards. Subclasses stay declarative: they set columns, filters and per-role forms, never
scoping. Flask-Admin is pinned (>=2.2.1,<2.3) because some hooks used here are private; the
authorization-matrix tests guard every upgrade.
"""
from __future__ import annotations

from functools import cached_property

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_admin import expose
from flask_admin.contrib.sqla import ModelView
from flask_admin.model.helpers import get_mdict_item_or_list
from flask_login import current_user
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm.exc import StaleDataError

from portal import policy
from portal.auth.redirects import drop_unsafe_parameter
from portal.extensions import db

from .list_door import BARE_LIST, ListDoorMixin
from .scoped_forms import MAX_ID, ScopedAjaxLoader, ScopedModelConverter, SecureForm

MAX_ACTION_IDS = 1000  # rows one action may receive (a list page shows 100 at most)


def row_or_404(model, pk):
    """The one way a custom route gets its row: through portal.policy's filter for ``model``
    (what the current person may act on). Another owner's row, a row that does not exist and
    an id that is not one all answer 404, alike."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        abort(404)
    if not 0 < pk <= MAX_ID:
        abort(404)
    row = policy.scoped(db.session.query(model), model, current_user).filter(
        model.id == pk).one_or_none()
    if row is None:
        abort(404)
    return row


class ScalarOf:
    """The count of a list with no search and no filter: Flask-Admin only asks its scalar()
    (anything else it would add, a filter, fails loudly rather than counting wrong)."""

    def __init__(self, statement):
        self.statement = statement

    def scalar(self):
        return db.session.scalar(self.statement)


class SecureModelView(ListDoorMixin, ModelView):
    """Base of every model view. Row scope and permissions come from portal.policy only."""

    form_base_class = SecureForm
    model_form_converter = ScopedModelConverter
    fast_mass_delete = False  # bulk delete goes through delete_model (per-row predicate)
    page_size = 20
    can_set_page_size = True
    page_size_options = (20, 50, 100)
    can_view_details = True
    details_modal = False
    edit_modal = False
    create_modal = False
    list_template = "admin/sillon_list.html"

    # Per-role edit / create forms: {role code: [columns]}; a person gets the form of their
    # main role (portal.policy.ROLE_PRIORITY). Roles absent from the dict get `form_columns`.
    form_columns_by_role: dict[str, list[str]] = {}

    def __init__(self, model, session=None, **kwargs):
        super().__init__(model, session or db, **kwargs)

    # --- may the person open the view / use a door ------------------------------------------
    def is_accessible(self):
        return current_user.is_authenticated and policy.may_open(current_user, self.model)

    def inaccessible_callback(self, name, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path))
        abort(403)

    # --- door: the `url` return address (create, edit, details, delete, action, export) --------
    def _handle_view(self, name, **kwargs):
        # Flask-Admin reads `url` through get_redirect_target, imported by name into its model
        # and action modules; its own is_safe_url lets through what portal.auth.redirects does
        # not. Run before every view method, this leaves only a same-site path in
        # request.values (an unsafe one is absent: Flask-Admin falls back to the list).
        drop_unsafe_parameter("url")
        return super()._handle_view(name, **kwargs)

    @property
    def can_create(self):
        return policy.may_create(current_user, self.model)

    @property
    def can_edit(self):
        return policy.may_edit_some(current_user, self.model)

    @property
    def can_delete(self):
        return policy.may_delete_some(current_user, self.model)

    # Flask-Admin assigns these in some code paths; the policy stays the source of truth.
    @can_create.setter
    def can_create(self, value):
        pass

    @can_edit.setter
    def can_edit(self, value):
        pass

    @can_delete.setter
    def can_delete(self, value):
        pass

    # --- door: list, search, sort, filters, export; and the "List (N)" count ------------------
    # (arguments brought into range and exports written safely: ListDoorMixin, list_door.py)
    def get_query(self):
        return policy.scoped(super().get_query(), self.model, current_user)

    def get_count_query(self):
        # count(*) rather than Flask-Admin's count(?) with '*' bound: SQLite's fast count.
        if g.get(BARE_LIST) == self.endpoint:  # no search, no filter: the policy's own count
            return ScalarOf(policy.count_statement(self.model, current_user))
        query = db.session.query(sa.func.count()).select_from(self.model)
        return policy.scoped(query, self.model, current_user)

    # --- door: details / edit / delete / ajax_update: get_one through the scoped query --------
    def get_one(self, id):
        try:
            pk = int(id)
        except (TypeError, ValueError):
            return None
        if not 0 < pk <= MAX_ID:
            return None  # an id no row can have (and SQLite cannot even bind)
        return self.get_query().filter(self.model.id == pk).one_or_none()

    def _get_one_or_404(self):
        """Used by custom pages: another owner's row answers like a row that does not exist."""
        obj = self.get_one(get_mdict_item_or_list(request.args, "id"))
        if obj is None:
            abort(404)
        return obj

    # --- door: edit POST, editable cells ---------------------------------------------------------
    def update_model(self, form, model):
        refusal = self.edit_refusal(model)
        if refusal:
            flash(refusal, "error")
            return False
        try:
            return super().update_model(form, model)
        except StaleDataError:
            db.session.rollback()
            flash("Ce dossier a été modifié par une autre personne pendant votre saisie : "
                  "rechargez la page pour voir ses changements.", "error")
            return False

    def edit_refusal(self, model) -> str | None:
        """French reason why the current user may not change this row, or None."""
        if not policy.may_edit(current_user, model):
            return getattr(self, "edit_refused_message",
                           "Vous n'avez pas le droit de modifier cet enregistrement.")
        return None

    def create_model(self, form):
        if not policy.may_create(current_user, self.model):
            flash("Vous n'avez pas le droit de créer cet enregistrement.", "error")
            return False
        return super().create_model(form)

    def on_model_change(self, form, model, is_created):
        # Re-check after the form populated the object: a re-pointed relation must stay in scope.
        db.session.flush()
        if not policy.can_see(current_user, model):
            raise PermissionError("Vous ne pouvez pas rattacher cet enregistrement "
                                  "à un élément qui n'est pas le vôtre.")

    def handle_view_exception(self, exc):
        if isinstance(exc, PermissionError):
            flash(str(exc), "error")
            return True
        if isinstance(exc, IntegrityError) and request.endpoint and (
                request.endpoint.endswith((".delete_view", ".action_view"))):
            flash("Cet enregistrement est utilisé ailleurs : il ne peut pas être supprimé.",
                  "error")
            return True
        if isinstance(exc, (StatementError, ValueError)):
            # Never show the database's message (it carries SQL and other rows' values).
            flash("Les données saisies ne sont pas valides.", "error")
            return True
        return super().handle_view_exception(exc)

    # --- door: delete (single and bulk: fast_mass_delete is off, so bulk goes through here) ---
    def delete_model(self, model):
        if not policy.may_delete(current_user, model):
            flash("Vous n'avez pas le droit de supprimer cet enregistrement.", "error")
            return False
        return super().delete_model(model)

    # --- door: custom @action: the posted ids are re-filtered through the scoped query ---------
    def scoped_ids(self, ids) -> list[int]:
        clean = set()
        for raw in ids:
            try:
                pk = int(raw)
            except (TypeError, ValueError):
                continue
            if 0 < pk <= MAX_ID:  # an id no row can have (and the database cannot bind)
                clean.add(pk)
        if not clean:
            return []
        if len(clean) > MAX_ACTION_IDS:
            flash(f"Sélectionnez au plus {MAX_ACTION_IDS} lignes à la fois.", "error")
            return []
        query = policy.scoped(db.session.query(self.model.id), self.model, current_user)
        return [row[0] for row in query.filter(self.model.id.in_(sorted(clean)))]

    def handle_action(self, return_view=None):
        form = self.action_form()
        if self.validate_form(form):
            allowed = self.scoped_ids(request.form.getlist("rowid"))
            action = form.action.data
            handler = self._actions_data.get(action)
            if handler and self.is_action_allowed(action):
                response = handler[0](allowed)
                if response is not None:
                    return response
        else:
            flash("L'action n'a pas pu être effectuée (formulaire expiré) : réessayez.", "error")
        return redirect(self.get_url(".index_view") if return_view is None
                        else self.get_url("." + return_view))

    # The bulk delete in French (Flask-Admin's catalogue asks « supprimer ces objets? »); a view
    # names its rows (« les dossiers sélectionnés »).
    delete_confirmation = ("Supprimer définitivement les lignes sélectionnées ? "
                           "Cette suppression est irréversible.")

    def init_actions(self):
        super().init_actions()
        if "delete" in self._actions_data:
            handler = self._actions_data["delete"][0]
            self._actions_data["delete"] = (handler, "Supprimer", self.delete_confirmation)
            self._actions = [(name, "Supprimer" if name == "delete" else text)
                             for name, text in self._actions]

    def is_action_allowed(self, name):
        if name == "delete":
            return self.can_delete
        return super().is_action_allowed(name)

    # --- door: editable list cells (ajax_update) --------------------------------------------------
    @expose("/ajax/update/", methods=("POST",))
    def ajax_update(self):
        if not self.column_editable_list or not self.can_edit:
            abort(404)
        pk = request.form.get("list_form_pk")
        record = self.get_one(pk)
        if record is None:
            return "Enregistrement introuvable.", 404
        refusal = self.edit_refusal(record)
        if refusal:
            return refusal, 403
        return super().ajax_update()

    # --- door: relation options of forms; form_ajax_refs loaders --------------------------------
    def _create_ajax_loader(self, name, options):
        remote = getattr(self.model, name).property.mapper.class_
        return ScopedAjaxLoader(name, db.session, remote, **options)

    # --- per-role forms, built once at start-up (no per-request mutation of shared state) -------
    def _refresh_forms_cache(self):
        super()._refresh_forms_cache()
        self._role_form_classes = {}
        if not self.form_columns_by_role:
            return
        default_columns = self.form_columns
        try:
            for role, columns in self.form_columns_by_role.items():
                self.form_columns = columns
                self._role_form_classes[role] = self.get_form()
        finally:
            self.form_columns = default_columns

    def _form_class_for_user(self, default):
        role = policy.main_role(current_user)
        return self._role_form_classes.get(role, default)

    def create_form(self, obj=None):
        from flask_admin.helpers import get_form_data
        return self._form_class_for_user(self._create_form_class)(get_form_data(), obj=obj)

    def edit_form(self, obj=None):
        from flask_admin.helpers import get_form_data
        return self._form_class_for_user(self._edit_form_class)(get_form_data(), obj=obj)

    # --- door: filter option lists, computed per request from scoped queries --------------------
    def _get_filter_groups(self):
        """Flask-Admin's filter groups (names, operations, static options: the same for every
        request, made non-lazy once) with each scoped filter's options read for this person.
        The groups are a function of those options alone: they and their JSON are made once
        per distinct options (FilterGroups; the dossier list's template writes ``.json``)."""
        fixed = self.__dict__.get("_sillon_filter_groups")
        if fixed is None:
            fixed = self._sillon_filter_groups = super()._get_filter_groups() or {}
        scoped = {}
        for items in fixed.values():
            for item in items:
                flt = self._filters[item["index"]]
                if getattr(flt, "scoped_options", False):
                    scoped[item["index"]] = tuple(tuple(option)
                                                  for option in flt.get_options(self) or ())
        key = tuple(sorted(scoped.items()))
        kept = self.__dict__.setdefault("_sillon_groups_by_options", {})
        found = kept.get(key)
        if found is None:
            if len(kept) >= MAX_KEPT_GROUPS:
                kept.clear()
            found = kept[key] = FilterGroups(
                {label: [dict(item, options=[(str(k), str(v))
                                             for k, v in scoped[item["index"]]])
                         if item["index"] in scoped else item for item in items]
                 for label, items in fixed.items()})
        return found or None


MAX_KEPT_GROUPS = 256  # distinct scoped options whose filter groups are kept per view


class FilterGroups(dict):
    """Flask-Admin's filter groups, never changed once made, with their JSON written once as
    Jinja's ``tojson`` writes it."""

    @cached_property
    def json(self) -> Markup:
        policies = current_app.jinja_env.policies
        return htmlsafe_json_dumps(self, dumps=policies["json.dumps_function"],
                                   **policies["json.dumps_kwargs"])
