"""The forms and relation fields of the secure base view (admin_views.base): Flask-WTF's CSRF
token on every Flask-Admin form, text inputs stripped and integers kept within an INTEGER
column, relation options and ajax lookups read through portal.policy's scoped query, and
filters whose options are computed per request from a scoped query."""
from __future__ import annotations

from flask import current_app, session
from flask_admin.contrib.sqla.ajax import QueryAjaxModelLoader
from flask_admin.contrib.sqla.form import AdminModelConverter
from flask_admin.form import BaseForm
from flask_admin.model.fields import AjaxSelectField
from flask_login import current_user
from flask_wtf.csrf import _FlaskFormCSRF
from werkzeug.utils import cached_property
from wtforms.validators import NumberRange, ValidationError

from portal import policy
from portal.extensions import db

from .list_door import MAX_SEARCH, clamp, clean_text

MAX_ID = 2**31 - 1  # ids are INTEGER columns: PostgreSQL binds them as int4 (::INTEGER)


class SecureForm(BaseForm):
    """Flask-Admin form whose CSRF token is Flask-WTF's, so CSRFProtect and the form agree."""

    class Meta:
        csrf_class = _FlaskFormCSRF
        csrf_context = session

        @cached_property
        def csrf_secret(self):
            return current_app.config.get("WTF_CSRF_SECRET_KEY", current_app.secret_key)

        @cached_property
        def csrf_field_name(self):
            return current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")

        @cached_property
        def csrf_time_limit(self):
            return current_app.config.get("WTF_CSRF_TIME_LIMIT", 3600)

        @cached_property
        def csrf(self):
            return current_app.config.get("WTF_CSRF_ENABLED", True)

        def bind_field(self, form, unbound_field, options):
            # Users paste identifiers and e-mails with stray spaces: strip every text input.
            from wtforms import IntegerField, PasswordField, StringField
            field_class = unbound_field.field_class
            if issubclass(field_class, StringField) and not issubclass(field_class, PasswordField):
                filters = tuple(unbound_field.kwargs.get("filters", ())) + (_strip,)
                options = dict(options, filters=filters)
            if issubclass(field_class, IntegerField):  # INTEGER columns (int4 on PostgreSQL)
                validators = tuple(unbound_field.kwargs.get("validators", ())) + (_INT_RANGE,)
                options = dict(options, validators=validators)
            return unbound_field.bind(form=form, **options)


def _strip(value):
    return value.strip() if isinstance(value, str) else value


_INT_RANGE = NumberRange(min=-MAX_ID, max=MAX_ID, message="Ce nombre est trop grand.")


class ScopedAjaxLoader(QueryAjaxModelLoader):
    """`form_ajax_refs` lookups and posted-back ids, both through the scoped query."""

    def get_query(self):
        return policy.scoped(db.session.query(self.model), self.model, current_user)

    def get_one(self, pk):
        try:
            pk = int(pk)
        except (TypeError, ValueError):
            return None
        if not 0 < pk <= MAX_ID:
            return None
        with db.session.no_autoflush:
            return self.get_query().filter(self.model.id == pk).one_or_none()

    def get_list(self, term, offset=0, limit=10):
        # `ajax/lookup/?query=&offset=&limit=` come straight from the query string.
        return super().get_list(clean_text(term or "", MAX_SEARCH), clamp(offset, 0, 10**6),
                                clamp(limit, 1, 100))


class StrictAjaxSelectField(AjaxSelectField):
    """A posted id the scoped loader does not find is an error (Flask-Admin's field would
    silently empty an optional relation)."""

    def pre_validate(self, form):
        if self.data is None and self._formdata:
            raise ValidationError("Choix invalide : cet élément n'existe pas.")
        super().pre_validate(form)


class ScopedModelConverter(AdminModelConverter):
    """Relation select fields (forms and editable-list cells) list only rows in scope."""

    def _model_select_field(self, prop, multiple, remote_model, **kwargs):
        loader = getattr(self.view, "_form_ajax_refs", {}).get(prop.key)
        if loader is not None and not multiple:
            return StrictAjaxSelectField(loader, **kwargs)
        if "query_factory" not in kwargs and loader is None:
            kwargs["query_factory"] = lambda: policy.scoped(
                db.session.query(remote_model), remote_model, current_user)
        return super()._model_select_field(prop, multiple, remote_model, **kwargs)


class ScopedOptionsMixin:
    """Filter whose option list is computed per request from a scoped query.

    `options` is a callable taking the current user; outside a request it yields nothing, so
    the start-up cache never holds anyone's names."""

    scoped_options = True

    def get_options(self, view):
        from flask import has_request_context
        if not has_request_context() or not current_user.is_authenticated:
            return []
        return list(self.options(current_user))
