"""Field factories shared by the tab forms: French messages, code lists from the reference
table, stripped text."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from flask_wtf import FlaskForm
import sqlalchemy as sa
from wtforms import (BooleanField, DateField, DecimalField, EmailField, IntegerField,
                     SelectField, StringField, TextAreaField)
from wtforms import validators as v
from wtforms.validators import StopValidation, ValidationError

from portal.extensions import db

DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y"]


# Control characters other than tab and newlines never belong in a field (and PostgreSQL
# refuses NUL in text).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MIN_DATE, MAX_DATE = date(1900, 1, 1), date(2100, 12, 31)


def _clean(value):
    return _CONTROL.sub("", value) if isinstance(value, str) else value


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _upper(value):
    """Identifiers (NIR, INE, SIRET, NAF…) never contain spaces: drop them, upper-case."""
    return re.sub(r"\s+", "", value).upper() if isinstance(value, str) else value


class TabForm(FlaskForm):
    """Base of every tab form (CSRF through Flask-WTF)."""

    class Meta:
        locales = ["fr_FR", "fr"]

        def bind_field(self, form, unbound_field, options):
            # Every text input loses its control characters before any other filter.
            if issubclass(unbound_field.field_class, StringField):
                filters = (_clean,) + tuple(unbound_field.kwargs.get("filters", ()))
                options = dict(options, filters=filters)
            return unbound_field.bind(form=form, **options)


class _DateRange:
    def __call__(self, form, field):
        if field.data is not None and not (MIN_DATE <= field.data <= MAX_DATE):
            raise ValidationError("Date hors des limites possibles (1900 à 2100).")


class _Finite:
    """Decimal inputs: refuse NaN and infinities before any comparison."""

    def __call__(self, form, field):
        if isinstance(field.data, Decimal) and not field.data.is_finite():
            field.data = None
            raise StopValidation("Saisissez un montant.")


def text(label: str, max_length: int = 100, **kwargs):
    return StringField(label, [v.Optional(), v.Length(max=max_length, message=(
        f"{max_length} caractères au plus."))], filters=[_strip], **kwargs)


def code_text(label: str, max_length: int, **kwargs):
    """Identifiers: stripped and upper-cased (NIR, INE, NAF…)."""
    return StringField(label, [v.Optional(), v.Length(max=max_length, message=(
        f"{max_length} caractères au plus."))], filters=[_upper], **kwargs)


def email(label: str, **kwargs):
    return EmailField(label, [v.Optional(), v.Length(max=254), v.Email(
        "Cette adresse e-mail n'est pas valide.", check_deliverability=False)],
        filters=[lambda s: s.strip().lower() if isinstance(s, str) else s], **kwargs)


def day(label: str, **kwargs):
    return DateField(label, [v.Optional(), _DateRange()], format=DATE_FORMATS, **kwargs)


def flag(label: str, **kwargs):
    return BooleanField(label, **kwargs)


def integer(label: str, minimum: int | None = None, maximum: int | None = None, **kwargs):
    # Always bounded: a database integer overflows long before Python's.
    minimum = 0 if minimum is None else minimum
    maximum = 1_000_000 if maximum is None else maximum
    return IntegerField(label, [v.Optional(), v.NumberRange(
        min=minimum, max=maximum, message=f"Saisissez un nombre entre {minimum} et {maximum}.")],
        **kwargs)


class FrDecimalField(DecimalField):
    """Decimal input as typed in France: "1 112,05 €", "43,5 %", "43.5"."""

    def process_formdata(self, valuelist):
        if valuelist:
            raw = str(valuelist[0])
            for junk in ("\u202f", "\xa0", " ", "€", "%"):
                raw = raw.replace(junk, "")
            valuelist = [raw.replace(",", ".")]
        super().process_formdata(valuelist)


def amount(label: str, **kwargs):
    return FrDecimalField(label, [v.Optional(), _Finite(), v.NumberRange(
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
