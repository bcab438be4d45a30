"""Users and their roles (cfa_admin only). Users are deactivated, never deleted."""
from flask import flash
from flask_admin.actions import action
from flask_login import current_user
from wtforms import PasswordField, SelectMultipleField, validators
from wtforms.widgets import CheckboxInput, ListWidget

from portal.accounts import invitations as accounts
from portal.extensions import db
from portal.models import ROLE_LABELS, User, UserRole

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
            # A password set by the administrator is temporary: the person replaces it at
            # their next login.
            model.set_password(form.new_password.data,
                               temporary_until=accounts.now() + accounts.TEMPORARY_PASSWORD_LIFETIME)
        if not model.active:
            # Deactivation ends every open session of the person.
            model.end_sessions()
        super().on_model_change(form, model, is_created)
        if is_created and not form.new_password.data and model.active:
            db.session.flush()
            accounts.send_welcome(model, invited_by=current_user, reason="votre rôle : " + ", ".join(
                ROLE_LABELS.get(code, code) for code in sorted(wanted)))

    # --- actions: deactivate, reactivate, resend the invitation ------------------------------
    def _users(self, ids):
        return [u for u in (db.session.get(User, pk) for pk in self.scoped_ids(ids))
                if u is not None]

    @action("desactiver", "Désactiver", "Désactiver les comptes sélectionnés ? Leurs sessions "
            "ouvertes prennent fin immédiatement.")
    def action_deactivate(self, ids):
        done = 0
        for user in self._users(ids):
            if user.id == current_user.id:
                flash("Vous ne pouvez pas désactiver votre propre compte.", "error")
                continue
            user.active = False
            user.end_sessions()
            done += 1
        db.session.commit()
        if done:
            flash(f"{done} compte{'s' if done > 1 else ''} désactivé{'s' if done > 1 else ''}.",
                  "success")

    @action("reactiver", "Réactiver")
    def action_reactivate(self, ids):
        users = self._users(ids)
        for user in users:
            user.active = True
        db.session.commit()
        flash(f"{len(users)} compte{'s' if len(users) > 1 else ''} réactivé"
              f"{'s' if len(users) > 1 else ''}.", "success")

    @action("reinviter", "Renvoyer l'invitation", "Un nouveau mot de passe provisoire (valable "
            "une heure) sera envoyé à chaque personne sélectionnée. Continuer ?")
    def action_reinvite(self, ids):
        sent = 0
        for user in self._users(ids):
            if user.active:
                accounts.send_welcome(user, invited_by=current_user)
                sent += 1
        db.session.commit()
        flash(f"Invitation renvoyée à {sent} personne{'s' if sent > 1 else ''}.", "success")
