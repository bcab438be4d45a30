"""A dossier's deadlines (SPEC §3, §7; RULES C15, C16), for Suivi – Info, the dashboards and
the daily reminders. Dates come from portal.rules (working days, trial period)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .rules.contract import opco_deadline, trial_period_end
from .rules.formatting import day as fr_day

VALIDATED = ("valide_formation", "economie_validee", "documents_retournes", "documents_valides",
             "envoye_opco")
CLOSED = ("annule", "rompu")


@dataclass(frozen=True)
class Deadline:
    code: str          # opco, essai, debut_sans_validation
    label: str
    due: date | None
    late: bool
    message: str
    actors: tuple[str, ...]   # roles who must act


def dossier_deadlines(dossier, today: date | None = None) -> list[Deadline]:
    today = today or date.today()
    out: list[Deadline] = []
    if dossier.state in CLOSED:
        return out
    start = dossier.date_debut_contrat
    if start is None:
        return out
    if dossier.state != "envoye_opco":
        due = opco_deadline(start)
        late = today > due
        out.append(Deadline(
            "opco", "Dépôt à l'OPCO", due, late,
            (f"Le contrat devait être transmis à l'OPCO au plus tard le {fr_day(due)}."
             if late else f"À transmettre à l'OPCO au plus tard le {fr_day(due)} (5 jours "
                          "ouvrables après le début d'exécution)."),
            ("employeur", "cfa_conseiller")))
    contrat = dossier.contrat
    practical = (contrat.date_debut_formation_pratique if contrat is not None else None) or start
    trial_end = trial_period_end(practical)
    if today <= trial_end:
        out.append(Deadline("essai", "Fin de la période d'essai", trial_end, False,
                            f"La période d'essai (45 jours de formation pratique chez "
                            f"l'employeur) se termine au plus tôt le {fr_day(trial_end)}.",
                            ("employeur",)))
    if start <= today and dossier.state not in VALIDATED:
        out.append(Deadline("debut_sans_validation", "Contrat commencé sans dossier validé",
                            start, True,
                            f"Le contrat a commencé le {fr_day(start)} alors que le dossier "
                            "n'est pas encore validé.",
                            ("formation_responsable", "alternant", "employeur")))
    return out
