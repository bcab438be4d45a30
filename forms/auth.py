"""Forms of the public and account pages: login, password reset, first password, RGPD consent,
access-code registration, account (password and e-mail change). French messages."""
from __future__ import annotations

import re
from datetime import date

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, EmailField, PasswordField, StringField
from wtforms.validators import (DataRequired, Email, EqualTo, InputRequired, Length,
                                ValidationError)

from portal.accounts import invitations as accounts

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _clean(value):
    return _CONTROL.sub("", value).strip() if isinstance(value, str) else value


def _email_field(label="Adresse e-mail"):
    return EmailField(label, filters=[_clean], validators=[
        DataRequired("Saisissez votre adresse e-mail."),
        Email("Cette adresse e-mail n'est pas valide.", check_deliverability=False),
        Length(max=254, message="Cette adresse e-mail est trop longue.")])


class _NewPassword:
    """A new password must pass portal.accounts.invitations.password_problem (length, not only digits…)."""

    def __call__(self, form, field):
        problem = accounts.password_problem(field.data, getattr(form, "user", None))
        if problem:
            raise ValidationError(problem)


def _new_password_fields():
    return (
        PasswordField("Nouveau mot de passe", validators=[
            InputRequired("Choisissez un mot de passe."), _NewPassword()]),
        PasswordField("Confirmez le nouveau mot de passe", validators=[
            InputRequired("Saisissez une seconde fois le mot de passe."),
            EqualTo("password", "Les deux mots de passe ne sont pas identiques.")]),
    )


class LoginForm(FlaskForm):
    email = _email_field()
    password = PasswordField("Mot de passe", validators=[
        DataRequired("Saisissez votre mot de passe."), Length(max=200)])


class ForgotForm(FlaskForm):
    email = _email_field()


class NewPasswordForm(FlaskForm):
    """Reset link and forced first password. ``user`` is set by the view (for the checks)."""
    password, confirm = _new_password_fields()

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user


class ChangePasswordForm(FlaskForm):
    current = PasswordField("Mot de passe actuel", validators=[
        InputRequired("Saisissez votre mot de passe actuel.")])
    password, confirm = _new_password_fields()

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, prefix="pwd", **kwargs)
        self.user = user

    def validate_current(self, field):
        if self.user is None or not self.user.check_password(field.data):
            raise ValidationError("Le mot de passe actuel n'est pas le bon.")


class ChangeEmailForm(FlaskForm):
    email = _email_field("Nouvelle adresse e-mail")
    current = PasswordField("Mot de passe actuel", validators=[
        InputRequired("Saisissez votre mot de passe pour confirmer.")])

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, prefix="mail", **kwargs)
        self.user = user

    def validate_current(self, field):
        if self.user is None or not self.user.check_password(field.data):
            raise ValidationError("Le mot de passe actuel n'est pas le bon.")

    def validate_email(self, field):
        if self.user is not None and accounts.normalize_email(field.data) == \
                accounts.normalize_email(self.user.email):
            raise ValidationError("C'est déjà votre adresse e-mail.")


class ConsentForm(FlaskForm):
    accept = BooleanField("J'ai lu et j'accepte les conditions de traitement de mes données "
                          "personnelles.", validators=[DataRequired(
                              "Cochez la case pour accepter les conditions et continuer.")])


def _birth_date_bounds(form, field):
    if field.data is None:
        return
    today = date.today()
    if field.data > today:
        raise ValidationError("La date de naissance ne peut pas être dans le futur.")
    if field.data.year < 1900:
        raise ValidationError("Cette date de naissance n'est pas plausible.")
    years = today.year - field.data.year - ((today.month, today.day)
                                            < (field.data.month, field.data.day))
    if years < 14:
        raise ValidationError(f"Avec cette date de naissance vous auriez {years} ans : "
                              "l'alternance commence au plus tôt à 15 ans. Vérifiez la date.")


class RegistrationForm(FlaskForm):
    """Self-registration with the training's access code (right-hand side of the login page)."""
    code = StringField("Code d'accès de la formation", filters=[_clean], validators=[
        DataRequired("Saisissez le code d'accès remis par votre formation."),
        Length(max=40, message="Ce code d'accès n'est pas valable.")])
    first_name = StringField("Prénom", filters=[_clean], validators=[
        DataRequired("Le prénom est obligatoire."),
        Length(max=100, message="Le prénom ne peut pas dépasser 100 caractères.")])
    last_name = StringField("Nom", filters=[_clean], validators=[
        DataRequired("Le nom est obligatoire."),
        Length(max=100, message="Le nom ne peut pas dépasser 100 caractères.")])
    email = _email_field()
    birth_date = DateField("Date de naissance", format=["%Y-%m-%d", "%d/%m/%Y"], validators=[
        InputRequired("La date de naissance est obligatoire (JJ/MM/AAAA)."),
        _birth_date_bounds])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix="reg", **kwargs)

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        if self.birth_date.process_errors:
            # A badly typed date gets a French message (WTForms' own is generic); an empty one
            # is reported as missing.
            typed = " ".join(self.birth_date.raw_data or []).strip()
            self.birth_date.errors = [
                "La date de naissance n'est pas valide (JJ/MM/AAAA)." if typed
                else "La date de naissance est obligatoire (JJ/MM/AAAA)."]
        return ok
