"""Demo data: one CFA, its trainings, the demo accounts, six employers and dossiers in every state.

Everything here is invented (people, companies, identifiers); identifiers are nevertheless valid
(Luhn SIREN/SIRET, UAI check letter, NIR key) so that the checks of RULES.md §4 accept them.
Phone numbers use the ranges ARCEP reserves for fiction (04 65 71…, 06 39 98…).

``load_demo()`` is idempotent: every record is looked up by its natural key first, and the whole
data set is computed from ``random.Random(2026)`` before anything is written, so a second run
produces the same keys and creates nothing.

``add_synthetic_dossiers(n)`` adds bare dossiers for volume tests with Core bulk inserts.
"""
from __future__ import annotations

import random
import unicodedata
import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import func, insert, select
from stdnum import luhn

from portal.extensions import db
from portal.models import (ALTERNANT, CFA_ADMIN, CFA_CONSEILLER, EMPLOYEUR,
                           FORMATION_GESTIONNAIRE, FORMATION_RESPONSABLE, Apprenti, Cfa, Contrat,
                           Dossier, DossierHistory, Etablissement, EtablissementFormation,
                           Formation, MaitreApprentissage, Mission, RepresentantLegal, Structure,
                           StructureMembership, User, UserRole, formation_responsables)
from portal.models.tallies import fold_dossier_tally
from portal.rules.contract_followup import reaches_smc_age
from seeds.synthetic_employers import (DEMO_SHARE, DOSSIERS_PER_EMPLOYER,
                                       add_synthetic_employers)
from seeds.synthetic_trainings import DOSSIERS_PER_TRAINING, add_synthetic_trainings
from portal.rules.dates import add_months
from portal.rules.identifiers import uai_letter
from portal.dossiers.workflow import MAIN_PATH, STATES

SEED = 2026
CAMPAGNE = 2026
PASSWORD = "sillon-demo"
RGPD_VERSION = "2026-01"
RGPD_ACCEPTED_AT = datetime(2026, 1, 15, 9, 0)
DOMAIN = "sillon.demo"
STUDENT_DOMAIN = "etu.sillon.demo"
DOSSIERS_PER_STATE = 4  # 12 states x 4 = 48 dossiers, one per (state, training) pair

APPRENTISSAGE, PROFESSIONNALISATION = "apprentissage", "professionnalisation"

# ---------------------------------------------------------------------------
# Identifiers
# ---------------------------------------------------------------------------


def _with_luhn(digits: str) -> str:
    return digits + luhn.calc_check_digit(digits)


def _siren(rng: random.Random) -> str:
    while True:
        siren = _with_luhn(rng.choice("3456789") + "".join(rng.choices("0123456789", k=7)))
        if siren != "356000000":  # La Poste has its own SIRET rule
            return siren


def _siret(siren: str, rng: random.Random, rank: int = 1) -> str:
    """SIRET = SIREN + NIC (4 digits + a check digit making the 14 digits Luhn-valid)."""
    return _with_luhn(siren + f"{rank:02d}{rng.randrange(100):02d}")


def _uai(prefix: str, rng: random.Random) -> str:
    digits = prefix + "".join(rng.choices("0123456789", k=7 - len(prefix)))
    return digits + uai_letter(digits)


def _nir(sexe: str, born: date, dept: str, commune: str, rng: random.Random) -> str:
    body = f"{1 if sexe == 'M' else 2}{born:%y}{born:%m}{dept}{commune}{rng.randrange(1, 999):03d}"
    return body + f"{97 - int(body) % 97:02d}"


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c if c.isalnum() else "-" for c in ascii_text.lower()).strip("-")


def _phone(rng: random.Random, mobile: bool = False) -> str:
    return ("063998" if mobile else "046571") + f"{rng.randrange(10000):04d}"


# ---------------------------------------------------------------------------
# Static demo content (all invented)
# ---------------------------------------------------------------------------

# (email, first name, last name, roles)
STAFF = [
    (f"admin@{DOMAIN}", "Sophie", "Lambert", (CFA_ADMIN,)),
    (f"conseil@{DOMAIN}", "Karim", "Haddad", (CFA_CONSEILLER,)),
    (f"resp.info@{DOMAIN}", "Claire", "Fabre", (FORMATION_RESPONSABLE,)),
    (f"resp.droit@{DOMAIN}", "Thomas", "Roussel", (FORMATION_RESPONSABLE,)),
    (f"resp.commerce@{DOMAIN}", "Nadia", "Benali", (FORMATION_RESPONSABLE,)),
    (f"gest.info@{DOMAIN}", "Julien", "Marty", (FORMATION_GESTIONNAIRE,)),
]
ALICE = (f"alice@{STUDENT_DOMAIN}", "Alice", "Perrin")
BRUNO = (f"bruno@{STUDENT_DOMAIN}", "Bruno", "Lefebvre")

CFA = dict(nom="CFA Sillon Sud", numero_declaration_activite="76341287634",
           adresse="12 rue des Semailles", code_postal="34000", commune="Montpellier",
           telephone="0465710100", email=f"contact@cfa-sud.{DOMAIN}",
           signataire_visa="Hélène Marchetti, directrice du CFA")

SCHOOLS = [
    dict(key="univ", nom="Université Sillon Sud – Campus des Garrigues",
         adresse="300 avenue des Garrigues", code_postal="34090", commune="Montpellier"),
    dict(key="lycee", nom="Lycée des métiers Jean-Baptiste Sillon",
         adresse="8 boulevard des Oliviers", code_postal="34500", commune="Béziers"),
]

