"""From the dossier's merged flat data to the facts the pure contract rules take."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from portal.rules.contract import MASTER2_FIELDS, ContractFacts
from portal.rules.remuneration import EnteredPeriod

from portal.dossiers.deadlines import sent_to_opco_on
from portal.dossiers.tabs.base import as_date, blank, to_decimal

# The collège is completed unless the last class followed was 3e or 4e (codes 41, 42).
_COLLEGE_NOT_COMPLETED = {"41", "42"}
# BTP / paysage NAF divisions where a minor may work 40 h a week.
_BUILDING_NAF_PREFIXES = ("41", "42", "43", "81.30")


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def contract_facts(data: dict[str, Any], dossier) -> ContractFacts:
    formation = getattr(dossier, "formation", None)
    derniere = (data.get("derniere_classe") or "").strip()
    naf = (data.get("naf") or "").strip()
    master2 = {key: data.get(f"maitre_2_{key}") for key in MASTER2_FIELDS}
    periods = [EnteredPeriod(percent=to_decimal(row.get("percent")),
                             monthly_amount=to_decimal(row.get("monthly_amount")),
                             start=as_date(row.get("start")), end=as_date(row.get("end")))
               for row in data.get("remuneration") or ()]
    attestation = data.get("employeur_attestation_maitre")
    return ContractFacts(
        birth_date=as_date(data.get("apprenti_date_naissance")),
        emancipated=bool(data.get("emancipe")),
        college_completed=bool(derniere) and derniere not in _COLLEGE_NOT_COMPLETED,
        rqth=bool(data.get("rqth")),
        high_level_athlete=bool(data.get("sportif_haut_niveau")),
        business_project=bool(data.get("projet_creation_entreprise")),
        legal_representative_present=not blank(data.get("representant_nom")),
        conclusion=as_date(data.get("date_conclusion")),
        start=as_date(data.get("date_debut_contrat")),
        practical_start=as_date(data.get("date_debut_formation_pratique")),
        cfa_start=as_date(data.get("date_debut_formation_cfa"))
        or (formation.date_debut if formation is not None else None),
        end=as_date(data.get("date_fin_contrat")),
        exams_end=formation.date_fin_examens if formation is not None else None,
        training_hours=formation.heures_total if formation is not None else None,
        weekly_hours=_int(data.get("duree_hebdo_heures")),
        weekly_minutes=_int(data.get("duree_hebdo_minutes")),
        minor_building_sector=naf.startswith(_BUILDING_NAF_PREFIXES),
        derogation=data.get("type_derogation") or None,
        contract_type=data.get("type_contrat") or None,
        previous_contract_number=data.get("numero_contrat_precedent") or None,
        amendment_effective=as_date(data.get("date_effet_avenant")),
        master1_birth=as_date(data.get("maitre_1_date_naissance")),
        master2=master2,
        master_apprentice_count=data.get("_maitre_1_apprentis"),
        employer_attests_master_eligibility=(None if attestation is None else bool(attestation)),
        remuneration=periods if data.get("remuneration") else None,
        smc_monthly=to_decimal(data.get("salaire_minimum_conventionnel")),
        mayotte=(data.get("employeur_code_postal") or "").startswith("976"),
        qualified_level4=bool(data.get("qualifie_niveau_4")),
        today=date.today(),
        sent_to_opco=sent_to_opco_on(dossier),
        tutor_experience_years=_int(data.get("maitre_1_annees_experience")),
    )


def minor_on(birth: date | None, day: date | None) -> bool:
    from portal.rules.dates import age_on
    if birth is None:
        return False
    return age_on(birth, day or date.today()) < 18


def needs_legal_representative(data: dict[str, Any]) -> bool:
    """A minor, not emancipated, at the date of conclusion (or of the start, or today)."""
    day = as_date(data.get("date_conclusion")) or as_date(data.get("date_debut_contrat"))
    return minor_on(as_date(data.get("apprenti_date_naissance")), day) and \
        not data.get("emancipe")


def decimal_or_none(value: Any) -> Decimal | None:
    return to_decimal(value)
