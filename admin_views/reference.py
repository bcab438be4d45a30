"""Reference data (cfa_admin): code lists, SMIC, grids, conventions, OPCO, aids."""
from .base import SecureModelView


class CodeReferenceView(SecureModelView):
    column_list = ["liste", "code", "libelle", "groupe", "cerfa_versions", "actif"]
    column_labels = {"liste": "Liste", "code": "Code", "libelle": "Libellé", "groupe": "Groupe",
                     "cerfa_versions": "Versions du CERFA", "actif": "Actif"}
    column_filters = ["liste", "actif"]
    column_searchable_list = ["code", "libelle"]
    column_default_sort = [("liste", False), ("code", False)]


class SmicView(SecureModelView):
    column_list = ["en_vigueur_le", "horaire", "mensuel", "mayotte_horaire", "mayotte_mensuel",
                   "base_legale"]
    column_labels = {"en_vigueur_le": "En vigueur le", "horaire": "Horaire (€)",
                     "mensuel": "Mensuel 35 h (€)", "mayotte_horaire": "Mayotte horaire (€)",
                     "mayotte_mensuel": "Mayotte mensuel (€)", "base_legale": "Base légale"}
    column_default_sort = ("en_vigueur_le", True)


class GrilleView(SecureModelView):
    column_list = ["dispositif", "tranche_age", "colonne", "pourcentage", "valable_du",
                   "valable_au"]
    column_labels = {"dispositif": "Dispositif", "tranche_age": "Tranche d'âge",
                     "colonne": "Colonne", "pourcentage": "% du SMIC", "valable_du": "Du",
                     "valable_au": "Au"}
    column_filters = ["dispositif"]


class OpcoView(SecureModelView):
    column_list = ["code", "nom", "champ", "commune"]
    column_labels = {"code": "Code", "nom": "Nom", "champ": "Champ d'intervention",
                     "adresse": "Adresse de facturation", "code_postal": "Code postal",
                     "commune": "Commune", "email": "Courriel de facturation"}


class ConventionView(SecureModelView):
    column_list = ["idcc", "libelle", "branche", "opco"]
    column_labels = {"idcc": "IDCC", "libelle": "Libellé", "branche": "Branche", "opco": "OPCO",
                     "opco_code": "OPCO"}
    column_searchable_list = ["idcc", "libelle"]
    form_columns = ["idcc", "libelle", "branche", "opco_code"]


class AideView(SecureModelView):
    column_list = ["conclu_du", "conclu_au", "effectif_min", "effectif_max", "niveau_min",
                   "niveau_max", "rqth", "montant", "libelle"]
    column_labels = {"conclu_du": "Contrat conclu du", "conclu_au": "au",
                     "effectif_min": "Effectif min.", "effectif_max": "Effectif max. (exclu)",
                     "niveau_min": "Niveau min.", "niveau_max": "Niveau max.",
                     "rqth": "RQTH", "montant": "Montant (€)", "libelle": "Libellé"}
