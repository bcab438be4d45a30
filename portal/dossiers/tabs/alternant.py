"""L'alternant (SPEC §2): identity, parcours and, for a minor not emancipated, the legal
representative."""
from __future__ import annotations

import re
from typing import Any

from portal.rules import ERROR, Finding
from portal.rules.identifiers import is_valid_ine, is_valid_postal_code, nir_findings

from portal.dossiers.tabs.base import Section, Tab, blank
from portal.dossiers.tabs.facts import needs_legal_representative

# Flat name → Apprenti column.
APPRENTI = {
    "apprenti_nom_usage": "nom_usage", "sexe": "sexe", "commune_naissance": "commune_naissance",
    "departement_naissance": "departement_naissance", "nationalite": "nationalite", "nir": "nir",
    "ine": "ine", "adresse_numero": "adresse_numero", "adresse_voie": "adresse_voie",
    "adresse_complement": "adresse_complement", "code_postal": "code_postal",
    "commune": "commune", "telephone": "telephone", "regime_social": "regime_social",
    "rqth": "rqth", "sportif_haut_niveau": "sportif_haut_niveau",
    "projet_creation_entreprise": "projet_creation_entreprise", "emancipe": "emancipe",
    "situation_avant_contrat": "situation_avant_contrat",
    "diplome_plus_eleve": "diplome_plus_eleve",
    "dernier_diplome_prepare": "dernier_diplome_prepare", "derniere_classe": "derniere_classe",
    "intitule_dernier_diplome": "intitule_dernier_diplome",
    "qualifie_niveau_4": "qualifie_niveau_4",
}
# Flat name → Dossier column (one datum shared with Données de base).
DOSSIER = {"apprenti_nom": "apprenti_nom", "apprenti_prenom": "apprenti_prenom",
           "apprenti_date_naissance": "apprenti_date_naissance",
           "apprenti_email": "apprenti_email"}
REPRESENTANT = {
    "representant_nom": "nom", "representant_prenom": "prenom", "representant_lien": "lien",
    "representant_adresse_numero": "adresse_numero",
    "representant_adresse_voie": "adresse_voie",
    "representant_adresse_complement": "adresse_complement",
    "representant_code_postal": "code_postal", "representant_commune": "commune",
    "representant_email": "email", "representant_telephone": "telephone",
}
BOOLEANS = {"rqth", "sportif_haut_niveau", "projet_creation_entreprise", "emancipe",
            "qualifie_niveau_4"}

IDENTITY = ["apprenti_nom", "apprenti_nom_usage", "apprenti_prenom", "sexe",
            "apprenti_date_naissance", "commune_naissance", "departement_naissance",
            "nationalite", "nir", "ine"]
CONTACT = ["adresse_numero", "adresse_voie", "adresse_complement", "code_postal", "commune",
           "telephone", "apprenti_email"]
SITUATION = ["regime_social", "rqth", "sportif_haut_niveau", "projet_creation_entreprise",
             "emancipe"]
PARCOURS = ["situation_avant_contrat", "diplome_plus_eleve", "dernier_diplome_prepare",
            "derniere_classe", "intitule_dernier_diplome", "qualifie_niveau_4"]
REPRESENTANT_FIELDS = list(REPRESENTANT)

_DEPARTEMENT = re.compile(r"^(0[1-9]|[1-8][0-9]|9[0-5]|2A|2B|97[1-6]|99)$")