# Trainings: key, school, manager e-mail, with the gestionnaire when any.
FORMATIONS = [
    dict(key="lp_info", school="univ", resp=f"resp.info@{DOMAIN}", gest=f"gest.info@{DOMAIN}",
         intitule="Licence professionnelle Métiers de l'informatique", code_diplome="25032611",
         code_rncp="RNCP30101", diplome_vise="62", niveau=6, heures_total=450,
         heures_distance=60, date_debut=date(2026, 9, 7), date_fin=date(2027, 8, 31),
         date_fin_examens=date(2027, 6, 25), prix=Decimal("8500.00"), access_code="LPINFO-26",
         mission_requise=False, mode_validation="manuelle", years=1),
    dict(key="m_info", school="univ", resp=f"resp.info@{DOMAIN}", gest=f"gest.info@{DOMAIN}",
         intitule="Master Informatique – parcours Génie logiciel", code_diplome="13532604",
         code_rncp="RNCP34126", diplome_vise="73", niveau=7, heures_total=980,
         heures_distance=0, date_debut=date(2026, 9, 14), date_fin=date(2028, 8, 31),
         date_fin_examens=date(2028, 6, 30), prix=Decimal("9800.00"), access_code="MINFO-GL-26",
         mission_requise=True, mode_validation="manuelle", years=2),
    dict(key="m_droit", school="univ", resp=f"resp.droit@{DOMAIN}", gest=None,
         intitule="Master Droit des affaires", code_diplome="13531207", code_rncp="RNCP35471",
         diplome_vise="73", niveau=7, heures_total=840, heures_distance=120,
         date_debut=date(2026, 9, 21), date_fin=date(2028, 8, 31),
         date_fin_examens=date(2028, 6, 23), prix=Decimal("7900.00"), access_code="MDROIT-26",
         mission_requise=False, mode_validation="manuelle", years=2),
    dict(key="bts_mco", school="lycee", resp=f"resp.commerce@{DOMAIN}", gest=None,
         intitule="BTS Management commercial opérationnel", code_diplome="32031218",
         code_rncp="RNCP38362", diplome_vise="54", niveau=5, heures_total=1350,
         heures_distance=0, date_debut=date(2026, 9, 1), date_fin=date(2028, 7, 31),
         date_fin_examens=date(2028, 6, 16), prix=Decimal("7000.00"), access_code="BTSMCO-26",
         mission_requise=False, mode_validation="automatique", years=2),
]

# Employer structures. contact: the employer account (référent and contact alternance).
STRUCTURES = [
    dict(key="acme", raison_sociale="ACME Industrie", domain="acme", public=False,
         contact=(f"rh@acme.{DOMAIN}", "Isabelle", "Moreau"),
         signataire=("Garnier", "Philippe", "Directeur des ressources humaines"),
         idcc="3248", opco="OPCO2I", naf="28.29B", type_employeur="12", billing=True,
         sites=[("ACME Industrie – Site de Montpellier", "45", "rue de l'Industrie", "34070",
                 "Montpellier", 420),
                ("ACME Industrie – Atelier de Nîmes", "3", "chemin des Forges", "30900",
                 "Nîmes", 85)]),
    dict(key="globex", raison_sociale="Globex Services", domain="globex", public=False,
         contact=(f"rh@globex.{DOMAIN}", "Marc", "Delorme"),
         signataire=("Vidal", "Émilie", "Directrice générale"),
         idcc="1486", opco="ATLAS", naf="62.02A", type_employeur="12", billing=True,
         sites=[("Globex Services – Siège", "17", "avenue du Pirée", "34000", "Montpellier",
                 210),
                ("Globex Services – Agence de Sète", "9", "quai des Pêcheurs", "34200", "Sète",
                 35)]),
    dict(key="fournil", raison_sociale="Au Fournil des Garrigues", domain="fournil-garrigues",
         public=False, contact=(f"contact@fournil-garrigues.{DOMAIN}", "Laurent", "Bonnet"),
         signataire=("Bonnet", "Laurent", "Gérant"),
         idcc="0843", opco="OPCOEP", naf="10.71C", type_employeur="11", billing=False,
         sites=[("Au Fournil des Garrigues", "2", "place du Marché", "34400", "Lunel", 9)]),
    dict(key="banque", raison_sociale="Banque du Littoral Occitan", domain="banque-littoral",
         public=False, contact=(f"rh@banque-littoral.{DOMAIN}", "Sandrine", "Ferrand"),
         signataire=("Lacombe", "Olivier", "Responsable du développement RH"),
         idcc="2120", opco="ATLAS", naf="64.19Z", type_employeur="12", billing=True,
         sites=[("Banque du Littoral Occitan – Direction régionale", "60", "boulevard Renouvier",
                 "34000", "Montpellier", 640),
                ("Banque du Littoral Occitan – Agence de Béziers", "14", "allées des Platanes",
                 "34500", "Béziers", 18)]),
    dict(key="marche", raison_sociale="Marché Frais du Lez", domain="marche-frais",
         public=False, contact=(f"direction@marche-frais.{DOMAIN}", "Farid", "Mansouri"),
         signataire=("Mansouri", "Farid", "Directeur du magasin"),
         idcc="2216", opco="OPCOMMERCE", naf="47.11D", type_employeur="12", billing=False,
         sites=[("Marché Frais du Lez – Castelnau", "120", "route de Nîmes", "34170",
                 "Castelnau-le-Lez", 95)]),
    dict(key="agglo", raison_sociale="Communauté d'agglomération Garrigues et Étangs",
         domain="agglo-garrigues", public=True,
         contact=(f"emploi@agglo-garrigues.{DOMAIN}", "Agnès", "Rouquette"),
         signataire=("Castan", "Bernard", "Directeur général des services"),
         idcc="9999", opco=None, naf="84.11Z", type_employeur="28", billing=True,
         sites=[("Communauté d'agglomération Garrigues et Étangs – Hôtel d'agglomération",
                 "1",
                 "esplanade de la République", "34110", "Frontignan", 780)]),
]

# Employers where each training's apprentices usually work.
EMPLOYERS_BY_FORMATION = {
    "lp_info": ["acme", "acme", "globex", "banque", "agglo"],
    "m_info": ["acme", "acme", "globex", "banque", "agglo"],
    "m_droit": ["globex", "banque", "acme", "agglo", "marche"],
    "bts_mco": ["marche", "fournil", "banque", "marche", "acme"],
}

