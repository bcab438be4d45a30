"""Données de base: what the formation (or the CFA, or the employer) types to open a dossier."""
from portal.models.dossiers import DISPOSITIFS, NIVEAUX_SAISIE

from .common import TabForm, code_text, day, email, select, text


class DonneesForm(TabForm):
    niveau_saisie = select("Niveau de saisie", list(NIVEAUX_SAISIE.items()))
    dispositif = select("Dispositif", list(DISPOSITIFS.items()))
    apprenti_nom = text("Nom de l'alternant·e")
    apprenti_prenom = text("Prénom de l'alternant·e")
    apprenti_date_naissance = day("Date de naissance")
    apprenti_email = email("E-mail de l'alternant·e")
    employeur_siret = code_text("SIRET de l'établissement employeur", 14)
    employeur_contact_email = email("E-mail du contact employeur")
    date_debut_contrat = day("Début d'exécution du contrat")
    date_fin_contrat = day("Fin du contrat")
