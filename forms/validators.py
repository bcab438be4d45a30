"""WTForms validators that call portal.rules and speak French."""
from wtforms.validators import ValidationError

from portal.rules import identifiers


class Siret:
    def __init__(self, message: str | None = None):
        self.message = message or ("Ce numéro SIRET n'est pas valide : 14 chiffres dont le "
                                   "dernier est une clé de contrôle.")

    def __call__(self, form, field):
        if field.data and not identifiers.is_valid_siret(field.data):
            raise ValidationError(self.message)
        if field.data:
            field.data = identifiers.clean_digits(field.data)


class Uai:
    def __init__(self, message: str | None = None):
        self.message = message or ("Ce numéro UAI n'est pas valide : 7 chiffres suivis d'une "
                                   "lettre de contrôle (par exemple 0751234J).")

    def __call__(self, form, field):
        if field.data and not identifiers.is_valid_uai(field.data.strip().upper()):
            raise ValidationError(self.message)
        if field.data:
            field.data = field.data.strip().upper()


class EndAfter:
    """The field's date must be after another date field of the same form."""

    def __init__(self, other: str, message: str | None = None):
        self.other = other
        self.message = message or "La date de fin doit être postérieure à la date de début."

    def __call__(self, form, field):
        start = form[self.other].data if self.other in form else None
        if field.data and start and field.data <= start:
            raise ValidationError(self.message)
