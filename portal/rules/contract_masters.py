"""Contract checks C12–C13 (RULES.md §3): the maîtres d'apprentissage and the contract
numbers (amendments, new contracts)."""
from __future__ import annotations

from datetime import date
from typing import Any

from . import ERROR, WARNING, Finding
from .contract_facts import (AMENDMENT_TYPES, MASTER2_FIELDS, MASTER_MAX_APPRENTICES,
                             MASTER_MIN_AGE, NEW_CONTRACT_TYPES, ContractFacts, is_code)
from .dates import age_on
from .formatting import day as fr_day
from .identifiers import is_valid_cerfa_contract_number


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def check_masters(f: ContractFacts) -> list[Finding]:
    """C12: maîtres at least 18 at the start; at most 2 apprentices per maître (+1 repeating);
    the 2nd maître is all or nothing; the employer attests the maître's eligibility."""
    findings = []
    if f.master1_birth and f.start and age_on(f.master1_birth, f.start) < MASTER_MIN_AGE:
        findings.append(Finding(ERROR, "maitre_1_date_naissance",
                                "Le maître d'apprentissage doit avoir au moins 18 ans au début "
                                "d'exécution du contrat."))
    master2 = dict(f.master2 or {})
    if any(not _blank(v) for v in master2.values()):
        for key, label in MASTER2_FIELDS.items():
            if _blank(master2.get(key)):
                findings.append(Finding(ERROR, f"maitre_2_{key}",
                                        f"Second maître d'apprentissage : renseignez {label}, "
                                        "ou laissez vide tout le bloc du second maître."))
        birth2 = master2.get("date_naissance")
        if isinstance(birth2, date) and f.start and age_on(birth2, f.start) < MASTER_MIN_AGE:
            findings.append(Finding(ERROR, "maitre_2_date_naissance",
                                    "Le second maître d'apprentissage doit avoir au moins 18 ans "
                                    "au début d'exécution du contrat."))
    if f.master_apprentice_count is not None:
        limit = MASTER_MAX_APPRENTICES + (1 if f.master_repeating_extra else 0)
        if f.master_apprentice_count > limit:
            findings.append(Finding(
                ERROR, "maitre_1_nombre_apprentis",
                f"Le maître d'apprentissage suivrait {f.master_apprentice_count} apprentis : "
                "2 au plus, plus 1 apprenti redoublant après un échec à l'examen."))
    if f.employer_attests_master_eligibility is False:
        findings.append(Finding(ERROR, "employeur_attestation_maitre",
                                "L'employeur doit attester que le maître d'apprentissage "
                                "remplit les conditions pour exercer cette fonction."))
    return findings


def check_contract_numbers(f: ContractFacts) -> list[Finding]:
    """C13: previous contract number required for amendments (31–38), asked for new contracts
    (21–23), format DDDYYYYMMNN0000 (month 01–12); an amendment's effective date lies within
    the contract."""
    findings = []
    number = (f.previous_contract_number or "").strip()
    if is_code(f.contract_type, *AMENDMENT_TYPES) and not number:
        findings.append(Finding(ERROR, "numero_contrat_precedent",
                                f"Pour un avenant (type {f.contract_type.strip()}), le numéro du "
                                "contrat modifié est obligatoire."))
    elif is_code(f.contract_type, *NEW_CONTRACT_TYPES) and not number:
        findings.append(Finding(WARNING, "numero_contrat_precedent",
                                f"Pour un nouveau contrat (type {f.contract_type.strip()}), "
                                "indiquez le numéro du contrat précédent."))
    if number and not is_valid_cerfa_contract_number(number):
        findings.append(Finding(ERROR, "numero_contrat_precedent",
                                "Le numéro du contrat précédent doit suivre le format "
                                "DDDAAAAMMNN0000 (département, année, mois de 01 à 12, "
                                "numéro, par exemple 075202601NC0001)."))
    if is_code(f.contract_type, *AMENDMENT_TYPES):
        if f.amendment_effective is None:
            findings.append(Finding(ERROR, "date_effet_avenant",
                                    "La date d'effet de l'avenant est obligatoire."))
        elif f.start and f.end and not f.start <= f.amendment_effective <= f.end:
            findings.append(Finding(ERROR, "date_effet_avenant",
                                    f"La date d'effet de l'avenant "
                                    f"({fr_day(f.amendment_effective)}) doit être comprise entre "
                                    f"le début ({fr_day(f.start)}) et la fin ({fr_day(f.end)}) "
                                    "du contrat."))
    return findings
