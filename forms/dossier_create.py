"""Creating a dossier by hand (the list's "Créer"): the training and the Données de base the
formation types (SPEC §2: the apprentice's e-mail is the only field needed)."""
from __future__ import annotations

from wtforms import SelectField
from wtforms import validators as v

from forms.tabs.donnees import DonneesForm
from forms.validators import EndAfter, Siret

from portal.dossiers.service import CREATION_FIELDS


def _training_id(value):
    if value in (None, "", "None"):
        return None
    return int(value)


class DossierCreateForm(DonneesForm):
    """Données de base plus the training; ``formation.choices`` are set per request from the
    trainings the person may create dossiers in (portal.policy)."""

    formation = SelectField("Formation", coerce=_training_id, validate_choice=True, validators=[
        v.InputRequired("Choisissez la formation.")])

    def __init__(self, *args, formations=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.formation.choices = [(f.id, str(f)) for f in formations]
        self.formation.choices.insert(0, (None, "— Choisissez la formation —"))
        self.apprenti_email.validators = [
            v.InputRequired("L'e-mail de l'alternant·e est obligatoire."),
            *self.apprenti_email.validators]
        self.employeur_siret.validators = [*self.employeur_siret.validators, Siret()]
        self.date_fin_contrat.validators = [*self.date_fin_contrat.validators,
                                            EndAfter("date_debut_contrat",
                                                     "La fin du contrat doit être postérieure "
                                                     "à son début.")]

    def creation_fields(self) -> dict:
        return {name: self[name].data for name in CREATION_FIELDS if name in self}
