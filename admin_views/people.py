"""Users and their roles (cfa_admin only). Users are deactivated, never deleted."""
import secrets

from flask_login import current_user
from wtforms import PasswordField, SelectMultipleField, validators
from wtforms.widgets import CheckboxInput, ListWidget

from portal.models import ROLE_LABELS, UserRole

from .base import SecureModelView


class RolesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _roles(view, context, model, name):
    return ", ".join(ROLE_LABELS.get(code, code) for code in sorted(model.role_codes))


class UserView(SecureModelView):
    column_list = ["email", "last_name", "first_name", "roles", "active", "last_login_at"]
    column_labels = {"email": "E-mail", "last_name": "Nom", "first_name": "Prénom",
                     "phone": "Téléphone", "roles": "Rôles", "active": "Actif",
                     "last_login_at": "Dernière connexion", "created_at": "Créé le",
                     "role_codes_field": "Rôles", "new_password": "Nouveau mot de passe"}
    column_formatters = {"roles": _roles}
    column_searchable_list = ["email", "last_name", "first_name"]
    column_filters = ["active"]
    column_default_sort = ("email", False)
    column_details_list = ["email", "last_name", "first_name", "phone", "roles", "active",
                           "created_at", "last_login_at", "rgpd_accepted_at", "rgpd_version"]
    form_columns = ["email", "last_name", "first_name", "phone", "active", "role_codes_field",
                    "new_password"]
    form_extra_fields = {
        "role_codes_field": RolesField("Rôles", choices=list(ROLE_LABELS.items())),
        "new_password": PasswordField("Nouveau mot de passe", validators=[
            validators.Optional(), validators.Length(
                min=10, message="Le mot de passe doit compter au moins 10 caractères.")]),
    }
    form_args = {"email": {"validators": [
        validators.InputRequired("L'e-mail est obligatoire."),
        validators.Email("Cette adresse e-mail n'est pas valide.", check_deliverability=False)]}}

    def on_form_prefill(self, form, id):
        obj = self.get_one(id)
        if obj is not None:
            form.role_codes_field.data = sorted(obj.role_codes)

    def on_model_change(self, form, model, is_created):
        model.email = (model.email or "").strip().lower()
        wanted = set(form.role_codes_field.data or [])
        if model.id == getattr(current_user, "id", None) and "cfa_admin" not in wanted:
            raise PermissionError("Vous ne pouvez pas retirer votre propre rôle d'administrateur.")
        for role in list(model.roles):
            if role.role not in wanted:
                model.roles.remove(role)
        for code in wanted - model.role_codes:
            model.roles.append(UserRole(role=code))
        if form.new_password.data:
            model.set_password(form.new_password.data)
        if not model.active:
            # Deactivation ends every open session of the person.
            model.session_token = secrets.token_hex(16)
        super().on_model_change(form, model, is_created)