FIRST_NAMES = {
    "F": ["Camille", "Léa", "Manon", "Chloé", "Inès", "Sarah", "Lucie", "Emma", "Jade", "Zoé",
          "Clara", "Yasmine", "Margaux", "Océane", "Salomé", "Maëlle", "Élise", "Anaïs"],
    "M": ["Lucas", "Hugo", "Nathan", "Théo", "Enzo", "Mathis", "Rayan", "Maxime", "Antoine",
          "Louis", "Yanis", "Quentin", "Adrien", "Romain", "Bastien", "Mehdi", "Jérémy", "Noé"],
}
LAST_NAMES = ["Garcia", "Martinez", "Roux", "Fournier", "Girard", "Mercier", "Blanc", "Guérin",
              "Boyer", "Chevalier", "Faure", "Rivière", "Arnaud", "Gauthier", "Perret", "Brunet",
              "Caron", "Barbier", "Aubert", "Rey", "Lemoine", "Colin", "Vasseur", "Pelletier",
              "Carpentier", "Benoît", "Delmas", "Sanchez", "Masson", "Picard", "Noël", "Huet",
              "Laborde", "Cazal", "Teissier", "Maurel", "Ollier", "Bouzid", "Nguyen", "Ferreira"]
# (commune, département, INSEE commune code for the NIR)
BIRTHPLACES = [("Montpellier", "34", "172"), ("Nîmes", "30", "189"), ("Béziers", "34", "032"),
               ("Perpignan", "66", "136"), ("Toulouse", "31", "555"), ("Narbonne", "11", "262"),
               ("Sète", "34", "301"), ("Alès", "30", "007"), ("Rodez", "12", "202"),
               ("Avignon", "84", "007"), ("Carcassonne", "11", "069"), ("Lunel", "34", "145")]
STREETS = ["rue des Aires", "avenue de la Gare", "rue du Pioch", "impasse des Mûriers",
           "rue Pasteur", "chemin de la Draille", "rue des Écoles", "avenue des Platanes"]
# Postal codes with their commune, for apprentices' and legal representatives' addresses.
HOMES = [("34000", "Montpellier"), ("34070", "Montpellier"), ("30000", "Nîmes"),
         ("34500", "Béziers"), ("34200", "Sète"), ("34400", "Lunel"), ("30900", "Nîmes"),
         ("34170", "Castelnau-le-Lez"), ("34110", "Frontignan")]

# Previous diploma by training: (CERFA code, exact title, previous situation code)
PARCOURS = {
    "lp_info": [("54", "BTS Services informatiques aux organisations", "3"),
                ("55", "DUT Réseaux et télécommunications", "3"),
                ("54", "BTS Systèmes numériques", "4")],
    "m_info": [("63", "Licence Informatique", "3"), ("64", "BUT Informatique", "4"),
               ("62", "Licence professionnelle Métiers de l'informatique", "4")],
    "m_droit": [("63", "Licence Droit", "3"), ("63", "Licence Administration économique et "
                                                     "sociale", "3"),
                ("69", "Licence Droit – parcours Droit privé", "10")],
    "bts_mco": [("41", "Baccalauréat professionnel Métiers du commerce et de la vente", "1"),
                ("43", "Baccalauréat technologique STMG", "1"),
                ("42", "Baccalauréat général", "1"),
                ("41", "Baccalauréat professionnel Métiers de l'accueil", "11")],
}
AGE_RANGE = {"lp_info": (19, 24), "m_info": (21, 28), "m_droit": (21, 27), "bts_mco": (16, 21)}

MISSIONS = {
    "m_info": [
        "Conception et développement de nouvelles fonctionnalités d'une application web métier "
        "(Python, PostgreSQL), écriture des tests automatisés et participation aux revues de "
        "code.",
        "Refonte de l'outil interne de planification de la production : recueil des besoins, "
        "modélisation, développement et mise en production avec l'équipe DevOps.",
        "Mise en place d'une chaîne d'intégration continue et amélioration de la qualité du "
        "code d'une plateforme de services en ligne.",
    ],
}
EMPLOIS_MAITRE = {
    "lp_info": "Administrateur systèmes et réseaux", "m_info": "Responsable des développements",
    "m_droit": "Juriste d'entreprise senior", "bts_mco": "Responsable de rayon",
}
CORRECTIONS = [
    "Les dates du contrat ne correspondent pas au calendrier de la formation : merci de les "
    "corriger.",
    "Le maître d'apprentissage doit justifier d'un diplôme ou d'une expérience suffisante : "
    "merci de compléter.",
    "Le NIR de l'alternant ne correspond pas à sa date de naissance.",
    "Le SIRET de l'établissement d'exécution du contrat est celui du siège : merci d'indiquer "
    "celui de l'établissement.",
]
ANNULATIONS = [
    "L'alternant a choisi une autre formation.",
    "L'employeur a renoncé au recrutement.",
    "Aucun contrat signé avant la rentrée.",
    "Dossier créé en double.",
]
RUPTURES = [
    "Rupture pendant la période d'essai à l'initiative de l'apprenti",
    "Rupture pendant la période d'essai à l'initiative de l'employeur",
    "Rupture d'un commun accord",
    "Démission de l'apprenti",
]
STEP_COMMENTS = {
    "initialise": "Création du dossier",
    "en_saisie": "Début de la saisie",
    "saisie_complete": "Tous les onglets sont complets",
    "validation_demandee": "Demande de validation",
    "valide_formation": "Dossier validé par la formation",
    "economie_validee": "Éléments économiques validés",
    "documents_retournes": "CERFA et convention signés déposés",
    "documents_valides": "CERFA visé par le CFA",
    "envoye_opco": "Dossier déclaré envoyé à l'OPCO",
}


# ---------------------------------------------------------------------------
# Plan: everything computed from the random generator before any write
# ---------------------------------------------------------------------------


def _state_path(state: str, rng: random.Random) -> list[str]:
    if state in MAIN_PATH:
        return MAIN_PATH[: MAIN_PATH.index(state) + 1]
    if state == "a_corriger":
        return MAIN_PATH[:4] + ["a_corriger"]
    if state == "annule":
        return MAIN_PATH[: rng.choice([2, 3, 4])] + ["annule"]
    return MAIN_PATH + ["rompu"]  # rompu: after the contract started


