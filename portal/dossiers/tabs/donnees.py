"""Données de base (SPEC §2): entry level, apprentice's name and e-mail, employer SIRET,
dispositif and contract dates."""
from __future__ import annotations

from typing import Any

from portal.rules import ERROR, Finding
from portal.rules.identifiers import clean_digits, is_valid_siret

from portal.dossiers.tabs.base import Section, Tab

FIELDS = ("niveau_saisie", "dispositif", "apprenti_nom", "apprenti_prenom",
          "apprenti_date_naissance", "apprenti_email", "employeur_siret",
          "employeur_contact_email", "date_debut_contrat", "date_fin_contrat")


class DonneesTab(Tab):
    code = "base"
    label = "Données de base"
    fields = FIELDS

    def form_class(self, dossier):
        from forms.tabs.donnees import DonneesForm
        return DonneesForm

    def load(self, dossier) -> dict[str, Any]:
        return {name: getattr(dossier, name) for name in FIELDS}

    def store(self, dossier, data: dict[str, Any], user) -> None:
        for name in FIELDS:
            if name in data:
                value = data[name]
                if name == "employeur_siret" and value:
                    value = clean_digits(value)
                setattr(dossier, name, value)
        if dossier.apprenti is not None:
            # The identity tab shows the same name and birth date: keep them one datum.
            dossier.apprenti.nom_naissance = dossier.apprenti_nom
            dossier.apprenti.prenom = dossier.apprenti_prenom
            dossier.apprenti.date_naissance = dossier.apprenti_date_naissance

    def required(self, data, dossier) -> set[str]:
        return {"niveau_saisie", "dispositif", "apprenti_nom", "apprenti_prenom",
                "apprenti_date_naissance", "apprenti_email"}

    def own_findings(self, data, dossier) -> list[Finding]:
        findings = []
        siret = data.get("employeur_siret")
        if siret and not is_valid_siret(siret):
            findings.append(Finding(ERROR, "employeur_siret",
                                    "Ce numéro SIRET n'est pas valide : 14 chiffres dont le "
                                    "dernier est une clé de contrôle."))
        start, end = data.get("date_debut_contrat"), data.get("date_fin_contrat")
        if start and end and end <= start:
            findings.append(Finding(ERROR, "date_fin_contrat",
                                    "La fin du contrat doit être postérieure à son début."))
        return findings

    def sections(self, dossier, data) -> list[Section]:
        return [
            Section("Dossier", ["niveau_saisie", "dispositif"],
                    help="En saisie simple, l'onglet « Le contrat » n'est pas rempli et aucun "
                         "CERFA n'est produit : l'employeur apporte son CERFA signé."),
            Section("L'alternant·e", ["apprenti_nom", "apprenti_prenom",
                                      "apprenti_date_naissance", "apprenti_email"]),
            Section("L'employeur", ["employeur_siret", "employeur_contact_email"]),
            Section("Le contrat", ["date_debut_contrat", "date_fin_contrat"]),
        ]
