"""The CFA's queues (SPEC §7): what waits for them, who must act on the open dossiers, and the
OPCO deposits due week by week. Every count is read in the reader's scope (queries.count) and
comes with the dossier list's URL that shows exactly those dossiers."""
from __future__ import annotations

from datetime import date, timedelta

from flask import url_for

from portal.dossiers.deadlines import due_clause, late_clause, starts_due_within
from portal.dossiers.listing import ACTOR_LABELS, states_awaiting
from portal.models import Dossier
from portal.rules.formatting import day as fr_day

from . import links
from .queries import count, structure_requests

WEEKS_AHEAD = 8


def cfa_queues(user, today: date | None = None) -> list[dict]:
    """The CFA's cards: each count with the filtered list's URL; `alert` when something is late."""
    today = today or date.today()
    week_end = today + timedelta(days=6 - today.weekday())
    queues = [
        ("Éléments économiques à valider", (links.STATE, "valide_formation"),
         count(user, Dossier.state == "valide_formation"), False),
        ("Documents signés à vérifier", (links.STATE, "documents_retournes"),
         count(user, Dossier.state == "documents_retournes"), False),
        ("Dépôts à l'OPCO à faire aujourd'hui", (links.DEADLINE, "opco_jour"),
         count(user, due_clause(today, today)), False),
        ("Dépôts à l'OPCO à faire cette semaine", (links.DEADLINE, "opco_semaine"),
         count(user, due_clause(today, week_end)), False),
        ("Dépôts à l'OPCO en retard", (links.DEADLINE, "opco"),
         count(user, late_clause("opco", today)), True),
        ("Contrats commencés sans dossier validé", (links.DEADLINE, "debut"),
         count(user, late_clause("debut", today)), True),
    ]
    out = [{"label": label, "url": links.dossier_list(flt), "count": n, "alert": alert and n > 0}
           for label, flt, n, alert in queues]
    out.append({"label": "Structures demandées à créer", "alert": False,
                "url": url_for("structure_requests.index"), "count": structure_requests()})
    return out


def who_must_act(user) -> list[dict]:
    """Open dossiers by the actor the workflow waits for (a state may wait for two: the
    apprentice and the employer both fill their tabs), as the list's « Qui doit agir »."""
    return [{"code": actor, "label": label,
             "count": count(user, Dossier.state.in_(states_awaiting(actor))),
             "url": links.dossier_list((links.NEXT_ACTOR, actor))}
            for actor, label in ACTOR_LABELS.items()]


def opco_deposits_by_week(user, today: date | None = None,
                          weeks: int = WEEKS_AHEAD) -> list[dict]:
    """The OPCO deposits still to make: those already late, then week by week (Monday to
    Sunday) from this week on. Each bucket links to the list: late ones through « Échéance »,
    a week through the starts whose deadline falls in it and « Dépôt à l'OPCO à faire »."""
    today = today or date.today()
    out = [{"label": "En retard", "short": "En retard", "late": True,
            "count": count(user, late_clause("opco", today)),
            "url": links.dossier_list((links.DEADLINE, "opco"))}]
    monday = today - timedelta(days=today.weekday())
    for week in range(weeks):
        first = monday + timedelta(weeks=week)
        last = first + timedelta(days=6)
        # This week's bucket starts today: what was due earlier in the week is late.
        first_due = max(first, today)
        lo, hi = starts_due_within(first_due, last)
        out.append({"label": f"Semaine du {fr_day(first)}", "short": first.strftime("%d/%m"),
                    "late": False,
                    "count": count(user, due_clause(first_due, last)),
                    "url": links.dossier_list(
                        (links.START, f"{lo.isoformat()} to {hi.isoformat()}"),
                        (links.DEADLINE, "opco_a_faire"))})
    return out
