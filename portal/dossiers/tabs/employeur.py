"""L'employeur (SPEC §2): the establishment (CERFA FA13 « L'employeur »), the signatory of the
convention, the maîtres d'apprentissage and, when needed, the billing information.

The establishment is shared by every dossier of the employer: the dossier links to the
Etablissement of its SIRET (created, pending the CFA's check, when Sillon does not know it)
and only people allowed to change that establishment overwrite its fields.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Any

from portal.rules import ERROR, Finding
from portal.rules.contract import MASTER2_FIELDS, ContractFacts, check_masters
from portal.rules.identifiers import (clean_digits, idcc_findings, is_valid_naf,
                                      is_valid_postal_code, is_valid_siret, normalise_naf)

from portal.dossiers.tabs.base import Section, Tab, as_date, blank

APPRENTISSAGE, PROFESSIONNALISATION = "apprentissage", "professionnalisation"
# States whose dossiers no longer count among a maître's apprentices (C12).
ENDED_STATES = ("annule", "rompu")
PUBLIC_EMPLOYER_FROM = 21  # CERFA type_employeur: 11–16 private, 21–30 public

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
# What anyone may learn about an establishment from its SIRET (the lookup route says the same):
# never its billing data, e-mail or phone.
PUBLIC_ETABLISSEMENT = ("employeur_denomination", "employeur_adresse_numero",
                        "employeur_adresse_voie", "employeur_adresse_complement",
                        "employeur_code_postal", "employeur_commune", "naf", "idcc",
                        "type_employeur", "employeur_effectif")
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
BOOLEANS = {"employeur_monaco"}

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
# History entry recording that this dossier created a pending establishment: it is also what
# lets this dossier keep completing that establishment until the CFA has checked it.
CREATED_ENTRY = "L'employeur – Nouvel établissement (SIRET)"
_MONACO_POSTAL_CODE = re.compile(r"^980[0-9]{2}$")


# --- helpers ---------------------------------------------------------------------------------

def _type_code(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def is_public_employer(type_employeur: Any) -> bool:
    code = _type_code(type_employeur)
    return code is not None and code >= PUBLIC_EMPLOYER_FROM


def billing_required(data: dict[str, Any], dossier) -> bool:
    """Billing data is needed for a professionalisation contract, a public employer
    (type > 20) or a company from Monaco (SPEC §2)."""
    dispositif = data.get("dispositif") or getattr(dossier, "dispositif", None)
    return (dispositif == PROFESSIONNALISATION or is_public_employer(data.get("type_employeur"))
            or bool(data.get("employeur_monaco")))


def _name_key(value: Any) -> str:
    """Case- and accent-insensitive form of a name, the same on SQLite and PostgreSQL."""
    text = unicodedata.normalize("NFKD", str(value or ""))
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub(r"[\W_]+", " ", text).split())


def _find_etablissement(siret: str | None):
    from portal.extensions import db
    from portal.models import Etablissement
    siret = clean_digits(siret)
    if not re.fullmatch(r"[0-9]{14}", siret):
        return None
    with db.session.no_autoflush:
        return db.session.execute(
            db.select(Etablissement).where(Etablissement.siret == siret)).scalars().first()


def master_apprentice_count(dossier, siret: str | None, nom: Any, prenom: Any,
                            birth: Any) -> int | None:
    """Dossiers (neither cancelled nor broken off) whose maître 1 is this person (same name,
    first name and birth date) at the establishment of this SIRET, this dossier included
    (R6223-6: 2 apprentices at most). 1 for an establishment Sillon does not know yet; None
    when the maître is incomplete, or there is neither a SIRET nor a linked establishment."""
    from portal.extensions import db
    from portal.models import Dossier, MaitreApprentissage
    birth = as_date(birth)
    if blank(nom) or blank(prenom) or birth is None:
        return None
    if re.fullmatch(r"[0-9]{14}", clean_digits(siret)):
        etab = _find_etablissement(siret)
        if etab is None:
            return 1
    else:
        etab = dossier.etablissement
        if etab is None:
            return None
    with db.session.no_autoflush:
        rows = db.session.execute(
            db.select(Dossier.id, MaitreApprentissage.nom_naissance, MaitreApprentissage.prenom)
            .join(MaitreApprentissage, MaitreApprentissage.dossier_id == Dossier.id)
            .where(MaitreApprentissage.rang == 1, MaitreApprentissage.date_naissance == birth,
                   Dossier.etablissement_id == etab.id, Dossier.state.not_in(ENDED_STATES),
                   Dossier.id != dossier.id)).all()
    same = {pk for pk, n, p in rows
            if _name_key(n) == _name_key(nom) and _name_key(p) == _name_key(prenom)}
    return len(same) + 1


def _identity(data: dict[str, Any]) -> tuple:
    return (clean_digits(data.get("employeur_siret")), _name_key(data.get("maitre_1_nom")),
            _name_key(data.get("maitre_1_prenom")), as_date(data.get("maitre_1_date_naissance")))


def _postal_code_ok(value: str, monaco: bool) -> bool:
    return is_valid_postal_code(value) or (monaco and bool(_MONACO_POSTAL_CODE.match(value)))


def _notify(message: str) -> None:
    """An information for the person saving the page (only when there is one)."""
    from flask import flash, has_request_context
    if has_request_context():
        flash(message, "info")


# --- the tab ---------------------------------------------------------------------------------

class EmployeurTab(Tab):
    code = "employeur"
    label = "L'employeur"
    fields = FIELDS
    template = "admin/dossier/tab_employeur.html"

    def form_class(self, dossier):
        from forms.tabs.employeur import EmployeurForm
        return EmployeurForm

    # --- data ------------------------------------------------------------------------------
    def load(self, dossier) -> dict[str, Any]:
        data: dict[str, Any] = {name: None for name in FIELDS}
        data["employeur_monaco"] = False
        etab = dossier.etablissement
        siret = dossier.employeur_siret or (etab.siret if etab is not None else None)
        data["employeur_siret"] = siret
        if etab is not None and etab.siret == siret:
            for name, col in {**ETABLISSEMENT, **FACTURATION}.items():
                data[name] = getattr(etab, col)
        else:
            # The SIRET named on Données de base is not the linked establishment's (yet): show
            # what anyone may know of it, nothing private.
            known = _find_etablissement(siret)
            if known is not None:
                for name in PUBLIC_ETABLISSEMENT:
                    data[name] = getattr(known, ETABLISSEMENT[name])
        data["employeur_monaco"] = bool(data["employeur_monaco"])
        for name in RESPONSABLE:
            data[name] = getattr(dossier, name)
        maitres = {m.rang: m for m in dossier.maitres}
        first, second = maitres.get(1), maitres.get(2)
        for name, col in MAITRE_1.items():
            data[name] = getattr(first, col) if first is not None else None
        for name, col in MAITRE_2.items():
            data[name] = getattr(second, col) if second is not None else None
        # None until a maître is recorded: "required"; then the box as ticked (C12).
        data[ATTESTATION] = bool(first.eligibilite_attestee) if first is not None else None
        data["_maitre_1_apprentis"] = master_apprentice_count(
            dossier, siret, data["maitre_1_nom"], data["maitre_1_prenom"],
            data["maitre_1_date_naissance"])
        data["_maitre_1_identite"] = _identity(data)
        return data

    def store(self, dossier, data: dict[str, Any], user) -> None:
        from portal.extensions import db
        # The page's history entries are pending: no query below may flush them before
        # _drop_history has removed those of the fields this save does not write.
        with db.session.no_autoflush:
            self._store(dossier, data, user)

    def _store(self, dossier, data: dict[str, Any], user) -> None:
        from portal.models import MaitreApprentissage
        for name in RESPONSABLE:
            if name in data:
                setattr(dossier, name, data[name])
        if "employeur_siret" in data and not blank(data["employeur_siret"]):
            self._store_etablissement(dossier, data, user)
        maitres = {m.rang: m for m in dossier.maitres}
        first = maitres.get(1)
        if first is None:
            first = MaitreApprentissage(rang=1)
            dossier.maitres.append(first)
        for name, col in MAITRE_1.items():
            if name in data:
                setattr(first, col, data[name])
        if ATTESTATION in data:
            first.eligibilite_attestee = bool(data[ATTESTATION])
        second_data = {name: data.get(name) for name in MAITRE_2}
        second = maitres.get(2)
        if all(blank(value) for value in second_data.values()):
            if second is not None:
                dossier.maitres.remove(second)  # delete-orphan: the emptied block is removed
        else:
            if second is None:
                second = MaitreApprentissage(rang=2)
                dossier.maitres.append(second)
            for name, col in MAITRE_2.items():
                setattr(second, col, second_data[name])

    def _store_etablissement(self, dossier, data, user) -> None:
        from portal.extensions import db
        from portal.models import DossierHistory, Etablissement, Structure
        siret = clean_digits(data["employeur_siret"])
        dossier.employeur_siret = siret
        etab = _find_etablissement(siret)
        created = etab is None
        if created:
            siren = siret[:9]
            structure = db.session.execute(
                db.select(Structure).where(Structure.siren == siren)).scalars().first()
            if structure is None:
                structure = Structure(siren=siren, raison_sociale=data["employeur_denomination"],
                                      public=is_public_employer(data.get("type_employeur")),
                                      monaco=bool(data.get("employeur_monaco")))
                db.session.add(structure)
            etab = Etablissement(structure=structure, siret=siret, en_attente=True,
                                 denomination=data["employeur_denomination"])
            db.session.add(etab)
            db.session.add(DossierHistory(
                dossier=dossier, user_id=getattr(user, "id", None), kind="field",
                field=CREATED_ENTRY, new_value=siret,
                comment=f"{data['employeur_denomination']}, en attente de vérification par "
                        "le CFA"))
        may_update = created or self._may_update(etab, dossier, user)
        dossier.etablissement = etab
        with_billing = billing_required({"dispositif": dossier.dispositif, **data}, dossier)
        if may_update:
            self._write_etablissement(etab, data, with_billing)
            if not with_billing:
                self._drop_history(dossier, [n for n in FACTURATION if n in data], data)
            return
        shared = [name for name in {**ETABLISSEMENT, **FACTURATION} if name in data]
        applied = {**ETABLISSEMENT, **(FACTURATION if with_billing else {})}
        if any(_differs(data[name], getattr(etab, applied[name]))
               for name in shared if name in applied):
            _notify(f"L'établissement « {etab.denomination} » (SIRET {etab.siret}) est déjà "
                    "connu de Sillon : le dossier y est rattaché, mais ses informations "
                    "(adresse, activité, convention collective, facturation) n'ont pas été "
                    "modifiées, car seuls le référent de la structure et le CFA peuvent les "
                    "changer. Les informations enregistrées sont affichées ci-dessous.")
        self._drop_history(dossier, shared, data)

    def _drop_history(self, dossier, names, data) -> None:
        """The page records a history entry for every changed field before storing it: remove
        those of fields this save did not write (someone else's establishment, hidden billing
        block), so that the history never shows a change that did not happen."""
        from forms.tabs.employeur import EmployeurForm
        from portal.extensions import db
        from portal.models import DossierHistory
        labels = {}
        for name in names:
            unbound = getattr(EmployeurForm, name, None)
            if unbound is not None and unbound.args:
                labels[f"{self.label} – {unbound.args[0]}"] = _history_text(data[name])
        if not labels:
            return
        with db.session.no_autoflush:  # the entries are pending: drop them, never flush them
            for entry in [obj for obj in db.session.new if isinstance(obj, DossierHistory)]:
                if entry.dossier is dossier and entry.kind == "field" and \
                        entry.field in labels and entry.new_value == labels[entry.field]:
                    if entry in dossier.history:
                        dossier.history.remove(entry)
                    if entry in db.session:
                        db.session.expunge(entry)

    @staticmethod
    def _may_update(etab, dossier, user) -> bool:
        """A référent of the structure or the CFA (portal.policy), or the dossier that created
        this establishment while the CFA has not checked it yet."""
        from portal import policy
        from portal.extensions import db
        from portal.models import DossierHistory
        with db.session.no_autoflush:
            if policy.may_edit(user, etab):
                return True
            if not etab.en_attente or dossier.id is None:
                return False
            return db.session.execute(
                db.select(DossierHistory.id).where(
                    DossierHistory.dossier_id == dossier.id, DossierHistory.kind == "field",
                    DossierHistory.field == CREATED_ENTRY,
                    DossierHistory.new_value == etab.siret)
            ).first() is not None

    @staticmethod
    def _write_etablissement(etab, data, with_billing: bool) -> None:
        from portal.extensions import db
        from portal.models import ConventionCollective
        old_idcc = etab.idcc
        for name, col in ETABLISSEMENT.items():
            if name in data:
                value = data[name]
                if name == "naf" and value:
                    value = normalise_naf(value) or value
                setattr(etab, col, bool(value) if name in BOOLEANS else value)
        etab.public = is_public_employer(etab.type_employeur)
        # Never trust the page for the OPCO: it comes from the IDCC table.
        convention = db.session.execute(
            db.select(ConventionCollective).where(ConventionCollective.idcc == etab.idcc)
        ).scalars().first() if etab.idcc else None
        if etab.monaco:
            etab.opco_code = None  # a Monaco employer has no OPCO: it is billed directly
        elif convention is not None:
            etab.opco_code = convention.opco_code
        elif etab.idcc != old_idcc:
            etab.opco_code = None
        if with_billing:
            # Hidden billing data is kept as it is: other dossiers of the establishment use it.
            for name, col in FACTURATION.items():
                if name in data:
                    value = data[name]
                    if name == "facturation_siret" and value:
                        value = clean_digits(value)
                    setattr(etab, col, value)

    # --- checks ----------------------------------------------------------------------------
    def required(self, data, dossier) -> set[str]:
        required = set(REQUIRED)
        dispositif = data.get("dispositif") or dossier.dispositif
        if dispositif == PROFESSIONNALISATION:
            required.add("maitre_1_annees_experience")  # tutor: 2 years' experience (D6325-6)
        if billing_required(data, dossier):
            required |= REQUIRED_BILLING
        return required

    def check(self, data, dossier, labels=None) -> list[Finding]:
        # The cross-tab rules (C12) read the maître's number of apprentices from the data: when
        # the page changes the maître or the establishment, count again for the new ones.
        if data.get("_maitre_1_identite") != _identity(data):
            data["_maitre_1_apprentis"] = master_apprentice_count(
                dossier, data.get("employeur_siret"), data.get("maitre_1_nom"),
                data.get("maitre_1_prenom"), data.get("maitre_1_date_naissance"))
            data["_maitre_1_identite"] = _identity(data)
        return super().check(data, dossier, labels)

    def own_findings(self, data, dossier) -> list[Finding]:
        findings: list[Finding] = []
        for name in ("employeur_siret", "facturation_siret"):
            value = data.get(name)
            if name == "facturation_siret" and not billing_required(data, dossier):
                continue
            if not blank(value) and not is_valid_siret(value):
                findings.append(Finding(ERROR, name, SIRET_MESSAGE))
        findings.extend(idcc_findings(data.get("idcc")))
        naf = data.get("naf")
        if not blank(naf) and not is_valid_naf(naf):
            findings.append(Finding(ERROR, "naf", "Le code NAF (APE) comporte 4 chiffres et "
                                                  "1 lettre, par exemple 62.01Z."))
        monaco = bool(data.get("employeur_monaco"))
        postal = ["employeur_code_postal"]
        if billing_required(data, dossier):
            postal.append("facturation_code_postal")
        for name in postal:
            value = (data.get(name) or "").strip()
            if value and not _postal_code_ok(value, monaco):
                findings.append(Finding(ERROR, name, "Code postal invalide : 5 chiffres (980xx "
                                                     "pour Monaco)." if monaco else
                                        "Code postal invalide : 5 chiffres."))
        findings.extend(self._master_findings(data, dossier))
        return findings

    @staticmethod
    def _master_findings(data, dossier) -> list[Finding]:
        """C12 of portal.rules (2nd maître all or nothing, the employer's attestation, and for
        an apprenticeship the maître's age and number of apprentices), as this page's own
        checks: they block its saving whatever the entry level."""
        from portal.dossiers.tabs import FIELD_ALIASES
        attestation = data.get(ATTESTATION)
        facts = ContractFacts(
            master2={key: data.get(f"maitre_2_{key}") for key in MASTER2_FIELDS},
            employer_attests_master_eligibility=None if attestation is None else bool(
                attestation))
        dispositif = data.get("dispositif") or dossier.dispositif
        if dispositif != PROFESSIONNALISATION:
            facts.master1_birth = as_date(data.get("maitre_1_date_naissance"))
            facts.start = as_date(data.get("date_debut_contrat"))
            facts.master_apprentice_count = data.get("_maitre_1_apprentis")
        return [Finding(f.level, FIELD_ALIASES.get(f.field, f.field), f.message)
                for f in check_masters(facts)]

    # --- page ------------------------------------------------------------------------------
    def sections(self, dossier, data) -> list[Section]:
        pro = (data.get("dispositif") or dossier.dispositif) == PROFESSIONNALISATION
        master = "Tuteur" if pro else "Maître d'apprentissage"
        return [
            Section("Établissement d'exécution du contrat", ETAB_FIELDS, block_id="etablissement",
                    help="Saisissez le SIRET : les informations connues de Sillon (ou de "
                         "l'annuaire des entreprises) complètent les champs vides."),
            Section("Activité et convention collective", ACTIVITE_FIELDS, block_id="convention"),
            Section("Responsable signataire de la convention de formation", list(RESPONSABLE),
                    block_id="responsable"),
            Section(f"{master} n° 1", list(MAITRE_1), block_id="maitre-1"),
            Section(f"{master} n° 2 (facultatif)", list(MAITRE_2), block_id="maitre-2",
                    help="Renseignez tout le bloc ou laissez-le entièrement vide."),
            Section("Attestation de l'employeur", [ATTESTATION], block_id="attestation"),
            Section("Facturation", list(FACTURATION), block_id="facturation",
                    help="Obligatoire pour un contrat de professionnalisation, un employeur "
                         "public ou une entreprise établie à Monaco.",
                    extra={"hidden": not billing_required(data, dossier),
                           "condition": "facturation"}),
        ]

    def extra_context(self, dossier, data) -> dict[str, Any]:
        from portal.extensions import db
        from portal.models import ConventionCollective
        from portal.rules.aids import employer_aid, employer_participation
        from portal.rules.formatting import eur
        idcc = data.get("idcc")
        convention = None
        if isinstance(idcc, str) and re.fullmatch(r"[0-9]{4}", idcc):
            convention = db.session.execute(
                db.select(ConventionCollective).where(ConventionCollective.idcc == idcc)
            ).scalars().first()
        dispositif = data.get("dispositif") or dossier.dispositif
        formation = dossier.formation
        level = getattr(formation, "niveau", None)
        conclusion = as_date(data.get("date_conclusion"))
        if conclusion is None and dossier.contrat is not None:
            conclusion = dossier.contrat.date_conclusion
        effectif = data.get("employeur_effectif")
        aid = participation = None
        if dispositif == APPRENTISSAGE:
            aid = employer_aid(conclusion, effectif if isinstance(effectif, int) else None,
                               level, bool(data.get("rqth")))[1]
            amount = employer_participation(conclusion, level, dispositif)
            if amount:
                participation = (f"Participation forfaitaire de l'employeur au coût de la "
                                 f"formation (diplôme de niveau {level}) : {eur(amount)}, "
                                 "déduite du premier versement de l'OPCO au CFA.")
        return {
            "convention": convention,
            "convention_opco": convention.opco if convention is not None else None,
            "billing_required": billing_required(data, dossier),
            "dispositif": dispositif,
            "aid_text": aid,
            "participation_text": participation,
        }


def _history_text(value: Any) -> str | None:
    """A value as admin_views.dossier_tabs writes it in the history."""
    from datetime import date
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    return str(value)


def _differs(new: Any, old: Any) -> bool:
    def norm(value):
        if isinstance(value, str):
            return value.strip() or None
        return value
    return norm(new) != norm(old)
