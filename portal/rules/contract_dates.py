"""Contract checks C5–C9 and C17 (RULES.md §3): conclusion date, duration, start of the
practical training and of the CFA training, end not too long after the exams (C9) and not
before them (C17)."""
from __future__ import annotations

from datetime import date, timedelta

from . import ERROR, WARNING, Finding
from .contract_facts import (AMENDMENT_TYPES, CFA_START_WINDOW_MONTHS, DEROGATION_CUMULATIVE,
                             DEROGATION_LONGER, EXAMS_ERROR_MONTHS, EXAMS_WARNING_MONTHS,
                             MAX_MONTHS, MAX_MONTHS_EXTENDED, MIN_MONTHS,
                             PRACTICAL_START_MAX_MONTHS, PROLONGATION_MONTHS, PROLONGATION_TYPE,
                             ContractFacts, duration_text, is_code)
from .dates import add_months
from .formatting import day as fr_day


def check_conclusion_date(f: ContractFacts) -> list[Finding]:
    """C5: an initial contract is concluded at the latest on the start of execution."""
    if not (f.conclusion and f.start) or is_code(f.contract_type, *AMENDMENT_TYPES):
        return []
    if f.conclusion <= f.start:
        return []
    return [Finding(ERROR, "date_conclusion",
                    f"La date de conclusion ({fr_day(f.conclusion)}) ne peut pas être "
                    f"postérieure à la date de début d'exécution du contrat "
                    f"({fr_day(f.start)}).")]


def max_duration_months(f: ContractFacts) -> int:
    months = MAX_MONTHS_EXTENDED if (
        f.rqth or is_code(f.derogation, DEROGATION_LONGER, DEROGATION_CUMULATIVE)) else MAX_MONTHS
    if is_code(f.contract_type, PROLONGATION_TYPE):
        months += PROLONGATION_MONTHS
    return months


def duration_findings(start: date, end: date, min_months: int, max_months: int,
                       max_reason: str) -> list[Finding]:
    if end <= start:
        return [Finding(ERROR, "date_fin_contrat",
                        f"La date de fin du contrat ({fr_day(end)}) doit être postérieure à la "
                        f"date de début d'exécution ({fr_day(start)}).")]
    # n months means end ≥ start + n months − 1 day (01/09 → 28/02 is 6 months).
    earliest = add_months(start, min_months) - timedelta(days=1)
    latest = add_months(start, max_months) - timedelta(days=1)
    if end < earliest:
        return [Finding(ERROR, "date_fin_contrat",
                        f"Le contrat dure {duration_text(start, end)} : la durée minimale est "
                        f"de {min_months} mois (fin au plus tôt le {fr_day(earliest)}).")]
    if end > latest:
        return [Finding(ERROR, "date_fin_contrat",
                        f"Le contrat dure {duration_text(start, end)} : la durée maximale est "
                        f"de {max_reason} (fin au plus tard le {fr_day(latest)}).")]
    return []


def check_duration(f: ContractFacts) -> list[Finding]:
    """C6: end after start; from 6 months to 3 years (4 with dérogation 22 or RQTH; + 1 year
    for a prolongation after an exam failure, avenant 33)."""
    if not (f.start and f.end):
        return []
    months = max_duration_months(f)
    years = months // 12
    reason = f"{years} ans"
    if months != MAX_MONTHS:
        causes = []
        if f.rqth or is_code(f.derogation, DEROGATION_LONGER, DEROGATION_CUMULATIVE):
            causes.append("allongement (dérogation 22 ou travailleur handicapé)")
        if is_code(f.contract_type, PROLONGATION_TYPE):
            causes.append("prolongation d'un an après échec à l'examen")
        reason += " compte tenu de " + " et ".join(causes)
    return duration_findings(f.start, f.end, MIN_MONTHS, months, reason)


def check_practical_start(f: ContractFacts) -> list[Finding]:
    """C7: practical training at the employer starts within [start, start + 3 months], and
    not after the end of the contract."""
    if not (f.practical_start and f.start):
        return []
    field_ = "date_debut_formation_pratique"
    latest = add_months(f.start, PRACTICAL_START_MAX_MONTHS)
    if f.practical_start < f.start:
        return [Finding(ERROR, field_,
                        f"La formation pratique chez l'employeur ne peut pas commencer "
                        f"({fr_day(f.practical_start)}) avant le début d'exécution du contrat "
                        f"({fr_day(f.start)}).")]
    if f.practical_start > latest:
        return [Finding(ERROR, field_,
                        f"La formation pratique chez l'employeur doit commencer au plus tard "
                        f"3 mois après le début d'exécution du contrat, soit le "
                        f"{fr_day(latest)} (date saisie : {fr_day(f.practical_start)}).")]
    if f.end and f.practical_start > f.end:
        return [Finding(ERROR, field_,
                        f"La formation pratique chez l'employeur ({fr_day(f.practical_start)}) "
                        f"ne peut pas commencer après la fin du contrat ({fr_day(f.end)}).")]
    return []


def check_cfa_start(f: ContractFacts) -> list[Finding]:
    """C8: CFA training starts within [start − 3 months, start + 3 months]."""
    if not (f.cfa_start and f.start):
        return []
    earliest = add_months(f.start, -CFA_START_WINDOW_MONTHS)
    latest = add_months(f.start, CFA_START_WINDOW_MONTHS)
    if earliest <= f.cfa_start <= latest:
        return []
    when = "avant" if f.cfa_start < earliest else "après"
    return [Finding(ERROR, "date_debut_formation_cfa",
                    f"La formation au CFA ({fr_day(f.cfa_start)}) commence plus de 3 mois {when} "
                    f"le début d'exécution du contrat ({fr_day(f.start)}) : elle doit commencer "
                    f"entre le {fr_day(earliest)} et le {fr_day(latest)}.")]


def check_end_after_exams(f: ContractFacts) -> list[Finding]:
    """C9: the contract ends at the latest 2 months after the end of the exams (warning
    beyond, error beyond 3 months)."""
    if not (f.end and f.exams_end):
        return []
    warning_limit = add_months(f.exams_end, EXAMS_WARNING_MONTHS)
    error_limit = add_months(f.exams_end, EXAMS_ERROR_MONTHS)
    if f.end > error_limit:
        return [Finding(ERROR, "date_fin_contrat",
                        f"Le contrat se termine ({fr_day(f.end)}) plus de 3 mois après la fin "
                        f"prévue des épreuves ({fr_day(f.exams_end)}) : il doit se terminer au "
                        f"plus tard le {fr_day(warning_limit)}.")]
    if f.end > warning_limit:
        return [Finding(WARNING, "date_fin_contrat",
                        f"Le contrat se termine ({fr_day(f.end)}) plus de 2 mois après la fin "
                        f"prévue des épreuves ({fr_day(f.exams_end)}) : la fin devrait être au "
                        f"plus tard le {fr_day(warning_limit)}.")]
    return []


def check_end_not_before_exams(f: ContractFacts) -> list[Finding]:
    """C17: the contract covers the training cycle (L6222-7-1), so it does not end before the
    planned end of the exams (ending on that very day is fine)."""
    if not (f.end and f.exams_end) or f.end >= f.exams_end:
        return []
    return [Finding(WARNING, "date_fin_contrat",
                    f"Le contrat se termine ({fr_day(f.end)}) avant la fin prévue des épreuves "
                    f"({fr_day(f.exams_end)}) : il doit couvrir tout le cycle de formation, "
                    f"examens compris (article L6222-7-1 du Code du travail) ; la fin devrait "
                    f"être au plus tôt le {fr_day(f.exams_end)}.")]
