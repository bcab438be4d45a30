"""A dossier's deadlines (SPEC §3, §7; RULES C15, C16), for Suivi – Info, the dashboards and
the daily reminders. Dates come from portal.rules (working days, trial period)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from portal.rules.contract import opco_deadline, trial_period_end
from portal.rules.formatting import day as fr_day

from portal.dossiers.workflow import FINAL_STATES as CLOSED
from portal.dossiers.workflow import states_where

VALIDATED = states_where(validated=True)
OPCO_SENT = states_where(opco_sent=True)


@dataclass(frozen=True)
class Deadline:
    code: str          # opco, essai, debut_sans_validation
    label: str
    due: date | None
    late: bool
    message: str
    actors: tuple[str, ...]   # roles who must act


def sent_to_opco_on(dossier) -> date | None:
    """The day the contract was deposited at the OPCO (the prise en charge's deposit date, as
    declared), else the day the sending was declared; None when it never was."""
    pec = getattr(dossier, "prise_en_charge", None) if dossier is not None else None
    if pec is not None and pec.date_depot:
        return pec.date_depot
    stamp = getattr(dossier, "envoye_opco_at", None)
    return stamp.date() if stamp else None


def opco_deadline_applies(dossier) -> bool:
    """The deposit deadline (C15) runs while the dossier lives and its contract has not been
    sent: not in a final state (Annulé, Rupture), not in a state where the table says it was
    sent, not sent before an unlock sent it back for correction."""
    if dossier is None or dossier.state in CLOSED or dossier.state in OPCO_SENT:
        return False
    return sent_to_opco_on(dossier) is None


def dossier_deadlines(dossier, today: date | None = None) -> list[Deadline]:
    """The deadlines the dossier's state leaves open: nothing once closed, no OPCO deadline once
    sent, no "started without validation" once validated; none of them late once done."""
    today = today or date.today()
    out: list[Deadline] = []
    if dossier.state in CLOSED:
        return out
    start = dossier.date_debut_contrat
    if start is None:
        return out
    if opco_deadline_applies(dossier):
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


# --- the same deadlines as SQL filters (lists, dashboards) ---------------------------------------

def last_start_late_for_opco(today: date) -> date:
    """The latest start date whose OPCO deadline is already passed on `today` (the deadline
    grows with the start date, so every earlier start is late too)."""
    day = today
    while opco_deadline(day) >= today:
        day -= timedelta(days=1)
    return day


def late_clause(code: str, today: date | None = None):
    """SQL filter on Dossier for the late dossiers of one kind: "opco" (not sent to the OPCO
    within 5 working days of the start) or "debut" (started, not validated)."""
    from sqlalchemy import and_, false

    from portal.models import Dossier
    today = today or date.today()
    if code == "opco":
        return and_(Dossier.state.notin_(CLOSED + OPCO_SENT), Dossier.envoye_opco_at.is_(None),
                    Dossier.date_debut_contrat <= last_start_late_for_opco(today))
    if code == "debut":
        return and_(Dossier.state.notin_(CLOSED + VALIDATED),
                    Dossier.date_debut_contrat <= today)
    return false()


def starts_due_within(first: date, last: date) -> tuple[date, date]:
    """The contract starts whose OPCO deadline falls within [first, last]: deadlines grow with
    the start date, so they form one interval [lo, hi]."""
    lo = first - timedelta(days=20)
    while opco_deadline(lo) < first:
        lo += timedelta(days=1)
    hi = last
    while opco_deadline(hi) > last:
        hi -= timedelta(days=1)
    return lo, hi


def due_clause(first: date, last: date):
    """Dossiers not yet sent whose OPCO deadline falls within [first, last]."""
    from sqlalchemy import and_

    from portal.models import Dossier
    lo, hi = starts_due_within(first, last)
    return and_(Dossier.state.notin_(CLOSED + OPCO_SENT), Dossier.envoye_opco_at.is_(None),
                Dossier.date_debut_contrat.between(lo, hi))
