"""L'alternant: identity, address, situation, parcours, legal representative (CERFA FA13)."""
from .common import (TabForm, code_select, code_text, day, email, flag, select, text)

SEXES = [("M", "Masculin"), ("F", "Féminin")]


class AlternantForm(TabForm):
    apprenti_nom = text("Nom de naissance")
    apprenti_nom_usage = text("Nom d'usage")
    apprenti_prenom = text("Prénom")
    sexe = select("Sexe", SEXES)
    apprenti_date_naissance = day("Date de naissance")
    commune_naissance = text("Commune de naissance")
    departement_naissance = code_text("Département de naissance", 3,
                                      description="2 ou 3 caractères (2A, 2B, 971…) ; 99 si né·e "
                                                  "à l'étranger.")
    nationalite = code_select("Nationalité", "nationalite")
    nir = code_text("NIR (numéro de sécurité sociale)", 15,
                    description="15 caractères, clé comprise.")
    ine = code_text("INE (identifiant national étudiant)", 11)
    adresse_numero = text("N°", 10)
    adresse_voie = text("Voie", 200)
    adresse_complement = text("Complément d'adresse", 200)
    code_postal = code_text("Code postal", 5)
    commune = text("Commune")
    telephone = text("Téléphone", 20)
    apprenti_email = email("E-mail")
    regime_social = code_select("Régime social", "regime_social")
    rqth = flag("Reconnaissance de la qualité de travailleur handicapé (RQTH)")
    sportif_haut_niveau = flag("Inscrit·e sur la liste des sportifs de haut niveau")
    projet_creation_entreprise = flag("Projet de création ou de reprise d'entreprise")
    emancipe = flag("Mineur·e émancipé·e")
    situation_avant_contrat = code_select("Situation avant ce contrat", "situation_avant_contrat")
    diplome_plus_eleve = code_select("Diplôme ou titre le plus élevé obtenu", "diplome")
    dernier_diplome_prepare = code_select("Dernier diplôme ou titre préparé", "diplome")
    derniere_classe = code_select("Dernière année ou classe suivie", "derniere_classe")
    intitule_dernier_diplome = text("Intitulé précis du dernier diplôme ou titre préparé", 255)
    qualifie_niveau_4 = flag("Titulaire d'un bac pro ou d'un diplôme professionnel de niveau 4 "
                             "ou plus")
    representant_nom = text("Nom du représentant légal")
    representant_prenom = text("Prénom du représentant légal")
    representant_lien = text("Lien avec l'alternant·e (père, mère, tuteur…)", 50)
    representant_adresse_numero = text("N°", 10)
    representant_adresse_voie = text("Voie", 200)
    representant_adresse_complement = text("Complément d'adresse", 200)
    representant_code_postal = code_text("Code postal", 5)
    representant_commune = text("Commune")
    representant_email = email("E-mail du représentant légal")
    representant_telephone = text("Téléphone du représentant légal", 20)
