"""Trainings: the CFA manages all; a manager configures theirs."""
from markupsafe import Markup
from wtforms import validators

from forms.trainings import TrainingIdentifier, code_filter
from portal.models import CFA_ADMIN, FORMATION_RESPONSABLE
from portal.models.trainings import VALIDATION_MODES

from .base import SecureModelView
from .formation_access_code import FormationAccessCodeMixin
from .formation_import import FormationImportMixin
from .training_files import FormationFilesMixin

# The access code is managed on its own page (generated, never typed): see
# formation_access_code.py.
_MANAGER_FIELDS = ["lieu", "mission_requise", "mode_validation"]
_ADMIN_FIELDS = ["cfa", "etablissement_formation", "intitule", "annee_campagne",
                 "code_diplome", "code_rncp", "diplome_vise", "niveau", "heures_total",
                 "heures_distance", "date_debut", "date_fin", "date_fin_examens", "lieu",
                 "prix", "conseiller_cfa", "responsables", "gestionnaires",
                 "mission_requise", "mode_validation"]


class FormationView(FormationAccessCodeMixin, FormationImportMixin, FormationFilesMixin,
                    SecureModelView):
    delete_confirmation = ("Supprimer définitivement les formations sélectionnées ? "
                           "Cette suppression est irréversible.")
    column_list = ["intitule", "annee_campagne", "niveau", "code_diplome", "code_rncp",
                   "etablissement_formation", "mode_validation", "mission_requise"]
    column_labels = {
        "intitule": "Intitulé", "annee_campagne": "Promotion", "niveau": "Niveau",
        "code_diplome": "Code diplôme (CFD)", "code_rncp": "Code RNCP",
        "diplome_vise": "Diplôme visé (code CERFA)",
        "etablissement_formation": "Établissement de formation", "cfa": "CFA",
        "mode_validation": "Mode de validation", "mission_requise": "Mission requise",
        "heures_total": "Heures de formation", "heures_distance": "dont heures à distance",
        "date_debut": "Début de la formation", "date_fin": "Fin de la formation",
        "date_fin_examens": "Fin des examens", "lieu": "Lieu", "prix": "Prix (€)",
        "conseiller_cfa": "Contact au CFA", "responsables": "Responsables",
        "gestionnaires": "Gestionnaires", "access_code": "Code d'accès",
        "access_code_enabled": "Code d'accès actif",
    }
    column_choices = {"mode_validation": list(VALIDATION_MODES.items())}
    # The training's name opens its files (calendar, programme).
    column_formatters = {"intitule": lambda v, c, m, n: Markup(
        '{} <a class="small ml-1" href="{}">fichiers</a>'
        ' · <a class="small" href="{}">code d\'accès</a>'
        ' · <a class="small" href="{}">importer des alternants</a>').format(
            m.intitule, v.get_url(".files_view", formation_id=m.id),
            v.get_url(".access_code_view", formation_id=m.id),
            v.get_url(".import_view", formation_id=m.id))}
    column_searchable_list = ["intitule", "code_diplome", "code_rncp"]
    column_filters = ["annee_campagne", "niveau", "mode_validation", "mission_requise"]
    column_default_sort = ("intitule", False)
    # Whoever is not the CFA admin gets the manager's few fields: a person holding another
    # role too (a CFA advisor who also manages a training) never gets the full form.
    form_columns = _MANAGER_FIELDS
    form_columns_by_role = {CFA_ADMIN: _ADMIN_FIELDS, FORMATION_RESPONSABLE: _MANAGER_FIELDS}
    form_choices = {"mode_validation": list(VALIDATION_MODES.items())}
    form_args = {
        "intitule": {"validators": [validators.InputRequired("L'intitulé est obligatoire.")]},
        "annee_campagne": {"validators": [
            validators.InputRequired("L'année de la promotion est obligatoire."),
            validators.NumberRange(2000, 2100, "Année invalide.")]},
        "niveau": {"validators": [validators.Optional(), validators.NumberRange(
            3, 8, "Le niveau est compris entre 3 et 8.")]},
        "heures_total": {"validators": [validators.Optional(), validators.NumberRange(
            0, 10000, "Nombre d'heures invalide.")]},
        "heures_distance": {"validators": [validators.Optional(), validators.NumberRange(
            0, 10000, "Nombre d'heures invalide.")]},
        # C19: the identifiers the CERFA prints, checked where the training is entered.
        "cfa": {"validators": [TrainingIdentifier("cfa")]},
        "etablissement_formation": {"validators": [TrainingIdentifier("etablissement_formation")]},
        "code_diplome": {"filters": [code_filter],
                         "validators": [TrainingIdentifier("code_diplome")]},
        "code_rncp": {"filters": [code_filter], "validators": [TrainingIdentifier("code_rncp")]},
    }
