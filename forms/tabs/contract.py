"""Le contrat: contract codes, dates, working time, pay (the remuneration grid), benefits."""
from wtforms import FieldList, Form, FormField

from .common import (TabForm, amount, code_select, code_text, day, flag, integer, text)


class RemunerationRow(Form):
    """One row of the CERFA grid; the period's dates come from the legal schedule."""

    percent = amount("Pourcentage")
    monthly_amount = amount("Montant mensuel brut")


class ContractForm(TabForm):
    type_contrat = code_select("Type de contrat ou d'avenant", "type_contrat")
    mode_contractuel = code_select("Mode contractuel de l'apprentissage", "mode_contractuel")
    type_derogation = code_select("Type de dérogation", "type_derogation")
    numero_contrat_precedent = code_text("Numéro du contrat précédent", 15,
                                         description="Format DDDAAAAMMNN0000, obligatoire pour "
                                                     "un avenant (types 31 à 38).")
    date_conclusion = day("Date de conclusion (signature)")
    date_debut_contrat = day("Date de début d'exécution du contrat")
    date_debut_formation_pratique = day("Début de la formation pratique chez l'employeur")
    date_debut_formation_cfa = day("Début de la formation au CFA")
    date_effet_avenant = day("Date d'effet de l'avenant")
    date_fin_contrat = day("Date de fin du contrat")
    duree_hebdo_heures = integer("Durée hebdomadaire de travail (heures)", 0, 40)
    duree_hebdo_minutes = integer("Minutes", 0, 59)
    travail_risque = flag("Travail sur machines dangereuses ou exposition à des risques "
                          "particuliers")
    salaire_minimum_conventionnel = amount(
        "Salaire minimum conventionnel (SMC) mensuel brut",
        description="À partir de 21 ans, la rémunération se calcule sur le SMC s'il est plus "
                    "élevé que le SMIC.")
    avantage_nourriture = amount("Avantage en nature : nourriture (€ par repas)")
    avantage_logement = amount("Avantage en nature : logement (€ par mois)")
    avantage_autre = text("Autre avantage en nature", 200)
    caisse_retraite_complementaire = text("Caisse de retraite complémentaire", 200)
    lieu_signature = text("Fait à (lieu de signature du contrat)", 100)
    # Labels stay short: the history names a field by its tab and label (100 characters).
    attestation_pieces = flag(
        "Attestation des pièces justificatives",
        description="L'employeur atteste disposer de l'ensemble des pièces justificatives "
                    "nécessaires au dépôt du contrat.")
    adhesion_assurance_chomage = flag(
        "Employeur public : adhésion au régime spécifique d'assurance chômage",
        description="Adhésion de l'apprenti au régime spécifique d'assurance chômage "
                    "(employeurs du secteur public).")
    remuneration = FieldList(FormField(RemunerationRow), min_entries=0, max_entries=8)