def _plan(rng: random.Random) -> dict:
    """The whole demo data set as plain values (keys, identifiers, dossier specs)."""
    plan: dict = {"cfa": dict(CFA, uai=_uai("034", rng), siret=_siret(_siren(rng), rng))}
    plan["schools"] = [dict(s, uai=_uai("034", rng), siret=_siret(_siren(rng), rng))
                       for s in SCHOOLS]
    plan["structures"] = []
    for s in STRUCTURES:
        siren = _siren(rng)
        sites = [dict(denomination=name, adresse_numero=num, adresse_voie=voie, code_postal=cp,
                      commune=commune, effectif=eff, siret=_siret(siren, rng, rank),
                      telephone=_phone(rng))
                 for rank, (name, num, voie, cp, commune, eff) in enumerate(s["sites"], 1)]
        plan["structures"].append(dict(s, siren=siren, sites=sites))
    plan["dossiers"] = _plan_dossiers(rng, plan["structures"])
    return plan


def _plan_dossiers(rng: random.Random, structures: list[dict]) -> list[dict]:
    by_key = {s["key"]: s for s in structures}
    states = list(STATES)
    formations = [f["key"] for f in FORMATIONS]
    used_emails = {ALICE[0], BRUNO[0]}
    employer_seen: dict[str, int] = {}
    specs = []
    for k in range(len(states) * DOSSIERS_PER_STATE):
        state, fkey = states[k // DOSSIERS_PER_STATE], formations[k % len(formations)]
        spec: dict = dict(state=state, formation=fkey)
        sexe = rng.choice("FM")
        if (state, fkey) == ("en_saisie", "m_info"):
            spec.update(user=ALICE, employer="acme", site=0, sexe="F")
            email, prenom, nom = ALICE
        elif (state, fkey) == ("saisie_complete", "m_droit"):
            spec.update(user=BRUNO, employer="globex", site=0, sexe="M")
            email, prenom, nom = BRUNO
        else:
            prenom, nom = rng.choice(FIRST_NAMES[sexe]), rng.choice(LAST_NAMES)
            email = f"{_slug(prenom)}.{_slug(nom)}@{STUDENT_DOMAIN}"
            n = 2
            while email in used_emails:
                email, n = f"{_slug(prenom)}.{_slug(nom)}{n}@{STUDENT_DOMAIN}", n + 1
            used_emails.add(email)
            employer = rng.choice(EMPLOYERS_BY_FORMATION[fkey])
            spec.update(user=None, employer=employer, sexe=sexe,
                        site=rng.randrange(len(by_key[employer]["sites"])))
        spec.update(email=email, prenom=prenom, nom=nom)
        structure = by_key[spec["employer"]]
        # Who is the employer contact: ACME leaves one dossier in three without a contact
        # (the référent still sees it), Globex one in four.
        seen = employer_seen[spec["employer"]] = employer_seen.get(spec["employer"], 0) + 1
        no_contact = {"acme": seen % 3 == 0, "globex": seen % 4 == 0}.get(spec["employer"],
                                                                          seen % 2 == 0)
        spec["contact"] = structure["contact"][0] if spec["user"] or not no_contact else None

        lo, hi = AGE_RANGE[fkey]
        start = date(2026, 9, 1) + timedelta(days=rng.randrange(0, 50))
        age = rng.randint(lo, hi)
        born = start.replace(year=start.year - age) - timedelta(days=rng.randrange(1, 360))
        fdef = next(f for f in FORMATIONS if f["key"] == fkey)
        end = contract_end(start, fdef)
        spec.update(start=start, end=end, born=born)
        spec["dispositif"] = (PROFESSIONNALISATION
                              if structure["billing"] and not structure["public"]
                              and rng.random() < 0.18 else APPRENTISSAGE)
        spec["niveau"] = "simple" if not spec["user"] and rng.random() < 0.1 else "complete"
        spec["rupture_date"] = start + timedelta(days=rng.randint(14, 25))
        spec["path"] = _state_path(state, rng)
        spec["times"] = _timeline(spec, rng)
        place = rng.choice(BIRTHPLACES)
        home = rng.choice(HOMES)
        spec["apprenti"] = dict(
            commune_naissance=place[0], departement_naissance=place[1],
            nir=_nir(spec["sexe"], born, place[1], place[2], rng),
            ine=f"{rng.randrange(10**9, 10**10)}{rng.choice('ABCDEFGHJK')}",
            adresse_numero=str(rng.randint(1, 120)), adresse_voie=rng.choice(STREETS),
            code_postal=home[0], commune=home[1], telephone=_phone(rng, mobile=True),
            parcours=rng.choice(PARCOURS[fkey]), rqth=rng.random() < 0.05,
        )
        spec["maitre"] = dict(prenom=rng.choice(FIRST_NAMES[rng.choice("FM")]),
                              nom=rng.choice(LAST_NAMES),
                              born=date(rng.randint(1968, 1992), rng.randint(1, 12),
                                        rng.randint(1, 28)),
                              experience=rng.randint(3, 22), telephone=_phone(rng))
        spec["mission"] = rng.choice(MISSIONS.get(fkey, [""]))
        spec["comment"] = rng.choice({"a_corriger": CORRECTIONS, "annule": ANNULATIONS,
                                      "rompu": RUPTURES}.get(state, [""]))
        spec["numero_contrat"] = f"034{start:%Y%m}NC{rng.randrange(10000):04d}"
        specs.append(spec)
    return specs


def _timeline(spec: dict, rng: random.Random) -> list[datetime]:
    """One timestamp per step of the path: created in spring, every step before the contract
    start (so the OPCO is told in time); the rupture is recorded a few days after its date."""
    at = datetime.combine(date(2026, 3, 2) + timedelta(days=rng.randrange(90)),
                          time(rng.randint(8, 17), rng.randrange(60)))
    times = []
    for step in spec["path"]:
        if step == "rompu":
            at = datetime.combine(spec["rupture_date"] + timedelta(days=rng.randint(1, 3)),
                                  time(10, rng.randrange(60)))
        elif times:
            at += timedelta(days=rng.randint(1, 8), hours=rng.randint(0, 6))
        times.append(at)
    return times


# ---------------------------------------------------------------------------
# Writes
# ---------------------------------------------------------------------------


class _Loader:
    def __init__(self) -> None:
        self.created = 0
        self._hash: str | None = None

    def _password_hash(self) -> str:
        if self._hash is None:
            probe = User(email="probe")
            probe.set_password(PASSWORD)  # hashed once, copied to every demo account
            self._hash = probe.password_hash
        return self._hash

    def user(self, email: str, first: str, last: str, roles: tuple[str, ...]) -> User:
        user = db.session.execute(select(User).filter_by(email=email)).scalar_one_or_none()
        if user is None:
            user = User(email=email, first_name=first, last_name=last,
                        password_hash=self._password_hash(), rgpd_accepted_at=RGPD_ACCEPTED_AT,
                        rgpd_version=RGPD_VERSION, created_at=datetime(2026, 1, 5, 8, 0))
            db.session.add(user)
            self.created += 1
        for role in roles:
            if role not in user.role_codes:
                user.roles.append(UserRole(role=role))
                self.created += 1
        return user

    def one(self, model, defaults: dict, **keys):
        obj = db.session.execute(select(model).filter_by(**keys)).scalars().first()
        if obj is None:
            obj = model(**keys, **defaults)
            db.session.add(obj)
            db.session.flush()
            self.created += 1
        return obj


def load_demo() -> dict:
    """Create the demo data set (idempotent). Returns the row counts of the demo tables."""
    rng = random.Random(SEED)
    plan = _plan(rng)
    loader = _Loader()

    users = {email: loader.user(email, first, last, roles) for email, first, last, roles in STAFF}
    for s in plan["structures"]:
        email, first, last = s["contact"]
        users[email] = loader.user(email, first, last, (EMPLOYEUR,))
    for email, first, last in (ALICE, BRUNO):
        users[email] = loader.user(email, first, last, (ALTERNANT,))
    db.session.flush()
    admin, conseil = users[f"admin@{DOMAIN}"], users[f"conseil@{DOMAIN}"]

    c = plan["cfa"]
    cfa = loader.one(Cfa, {k: v for k, v in c.items() if k != "siret"}, siret=c["siret"])
    schools = {}
    for s in plan["schools"]:
        schools[s["key"]] = loader.one(
            EtablissementFormation,
            dict(cfa_id=cfa.id, nom=s["nom"], uai=s["uai"], adresse=s["adresse"],
                 code_postal=s["code_postal"], commune=s["commune"]),
            siret=s["siret"])

    formations = {}
    for f in FORMATIONS:
        school = schools[f["school"]]
        fields = {k: v for k, v in f.items()
                  if k not in {"key", "school", "resp", "gest", "years", "intitule"}}
        formation = loader.one(Formation, dict(fields, cfa_id=cfa.id,
                                               etablissement_formation_id=school.id,
                                               lieu=f"{school.nom}, {school.commune}",
                                               conseiller_cfa_id=conseil.id),
                               intitule=f["intitule"], annee_campagne=CAMPAGNE)
        for email, members in ((f["resp"], formation.responsables),
                               (f["gest"], formation.gestionnaires)):
            if email and users[email] not in members:
                members.append(users[email])
                loader.created += 1
        formations[f["key"]] = formation

    sites = {}
    for s in plan["structures"]:
        referent = users[s["contact"][0]]
        structure = loader.one(Structure, dict(raison_sociale=s["raison_sociale"],
                                               public=s["public"], referent_id=referent.id,
                                               origine=Structure.ORIGINE_CFA),
                               siren=s["siren"])
        loader.one(StructureMembership,
                   dict(status=StructureMembership.APPROUVE, droit_contact_employeur=True,
                        droit_beneficiaire=True, requested_at=datetime(2026, 1, 6, 9, 0),
                        decided_at=datetime(2026, 1, 6, 14, 0), decided_by_id=admin.id),
                   structure_id=structure.id, user_id=referent.id)
        sites[s["key"]] = [loader.one(Etablissement, _etablissement_fields(s, site, structure),
                                      siret=site["siret"]) for site in s["sites"]]

    people = dict(users=users, formations=formations, sites=sites, conseil=conseil,
                  structures={s["key"]: s for s in plan["structures"]})
    for spec in plan["dossiers"]:
        formation = formations[spec["formation"]]
        exists = db.session.execute(
            select(Dossier.id).filter_by(apprenti_email=spec["email"], formation_id=formation.id)
        ).first()
        if exists is None:
            _create_dossier(spec, people)
            loader.created += 1
    db.session.flush()
    # Dossiers past "Validation demandée" show and print what was frozen with them.
    from portal.dossiers import snapshot
    snapshot.backfill()
    # The OPCO financing of the dossiers sent to the OPCO (seeds/demo_financing.py).
    from seeds.demo_financing import load_financing
    financing = load_financing(people, plan["dossiers"])
    # The training actions for employers' staff (seeds/demo_training.py).
    from seeds.demo_training import load_training
    training = load_training(people)
    db.session.commit()
    # Two dossiers sent for electronic signature, one signed by all (seeds/demo_signatures.py).
    from seeds.demo_signatures import load_signatures
    signatures = load_signatures(people)
    created = loader.created + financing.pop("created") + training.pop("created") \
        + signatures.pop("created")
    db.session.commit()
    return dict(_counts(), **financing, **training, **signatures, created=created)


def _etablissement_fields(s: dict, site: dict, structure: Structure) -> dict:
    fields = dict(structure_id=structure.id, denomination=site["denomination"],
                  adresse_numero=site["adresse_numero"], adresse_voie=site["adresse_voie"],
                  code_postal=site["code_postal"], commune=site["commune"],
                  telephone=site["telephone"], email=s["contact"][0],
                  type_employeur=s["type_employeur"], employeur_specifique="0", naf=s["naf"],
                  effectif=site["effectif"], idcc=s["idcc"], opco_code=s["opco"],
                  public=s["public"], monaco=False)
    if s["billing"]:
        fields.update(
            facturation_raison_sociale=s["raison_sociale"],
            facturation_adresse=f"{site['adresse_numero']} {site['adresse_voie']}",
            facturation_code_postal=site["code_postal"], facturation_commune=site["commune"],
            facturation_email=f"factures@{s['domain']}.{DOMAIN}", facturation_siret=site["siret"],
            facturation_reference="Engagement juridique n° 2026-EJ-0412" if s["public"]
            else None)
    return fields


def _create_dossier(spec: dict, people: dict) -> Dossier:
    formation = people["formations"][spec["formation"]]
    fdef = next(f for f in FORMATIONS if f["key"] == spec["formation"])
    users, conseil = people["users"], people["conseil"]
    structure = people["structures"][spec["employer"]]
    site = people["sites"][spec["employer"]][spec["site"]]
    resp = users[fdef["resp"]]
    creator = users[fdef["gest"]] if fdef["gest"] else resp
    apprentice = users[spec["user"][0]] if spec["user"] else None
    contact = users[spec["contact"]] if spec["contact"] else None
    path, times, state = spec["path"], spec["times"], spec["state"]
    reached = dict(zip(path, times))
    automatique = formation.mode_validation == "automatique"

    sign_nom, sign_prenom, sign_fonction = structure["signataire"]
    dossier = Dossier(
        state=state, dispositif=spec["dispositif"], niveau_saisie=spec["niveau"],
        formation=formation, apprentice_user=apprentice, etablissement=site,
        employer_contact=contact, cfa_conseiller=conseil, apprenti_nom=spec["nom"],
        apprenti_prenom=spec["prenom"], apprenti_date_naissance=spec["born"],
        apprenti_email=spec["email"], employeur_siret=site.siret,
        employeur_contact_email=contact.email if contact else None,
        date_debut_contrat=spec["start"], date_fin_contrat=spec["end"],
        created_at=times[0], updated_at=times[-1], created_by_id=creator.id)
    filled = "saisie_complete" in path
    if filled:
        dossier.responsable_nom, dossier.responsable_prenom = sign_nom, sign_prenom
        dossier.responsable_fonction = sign_fonction
        dossier.responsable_email = (f"{_slug(sign_prenom)}.{_slug(sign_nom)}"
                                     f"@{structure['domain']}.{DOMAIN}")
    if "validation_demandee" in reached and state != "a_corriger":
        # The request comes from the party that has an account (the contact first).
        if contact or not apprentice:
            dossier.employeur_validation_demandee_at = reached["validation_demandee"]
        if apprentice:
            dossier.alternant_validation_demandee_at = reached["validation_demandee"]
    if "valide_formation" in reached:
        dossier.formation_validee_at = reached["valide_formation"]
        dossier.formation_validee_par_id = None if automatique else resp.id
    if "economie_validee" in reached:
        dossier.economie_validee_at = reached["economie_validee"]
        dossier.economie_validee_par_id = conseil.id
    if "documents_valides" in reached:
        dossier.documents_valides_at = reached["documents_valides"]
        dossier.documents_valides_par_id = conseil.id
    if "envoye_opco" in reached:
        dossier.envoye_opco_at = reached["envoye_opco"]
    if state == "a_corriger":
        dossier.correction_commentaire = spec["comment"]
    elif state == "annule":
        dossier.annulation_motif = spec["comment"]
    elif state == "rompu":
        dossier.rupture_date, dossier.rupture_cause = spec["rupture_date"], spec["comment"]

    if "en_saisie" in reached:
        dossier.apprenti = _apprenti(spec, complete=filled)
        if _is_minor(spec["born"], spec["start"]):
            dossier.representant_legal = _representant(spec)
    if filled:
        dossier.maitres = [_maitre(spec, structure)]
        if spec["niveau"] == "complete":
            dossier.contrat = _contrat(spec, reached)
            # The CERFA's « Fait à » and the employer's attestation of the supporting documents.
            dossier.contrat.lieu_signature = site.commune
            dossier.contrat.attestation_pieces = True
    if formation.mission_requise and "en_saisie" in reached:
        dossier.mission = _mission(spec, reached, resp, contact or apprentice)
    dossier.history = _history(path, times, spec, creator=creator, resp=resp, conseil=conseil,
                               party=contact or apprentice, automatique=automatique)
    db.session.add(dossier)
    return dossier


def _is_minor(born: date, at: date) -> bool:
    return (at.year - born.year - ((at.month, at.day) < (born.month, born.day))) < 18


def _apprenti(spec: dict, *, complete: bool) -> Apprenti:
    a = spec["apprenti"]
    apprenti = Apprenti(nom_naissance=spec["nom"], prenom=spec["prenom"], sexe=spec["sexe"],
                        date_naissance=spec["born"], email=spec["email"],
                        telephone=a["telephone"])
    if not complete:  # the apprentice has only started the tab
        return apprenti
    code, intitule, situation = a["parcours"]
    for key in ("commune_naissance", "departement_naissance", "nir", "ine", "adresse_numero",
                "adresse_voie", "code_postal", "commune", "rqth"):
        setattr(apprenti, key, a[key])
    apprenti.nationalite = "1"
    apprenti.regime_social = "2"
    apprenti.situation_avant_contrat = situation
    apprenti.diplome_plus_eleve = apprenti.dernier_diplome_prepare = code
    apprenti.derniere_classe = "01"
    apprenti.intitule_dernier_diplome = intitule
    apprenti.qualifie_niveau_4 = code >= "41"
    return apprenti


def _representant(spec: dict) -> RepresentantLegal:
    a = spec["apprenti"]
    prenom = "Nathalie" if spec["sexe"] == "F" else "Christophe"
    return RepresentantLegal(nom=spec["nom"], prenom=prenom,
                             lien="mère" if spec["sexe"] == "F" else "père",
                             adresse_numero=a["adresse_numero"], adresse_voie=a["adresse_voie"],
                             code_postal=a["code_postal"], commune=a["commune"],
                             email=f"{_slug(prenom)}.{_slug(spec['nom'])}.parent@{DOMAIN}",
                             telephone=_phone(random.Random(spec["email"]), mobile=True))


def _maitre(spec: dict, structure: dict) -> MaitreApprentissage:
    m = spec["maitre"]
    return MaitreApprentissage(
        rang=1, nom_naissance=m["nom"], prenom=m["prenom"], date_naissance=m["born"],
        email=f"{_slug(m['prenom'])}.{_slug(m['nom'])}@{structure['domain']}.{DOMAIN}",
        telephone=m["telephone"], emploi_occupe=EMPLOIS_MAITRE[spec["formation"]],
        diplome="Master" if spec["formation"].startswith("m_") else "Licence professionnelle",
        niveau_diplome="7" if spec["formation"].startswith("m_") else "6",
        annees_experience=m["experience"], eligibilite_attestee=True)


# The salaire minimum conventionnel of the demo jobs (monthly, gross): above the SMIC for the
# masters' engineers, below it for the sales assistant (the SMIC then applies).
SMC_BY_FORMATION = {"lp_info": Decimal("1850.00"), "m_info": Decimal("2150.00"),
                    "m_droit": Decimal("2050.00"), "bts_mco": Decimal("1812.00")}


def contract_end(start: date, fdef: dict) -> date:
    """Contracts last the training's years (ending the day before the anniversary), and end at
    the latest 2 months after the exams (C9, portal/rules/contract_dates.py)."""
    return min(start.replace(year=start.year + fdef["years"]) - timedelta(days=1),
               add_months(fdef["date_fin_examens"], 2))


def _contrat(spec: dict, reached: dict) -> Contrat:
    situation = spec["apprenti"]["parcours"][2]
    start = spec["start"]
    return Contrat(
        type_contrat="22" if situation == "4" else "11", mode_contractuel="1",
        date_conclusion=start - timedelta(days=21), date_debut_formation_pratique=start,
        date_debut_formation_cfa=start, duree_hebdo_heures=35, duree_hebdo_minutes=0,
        travail_risque=False, caisse_retraite_complementaire="Caisse de retraite Horizon Sud",
        numero_contrat=spec["numero_contrat"] if "envoye_opco" in reached else None,
        # C18: the employer states the SMC when the apprentice turns 21 during the contract.
        salaire_minimum_conventionnel=(
            SMC_BY_FORMATION[spec["formation"]]
            if reaches_smc_age(spec["born"], start, spec["end"]) else None))


def _mission(spec: dict, reached: dict, resp: User, author: User | None) -> Mission:
    mission = Mission(description=spec["mission"], status=Mission.BROUILLON)
    if "saisie_complete" in reached:
        done = reached["saisie_complete"]
        mission.status = Mission.VALIDEE
        mission.submitted_at = done - timedelta(days=2)
        mission.validated_at = done - timedelta(hours=3)
        mission.submitted_by_id = author.id if author else None
        mission.validated_by_id = resp.id
    return mission


def _history(path, times, spec, *, creator, resp, conseil, party, automatique):
    actor = {"initialise": creator, "en_saisie": party, "saisie_complete": party,
             "validation_demandee": party, "valide_formation": None if automatique else resp,
             "economie_validee": conseil, "documents_retournes": party,
             "documents_valides": conseil, "envoye_opco": party, "a_corriger": resp,
             "annule": conseil, "rompu": conseil}
    entries = []
    previous = None
    for step, at in zip(path, times):
        comment = STEP_COMMENTS.get(step) or spec["comment"]
        if step == "valide_formation" and automatique:
            comment = "Validation automatique (formation en validation automatique)"
        user = actor[step]
        entries.append(DossierHistory(at=at, user_id=user.id if user else None, kind="transition",
                                      from_state=previous, to_state=step, comment=comment))
        previous = step
    return entries


def _counts() -> dict:
    models = dict(users=User, cfas=Cfa, etablissements_formation=EtablissementFormation,
                  formations=Formation, structures=Structure, etablissements=Etablissement,
                  dossiers=Dossier, apprentis=Apprenti, maitres=MaitreApprentissage,
                  contrats=Contrat, missions=Mission, historique=DossierHistory)
    return {name: db.session.scalar(select(func.count()).select_from(model))
            for name, model in models.items()}


# ---------------------------------------------------------------------------
# Volume
# ---------------------------------------------------------------------------

_SYNTH_COLUMNS = (
    "state", "dispositif", "niveau_saisie", "formation_id", "apprentice_user_id",
    "etablissement_id", "employer_contact_id", "cfa_conseiller_id", "apprenti_nom",
    "apprenti_prenom", "apprenti_date_naissance", "apprenti_email", "employeur_siret",
    "employeur_contact_email", "date_debut_contrat", "date_fin_contrat",
    "alternant_validation_demandee_at", "employeur_validation_demandee_at",
    "formation_validee_at", "formation_validee_par_id", "economie_validee_at",
    "economie_validee_par_id", "documents_valides_at", "documents_valides_par_id",
    "envoye_opco_at", "correction_commentaire", "annulation_motif", "rupture_date",
    "rupture_cause", "created_at", "updated_at", "created_by_id", "version",
)


def add_synthetic_dossiers(n: int, *, batch: int = 5000,
                           demo_share: float = DEMO_SHARE) -> int:
    """Add ``n`` bare dossiers (no tabs, no history) for volume tests; returns ``n``.

    Spread over every state; their trainings and employers are mostly new ones (groups of the
    demo's trainings, seeds/synthetic_trainings; employers with a few dossiers each,
    seeds/synthetic_employers), and ``demo_share`` of them go to the demo's trainings and
    establishments (some with an employer contact of their structure; 1.0: all of them, the
    planners' worst case of a few establishments with thousands of dossiers each). Core
    ``INSERT … executemany`` in batches: 100 000 rows take seconds."""
    conseil_id = db.session.execute(
        select(User.id).filter_by(email=f"conseil@{DOMAIN}")).scalar_one_or_none()
    formations = db.session.execute(
        select(Formation.id, Formation.date_debut, Formation.date_fin,
               Formation.conseiller_cfa_id)).all()
    sites = db.session.execute(
        select(Etablissement.id, Etablissement.siret, Etablissement.structure_id)).all()
    if conseil_id is None or not formations or not sites:
        raise RuntimeError("add_synthetic_dossiers() needs the demo data: run load_demo() first.")
    rng = random.Random(SEED + n)
    token = uuid.uuid4().hex[:12]  # keeps e-mails unique across calls
    employers = (add_synthetic_employers(max(1, round(n * (1 - demo_share))
                                         // DOSSIERS_PER_EMPLOYER), token, rng)
                 if demo_share < 1 else [])
    groups = (add_synthetic_trainings(max(1, round(n * (1 - demo_share))
                                          // DOSSIERS_PER_TRAINING), token)
              if demo_share < 1 else [])
    ctx = dict(
        rng=rng,
        token=token,
        employers=employers, demo_share=demo_share,
        conseil_id=conseil_id,
        formations=_training_choices(formations, conseil_id),
        groups=_training_choices(groups, conseil_id),
        sites=sites, responsables=_first_responsable_by_formation(),
        contacts=_contacts_by_structure(),
        names=[(p, nom) for sexe in FIRST_NAMES for p in FIRST_NAMES[sexe] for nom in LAST_NAMES],
    )
    table = Dossier.__table__
    done = 0
    while done < n:
        rows = [_synthetic_row(i, ctx) for i in range(done, min(n, done + batch))]
        db.session.execute(insert(table), rows)
        done += len(rows)
    db.session.commit()
    # An executemany is one INSERT a row for PostgreSQL's statement triggers: the dossiers'
    # tally got a row each, folded into one as the import's worker does.
    fold_dossier_tally(db.session)
    db.session.commit()
    return done


_STATE_CODES = list(STATES)
# How far along the main path each state went (side exits: where they usually leave it).
_STATE_RANK = {**{s: i for i, s in enumerate(MAIN_PATH)},
               "a_corriger": 3, "annule": 2, "rompu": len(MAIN_PATH) - 1}
_SYNTH_BASE = datetime(2026, 3, 2, 8, 0)


def _training_choices(formations, conseil_id) -> list[tuple]:
    """(id, start, years, CFA advisor) of each training a synthetic dossier may follow."""
    return [(fid, start or date(2026, 9, 1),
             max(1, round((end - start).days / 365)) if start and end else 2,
             conseiller or conseil_id)
            for fid, start, end, conseiller in formations]


def _synthetic_row(i: int, ctx: dict) -> dict:
    rng = ctx["rng"]
    state = _STATE_CODES[i % len(_STATE_CODES)]
    rank = _STATE_RANK[state]
    # The demo's trainings get demo_share of the dossiers, the synthetic groups the rest.
    trainings = (ctx["formations"] if not ctx["groups"] or rng.random() < ctx["demo_share"]
                 else ctx["groups"])
    fid, f_start, years, conseiller_id = trainings[rng.randrange(len(trainings))]
    sites = ctx["sites"] if rng.random() < ctx["demo_share"] else ctx["employers"]
    site_id, siret, structure_id = sites[rng.randrange(len(sites))]
    candidates = ctx["contacts"].get(structure_id)
    contact = (candidates[rng.randrange(len(candidates))]
               if candidates and rng.random() < 0.6 else (None, None))
    prenom, nom = ctx["names"][rng.randrange(len(ctx["names"]))]
    created = _SYNTH_BASE + timedelta(minutes=rng.randrange(130_000))
    step = timedelta(days=3, minutes=rng.randrange(1440))
    start = f_start + timedelta(days=rng.randrange(40))

    def at(r: int) -> datetime | None:  # when the r-th step of the main path was reached
        return created + step * r if rank >= r else None

    def by(r: int, user_id) -> int | None:
        return user_id if rank >= r else None

    return dict(zip(_SYNTH_COLUMNS, (
        state, APPRENTISSAGE if rng.random() < 0.85 else PROFESSIONNALISATION,
        "complete" if rng.random() < 0.9 else "simple", fid, None, site_id, contact[0],
        conseiller_id, nom, prenom,
        date(rng.randint(1998, 2009), rng.randint(1, 12), rng.randint(1, 28)),
        f"synth-{ctx['token']}-{i:07d}@{STUDENT_DOMAIN}", siret, contact[1], start,
        start.replace(year=start.year + years) - timedelta(days=1),
        None, at(3) if state != "a_corriger" else None,
        at(4), by(4, ctx["responsables"].get(fid)), at(5), by(5, ctx["conseil_id"]),
        at(7), by(7, ctx["conseil_id"]), at(8),
        CORRECTIONS[i % len(CORRECTIONS)] if state == "a_corriger" else None,
        ANNULATIONS[i % len(ANNULATIONS)] if state == "annule" else None,
        start + timedelta(days=20) if state == "rompu" else None,
        RUPTURES[i % len(RUPTURES)] if state == "rompu" else None,
        created, created + step * (rank + 1), None, 1,
    )))


def _first_responsable_by_formation() -> dict[int, int]:
    fr = formation_responsables
    rows = db.session.execute(select(fr.c.formation_id, func.min(fr.c.user_id))
                              .group_by(fr.c.formation_id)).all()
    return dict(rows)


def _contacts_by_structure() -> dict[int, list[tuple[int, str]]]:
    """Employer accounts allowed to be contact for each structure (référent included)."""
    rows = db.session.execute(
        select(StructureMembership.structure_id, User.id, User.email)
        .join(User, User.id == StructureMembership.user_id)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == EMPLOYEUR,
               StructureMembership.status == StructureMembership.APPROUVE,
               StructureMembership.droit_contact_employeur.is_(True))).all()
    contacts: dict[int, list[tuple[int, str]]] = {}
    for structure_id, user_id, email in rows:
        contacts.setdefault(structure_id, []).append((user_id, email))
    return contacts
