"""Structures (companies) and establishments: the CFA sees all, employers theirs."""
from flask_login import current_user
from sqlalchemy import inspect
from wtforms import validators

from forms.validators import Siret
from portal.dossiers import establishments
from portal.models import CFA_ROLES
from portal.models import CFA_ADMIN, CFA_CONSEILLER, EMPLOYEUR, Structure

from .base import SecureModelView


class StructureView(SecureModelView):
    delete_confirmation = ("Supprimer définitivement les structures sélectionnées ? "
                           "Cette suppression est irréversible.")
    column_list = ["raison_sociale", "siren", "referent", "public", "monaco", "origine",
                   "created_at"]
    column_labels = {"raison_sociale": "Raison sociale", "siren": "SIREN",
                     "referent": "Référent", "public": "Employeur public",
                     "monaco": "Entreprise monégasque", "created_at": "Créée le",
                     "origine": "Origine", "etablissements": "Établissements"}
    column_formatters = {"origine": lambda v, c, m, n: Structure.ORIGINE_LABELS.get(
        m.origine, m.origine)}
    column_searchable_list = ["raison_sociale", "siren"]
    column_default_sort = ("raison_sociale", False)
    form_columns = ["raison_sociale", "siren", "public", "monaco", "referent"]
    form_args = {"siren": {"validators": [
        validators.InputRequired("Le SIREN est obligatoire."),
        validators.Regexp(r"^\d{9}$", message="Le SIREN compte 9 chiffres.")]},
        "raison_sociale": {"validators": [validators.InputRequired(
            "La raison sociale est obligatoire.")]}}
    form_ajax_refs = {"referent": {"fields": ["email", "last_name"], "page_size": 10}}

    def on_model_change(self, form, model, is_created):
        if is_created:
            # Registered by CFA staff: its first référent comes from the CFA, never from the
            # first person who claims it (portal.accounts.referents).
            model.origine = Structure.ORIGINE_CFA
        super().on_model_change(form, model, is_created)


# What an employer (référent) may change on its establishment: never the OPCO, which follows the
# IDCC (portal.dossiers.establishments.apply_opco); only the CFA sets it by hand.
_EMPLOYER_ETAB_FIELDS = ["denomination", "adresse_numero", "adresse_voie", "adresse_complement",
                         "code_postal", "commune", "telephone", "email", "type_employeur",
                         "employeur_specifique", "naf", "effectif", "idcc",
                         "facturation_raison_sociale", "facturation_adresse",
                         "facturation_code_postal", "facturation_commune", "facturation_email",
                         "facturation_siret", "facturation_reference"]
_ETAB_FIELDS = [*_EMPLOYER_ETAB_FIELDS[:13], "opco_code", *_EMPLOYER_ETAB_FIELDS[13:]]


class EtablissementView(SecureModelView):
    """Establishments. An employer edits those of the structures it is référent of
    (portal.policy.may_edit) without the OPCO; a save by anyone but the CFA sets the OPCO from
    the IDCC, whatever was posted. A dossier past « Validation demandée » keeps the values
    frozen with it (portal.dossiers.snapshot): an edit here changes only dossiers in entry."""

    delete_confirmation = ("Supprimer définitivement les établissements sélectionnés ? "
                           "Cette suppression est irréversible.")

    column_list = ["denomination", "siret", "structure", "commune", "naf", "idcc", "opco_code",
                   "type_employeur"]
    column_labels = {
        "denomination": "Dénomination", "siret": "SIRET", "structure": "Structure",
        "commune": "Commune", "code_postal": "Code postal", "naf": "Code NAF",
        "idcc": "IDCC", "opco_code": "OPCO", "type_employeur": "Type d'employeur",
        "employeur_specifique": "Employeur spécifique", "effectif": "Effectif",
        "adresse_numero": "N°", "adresse_voie": "Voie", "adresse_complement": "Complément",
        "telephone": "Téléphone", "email": "E-mail", "public": "Public", "monaco": "Monaco",
        "facturation_raison_sociale": "Facturation : raison sociale",
        "facturation_adresse": "Facturation : adresse",
        "facturation_code_postal": "Facturation : code postal",
        "facturation_commune": "Facturation : commune",
        "facturation_email": "Facturation : e-mail",
        "facturation_siret": "Facturation : SIRET",
        "facturation_reference": "Facturation : référence (bon de commande)",
        "en_attente": "En attente de vérification",
    }
    column_searchable_list = ["denomination", "siret", "commune"]
    column_default_sort = ("denomination", False)
    # Anyone but CFA staff (an employer, or an employer who also manages a training) gets the
    # employer's form; CFA staff get every column.
    form_columns = _EMPLOYER_ETAB_FIELDS
    form_columns_by_role = {
        CFA_ADMIN: ["structure", "siret", *_ETAB_FIELDS, "public", "monaco", "en_attente"],
        CFA_CONSEILLER: ["structure", "siret", *_ETAB_FIELDS, "public", "monaco", "en_attente"],
        EMPLOYEUR: _EMPLOYER_ETAB_FIELDS}
    form_args = {
        "siret": {"validators": [validators.InputRequired("Le SIRET est obligatoire."), Siret()]},
        "denomination": {"validators": [validators.InputRequired(
            "La dénomination est obligatoire.")]},
        "code_postal": {"validators": [validators.Optional(), validators.Regexp(
            r"^\d{5}$", message="Le code postal compte 5 chiffres.")]},
        "email": {"validators": [validators.Optional(), validators.Email(
            "Cette adresse e-mail n'est pas valide.", check_deliverability=False)]},
        "effectif": {"validators": [validators.Optional(), validators.NumberRange(
            0, 10_000_000, "Effectif invalide.")]},
        "facturation_siret": {"validators": [validators.Optional(), Siret()]},
    }

    def on_model_change(self, form, model, is_created):
        history = inspect(model).attrs.idcc.history  # read before the scope check's flush
        old_idcc = history.deleted[0] if history.deleted else model.idcc
        super().on_model_change(form, model, is_created)
        if not current_user.has_role(*CFA_ROLES):
            # Never the page's OPCO (the employer's form has none; a forged field is ignored).
            establishments.apply_opco(model, old_idcc)
            model.public = establishments.is_public_employer(model.type_employeur)