class AlternantTab(Tab):
    code = "alternant"
    label = "L'alternant"
    fields = tuple(IDENTITY + CONTACT + SITUATION + PARCOURS + REPRESENTANT_FIELDS)

    def form_class(self, dossier):
        from forms.tabs.alternant import AlternantForm
        return AlternantForm

    def load(self, dossier) -> dict[str, Any]:
        data: dict[str, Any] = {name: getattr(dossier, col) for name, col in DOSSIER.items()}
        apprenti = dossier.apprenti
        for name, col in APPRENTI.items():
            data[name] = getattr(apprenti, col) if apprenti is not None else (
                False if name in BOOLEANS else None)
        rep = dossier.representant_legal
        for name, col in REPRESENTANT.items():
            data[name] = getattr(rep, col) if rep is not None else None
        return data

    def store(self, dossier, data: dict[str, Any], user) -> None:
        from portal.models import Apprenti, RepresentantLegal
        for name, col in DOSSIER.items():
            if name in data:
                setattr(dossier, col, data[name])
        if dossier.apprenti is None:
            dossier.apprenti = Apprenti()
        apprenti = dossier.apprenti
        for name, col in APPRENTI.items():
            if name in data:
                setattr(apprenti, col, bool(data[name]) if name in BOOLEANS else data[name])
        apprenti.nom_naissance = dossier.apprenti_nom
        apprenti.prenom = dossier.apprenti_prenom
        apprenti.date_naissance = dossier.apprenti_date_naissance
        apprenti.email = dossier.apprenti_email
        if needs_legal_representative(dossier_data_after(dossier, data)):
            if dossier.representant_legal is None:
                dossier.representant_legal = RepresentantLegal()
            for name, col in REPRESENTANT.items():
                if name in data:
                    setattr(dossier.representant_legal, col, data[name])
        elif dossier.representant_legal is not None:
            # Of age or emancipated: the block is hidden, its data no longer applies.
            dossier.representant_legal = None

    def required(self, data, dossier) -> set[str]:
        required = {"apprenti_nom", "apprenti_prenom", "sexe", "apprenti_date_naissance",
                    "commune_naissance", "departement_naissance", "nationalite", "adresse_voie",
                    "code_postal", "commune", "apprenti_email", "regime_social",
                    "situation_avant_contrat", "diplome_plus_eleve", "dernier_diplome_prepare",
                    "derniere_classe", "intitule_dernier_diplome"}
        if needs_legal_representative(data):
            required |= {"representant_nom", "representant_prenom", "representant_adresse_voie",
                         "representant_code_postal", "representant_commune"}
        return required

    def own_findings(self, data, dossier) -> list[Finding]:
        findings = list(nir_findings(data.get("nir"), sex=data.get("sexe"),
                                     birth_date=data.get("apprenti_date_naissance"),
                                     birth_departement=data.get("departement_naissance")))
        if data.get("ine") and not is_valid_ine(data["ine"]):
            findings.append(Finding(ERROR, "ine", "L'INE compte 11 caractères : 9 chiffres et "
                                                  "2 lettres, 10 chiffres et 1 lettre, ou 4 "
                                                  "chiffres, A, 5 chiffres et 1 lettre."))
        dep = (data.get("departement_naissance") or "").upper()
        if dep and not _DEPARTEMENT.match(dep if len(dep) != 1 else "0" + dep):
            findings.append(Finding(ERROR, "departement_naissance",
                                    "Département inconnu : 01 à 95, 2A, 2B, 971 à 976, ou 99 "
                                    "pour une naissance à l'étranger."))
        for name in ("code_postal", "representant_code_postal"):
            if not blank(data.get(name)) and not is_valid_postal_code(data[name]):
                findings.append(Finding(ERROR, name, "Code postal invalide : 5 chiffres."))
        return findings

    def sections(self, dossier, data) -> list[Section]:
        minor = needs_legal_representative(data)
        return [
            Section("Identité", IDENTITY),
            Section("Coordonnées", CONTACT),
            Section("Situation", SITUATION),
            Section("Parcours scolaire", PARCOURS),
            Section("Représentant légal", REPRESENTANT_FIELDS, block_id="representant-legal",
                    help="Obligatoire pour un·e alternant·e mineur·e non émancipé·e à la date "
                         "de conclusion du contrat.",
                    extra={"hidden": not minor, "condition": "mineur"}),
        ]


    def extra_context(self, dossier, data) -> dict[str, Any]:
        from datetime import date
        # The page script shows the legal representative for a minor on this date.
        return {"reference_date": data.get("date_conclusion") or data.get("date_debut_contrat")
                or date.today()}


def dossier_data_after(dossier, data):
    from portal.dossiers.tabs import dossier_data
    return dossier_data(dossier, data)
