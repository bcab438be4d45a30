"""Field factories shared by the tab forms: French messages, code lists from the reference
table, stripped text."""
from __future__ import annotations

from flask_wtf import FlaskForm
import sqlalchemy as sa
from wtforms import (BooleanField, DateField, DecimalField, EmailField, IntegerField,
                     SelectField, StringField, TextAreaField)
from wtforms import validators as v

from portal.extensions import db

DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y"]


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _upper(value):
    return value.strip().upper() if isinstance(value, str) else value


class TabForm(FlaskForm):
    """Base of every tab form (CSRF through Flask-WTF)."""

    class Meta:
        locales = ["fr_FR", "fr"]


def text(label: str, max_length: int = 100, **kwargs):
    return StringField(label, [v.Optional(), v.Length(max=max_length, message=(
        f"{max_length} caractères au plus."))], filters=[_strip], **kwargs)


def code_text(label: str, max_length: int, **kwargs):
    """Identifiers: stripped and upper-cased (NIR, INE, NAF…)."""
    return StringField(label, [v.Optional(), v.Length(max=max_length + 6, message=(
        f"{max_length} caractères au plus."))], filters=[_upper], **kwargs)


def email(label: str, **kwargs):
    return EmailField(label, [v.Optional(), v.Length(max=254), v.Email(
        "Cette adresse e-mail n'est pas valide.", check_deliverability=False)],
        filters=[lambda s: s.strip().lower() if isinstance(s, str) else s], **kwargs)


def day(label: str, **kwargs):
    return DateField(label, [v.Optional()], format=DATE_FORMATS, **kwargs)


def flag(label: str, **kwargs):
    return BooleanField(label, **kwargs)


def integer(label: str, minimum: int | None = None, maximum: int | None = None, **kwargs):
    checks = [v.Optional()]
    if minimum is not None or maximum is not None:
        checks.append(v.NumberRange(min=minimum, max=maximum, message=(
            f"Saisissez un nombre entre {minimum} et {maximum}." if maximum is not None
            else f"Saisissez un nombre supérieur ou égal à {minimum}.")))
    return IntegerField(label, checks, **kwargs)


def amount(label: str, **kwargs):
    return DecimalField(label, [v.Optional(), v.NumberRange(
        min=0, max=10_000_000, message="Saisissez un montant positif.")], places=2, **kwargs)


def long_text(label: str, max_length: int = 10_000, **kwargs):
    return TextAreaField(label, [v.Optional(), v.Length(max=max_length, message=(
        f"{max_length} caractères au plus."))], filters=[_strip], **kwargs)


def code_choices(liste: str):
    """(code, "code – libellé") of an active CERFA code list, read at each request."""
    def choices():
        from portal.models import CodeReference
        rows = db.session.execute(
            sa.select(CodeReference.code, CodeReference.libelle)
            .where(CodeReference.liste == liste, CodeReference.actif.is_(True))
            .order_by(CodeReference.code)).all()
        return [("", "— choisir —")] + [(code, f"{code} – {label}") for code, label in rows]
    return choices


def code_select(label: str, liste: str, **kwargs):
    return SelectField(label, [v.Optional()], choices=code_choices(liste),
                       validate_choice=True, **kwargs)


def select(label: str, choices, **kwargs):
    return SelectField(label, [v.Optional()], choices=[("", "— choisir —"), *choices], **kwargs)
