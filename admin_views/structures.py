"""Structures (companies) and establishments: the CFA sees all, employers theirs."""
from wtforms import validators

from forms.validators import Siret
from portal.models import CFA_ADMIN, CFA_CONSEILLER, EMPLOYEUR

from .base import SecureModelView


class StructureView(SecureModelView):
    column_list = ["raison_sociale", "siren", "referent", "public", "monaco", "created_at"]
    column_labels = {"raison_sociale": "Raison sociale", "siren": "SIREN",
                     "referent": "Référent", "public": "Employeur public",
                     "monaco": "Entreprise monégasque", "created_at": "Créée le",
                     "etablissements": "Établissements"}
    column_searchable_list = ["raison_sociale", "siren"]
    column_default_sort = ("raison_sociale", False)
    form_columns = ["raison_sociale", "siren", "public", "monaco", "referent"]
    form_args = {"siren": {"validators": [
        validators.InputRequired("Le SIREN est obligatoire."),
        validators.Regexp(r"^\d{9}$", message="Le SIREN compte 9 chiffres.")]},
        "raison_sociale": {"validators": [validators.InputRequired(
            "La raison sociale est obligatoire.")]}}
    form_ajax_refs = {"referent": {"fields": ["email", "last_name"], "page_size": 10}}


_ETAB_FIELDS = ["denomination", "adresse_numero", "adresse_voie", "adresse_complement",
                "code_postal", "commune", "telephone", "email", "type_employeur",
                "employeur_specifique", "naf", "effectif", "idcc", "opco_code",
                "facturation_raison_sociale", "facturation_adresse", "facturation_code_postal",
                "facturation_commune", "facturation_email", "facturation_siret",
                "facturation_reference"]


class EtablissementView(SecureModelView):
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
    form_columns = ["structure", "siret", *_ETAB_FIELDS, "public", "monaco", "en_attente"]
    form_columns_by_role = {CFA_ADMIN: form_columns, CFA_CONSEILLER: form_columns,
                            EMPLOYEUR: _ETAB_FIELDS}
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
