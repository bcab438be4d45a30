"""L'employeur: establishment (CERFA FA13 « L'employeur »), signatory of the convention,
maîtres d'apprentissage, billing."""
from wtforms import StringField
from wtforms import validators as v

from portal.rules.identifiers import clean_digits, normalise_idcc, normalise_naf

from .common import TabForm, code_select, day, email, flag, integer, text


def _siret(value):
    """Stripped of the spaces, dots and dashes people paste with a SIRET."""
    return clean_digits(value) if isinstance(value, str) else value


def _naf(value):
    """'6201z' → '62.01Z'; anything else is kept (upper-cased) for the check to reject."""
    if not isinstance(value, str):
        return value
    return normalise_naf(value) or value.strip().upper()


def _idcc(value):
    """'843' → '0843' (IDCC codes keep their leading zeros)."""
    return normalise_idcc(value) if isinstance(value, str) else value


def siret(label: str, **kwargs):
    return StringField(label, [v.Optional(), v.Length(max=20, message="14 chiffres.")],
                       filters=[_siret], **kwargs)


class EmployeurForm(TabForm):
    # Établissement
    employeur_siret = siret("SIRET de l'établissement d'exécution du contrat",
                            description="14 chiffres. Les informations connues de Sillon sont "
                                        "reprises automatiquement.")
    employeur_denomination = text("Dénomination", 200)
    employeur_adresse_numero = text("N°", 10)
    employeur_adresse_voie = text("Voie", 200)
    employeur_adresse_complement = text("Complément d'adresse", 200)
    employeur_code_postal = text("Code postal", 5)
    employeur_commune = text("Commune")
    employeur_monaco = flag("Entreprise établie à Monaco")
    employeur_telephone = text("Téléphone", 20)
    employeur_email = email("E-mail de l'établissement")
    # Activité et convention collective
    type_employeur = code_select("Type d'employeur", "type_employeur")
    employeur_specifique = code_select("Employeur spécifique", "employeur_specifique")
    naf = StringField("Code NAF (APE)", [v.Optional(), v.Length(max=12, message=(
        "6 caractères au plus, par exemple 62.01Z."))], filters=[_naf],
        description="4 chiffres et 1 lettre, par exemple 62.01Z.")
    employeur_effectif = integer("Effectif salarié de l'entreprise", minimum=0)
    idcc = StringField("Code IDCC de la convention collective", [v.Optional(), v.Length(
        max=10, message="4 chiffres.")], filters=[_idcc],
        description="4 chiffres, zéros initiaux compris ; 9999 si aucune convention ne "
                    "s'applique, 9998 si elle est en cours de négociation.")
    # Responsable (signataire de la convention de formation)
    responsable_nom = text("Nom du responsable")
    responsable_prenom = text("Prénom du responsable")
    responsable_fonction = text("Fonction")
    responsable_email = email("E-mail du responsable")
    # Maître d'apprentissage n° 1
    maitre_1_nom = text("Nom de naissance")
    maitre_1_nom_usage = text("Nom d'usage")
    maitre_1_prenom = text("Prénom")
    maitre_1_date_naissance = day("Date de naissance")
    maitre_1_courriel = email("Courriel")
    maitre_1_telephone = text("Téléphone", 20)
    maitre_1_emploi = text("Emploi occupé", 200)
    maitre_1_diplome = text("Diplôme ou titre le plus élevé obtenu", 255)
    maitre_1_niveau_diplome = code_select("Niveau de ce diplôme ou titre", "niveau_diplome_maitre")
    maitre_1_annees_experience = integer("Années d'expérience en rapport avec la qualification "
                                         "visée", minimum=0, maximum=60)
    # Maître d'apprentissage n° 2 (all or nothing: portal.rules.contract.MASTER2_FIELDS)
    maitre_2_nom = text("Nom de naissance")
    maitre_2_prenom = text("Prénom")
    maitre_2_date_naissance = day("Date de naissance")
    maitre_2_courriel = email("Courriel")
    maitre_2_emploi = text("Emploi occupé", 200)
    maitre_2_diplome = text("Diplôme ou titre le plus élevé obtenu", 255)
    maitre_2_niveau_diplome = code_select("Niveau de ce diplôme ou titre", "niveau_diplome_maitre")
    employeur_attestation_maitre = flag(
        "L'employeur atteste que le maître d'apprentissage remplit les conditions requises",
        description="Au moins 18 ans ; diplôme et expérience professionnelle exigés par le Code "
                    "du travail ou la convention collective ; 2 apprentis suivis au plus.")
    # Facturation
    facturation_raison_sociale = text("Raison sociale à facturer", 200)
    facturation_adresse = text("Adresse de facturation", 300)
    facturation_code_postal = text("Code postal", 10)
    facturation_commune = text("Commune")
    facturation_email = email("E-mail de réception des factures")
    facturation_siret = siret("SIRET de facturation", description=(
        "Employeur public : SIRET du service destinataire sur Chorus Pro."))
    facturation_reference = text("Référence à rappeler sur la facture", 100,
                                 description="Bon de commande, numéro d'engagement juridique…")
