"""L'employeur's fields (SPEC §2, CERFA FA13 « L'employeur »): flat names, the Etablissement
and MaitreApprentissage columns they stand for, what is required, and the page's messages."""
from __future__ import annotations

from portal.rules.contract import MASTER2_FIELDS

APPRENTISSAGE, PROFESSIONNALISATION = "apprentissage", "professionnalisation"

# Flat name → Etablissement column: what the CERFA prints about the employer.
ETABLISSEMENT = {
    "employeur_denomination": "denomination", "employeur_adresse_numero": "adresse_numero",
    "employeur_adresse_voie": "adresse_voie",
    "employeur_adresse_complement": "adresse_complement",
    "employeur_code_postal": "code_postal", "employeur_commune": "commune",
    "employeur_monaco": "monaco", "employeur_telephone": "telephone",
    "employeur_email": "email", "type_employeur": "type_employeur",
    "employeur_specifique": "employeur_specifique", "naf": "naf",
    "employeur_effectif": "effectif", "idcc": "idcc",
}
FACTURATION = {name: name for name in (
    "facturation_raison_sociale", "facturation_adresse", "facturation_code_postal",
    "facturation_commune", "facturation_email", "facturation_siret", "facturation_reference")}
RESPONSABLE = ("responsable_nom", "responsable_prenom", "responsable_fonction",
               "responsable_email")
MAITRE_1 = {
    "maitre_1_nom": "nom_naissance", "maitre_1_nom_usage": "nom_usage",
    "maitre_1_prenom": "prenom", "maitre_1_date_naissance": "date_naissance",
    "maitre_1_courriel": "email", "maitre_1_telephone": "telephone",
    "maitre_1_emploi": "emploi_occupe", "maitre_1_diplome": "diplome",
    "maitre_1_niveau_diplome": "niveau_diplome",
    "maitre_1_annees_experience": "annees_experience",
}
# MaitreApprentissage column of each key of the rules' MASTER2_FIELDS.
_MAITRE_2_COLUMNS = {"nom": "nom_naissance", "prenom": "prenom",
                     "date_naissance": "date_naissance", "courriel": "email",
                     "emploi": "emploi_occupe", "diplome": "diplome",
                     "niveau_diplome": "niveau_diplome"}
assert set(_MAITRE_2_COLUMNS) == set(MASTER2_FIELDS), "keep in step with portal.rules.contract"
MAITRE_2 = {f"maitre_2_{key}": _MAITRE_2_COLUMNS[key] for key in MASTER2_FIELDS}
ATTESTATION = "employeur_attestation_maitre"

ETAB_FIELDS = ["employeur_siret", "employeur_denomination", "employeur_adresse_numero",
               "employeur_adresse_voie", "employeur_adresse_complement",
               "employeur_code_postal", "employeur_commune", "employeur_monaco",
               "employeur_telephone", "employeur_email"]
ACTIVITE_FIELDS = ["type_employeur", "employeur_specifique", "naf", "employeur_effectif", "idcc"]
FIELDS = tuple(ETAB_FIELDS + ACTIVITE_FIELDS + list(RESPONSABLE) + list(MAITRE_1)
               + list(MAITRE_2) + [ATTESTATION] + list(FACTURATION))

REQUIRED = {"employeur_siret", "employeur_denomination", "employeur_adresse_voie",
            "employeur_code_postal", "employeur_commune", "employeur_telephone",
            "employeur_email", "type_employeur", "employeur_specifique", "naf",
            "employeur_effectif", "idcc", "responsable_nom", "responsable_prenom",
            "responsable_fonction", "responsable_email", "maitre_1_nom", "maitre_1_prenom",
            "maitre_1_date_naissance", "maitre_1_courriel", "maitre_1_emploi",
            "maitre_1_diplome", "maitre_1_niveau_diplome", ATTESTATION}
REQUIRED_BILLING = {"facturation_raison_sociale", "facturation_adresse",
                    "facturation_code_postal", "facturation_commune", "facturation_email"}

SIRET_MESSAGE = ("Ce numéro SIRET n'est pas valide : 14 chiffres dont le dernier est une clé "
                 "de contrôle.")
KNOWN_MESSAGE = ("L'établissement « {name} » (SIRET {siret}) est déjà connu de Sillon : le "
                 "dossier y est rattaché, mais ses informations (adresse, activité, convention "
                 "collective, facturation) n'ont pas été modifiées, car seuls le référent de la "
                 "structure et le CFA peuvent les changer. Les informations enregistrées sont "
                 "affichées ci-dessous.")
REQUEST_SENT = ("Le SIRET {siret} est celui d'un établissement d'une autre structure, dont vous "
                "n'êtes pas membre : le dossier n'y est pas rattaché. Une demande d'accès a été "
                "envoyée à son référent (ou au CFA si elle n'en a pas) ; le dossier y sera "
                "rattaché dès qu'elle sera acceptée. D'ici là, aucune information de cet "
                "établissement n'est affichée.")
REQUEST_WAITING = ("Demande de rattachement à l'établissement de SIRET {siret} en attente de "
                   "l'accord du référent de sa structure (ou du CFA s'il n'y en a pas) : rien de "
                   "cet établissement n'est affiché d'ici là, et l'onglet ne s'enregistre pas avec "
                   "ce SIRET. Attendez la réponse, ou saisissez le SIRET d'un établissement de "
                   "votre structure.")
REQUEST_REFUSED = ("La demande d'accès à la structure de l'établissement de SIRET {siret} a été "
                   "refusée : le dossier ne peut pas y être rattaché. Saisissez le SIRET d'un "
                   "établissement de votre structure, ou contactez le CFA.")
FROZEN_NOTE = ("Validation demandée : les informations de l'établissement sont figées sur ce "
               "dossier telles qu'elles étaient à la demande de validation (le {day}).")
