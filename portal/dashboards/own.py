"""The parties' dashboard (apprentice, employer): each of their dossiers as a card — its state,
the next action and who must do it (a link to the tab where it is done), its deadlines with
their dates, the OPCO deposit with its date, and their contact at the CFA."""
from __future__ import annotations

from sqlalchemy import select

from portal import policy
from portal.dossiers.deadlines import dossier_deadlines
from portal.dossiers.listing import next_actors_label
from portal.dossiers.workflow import STATES
from portal.extensions import db
from portal.models import Dossier
from portal.rules.formatting import day as fr_day

from . import links
from .queries import scoped

# The tab where a party does what an entry state waits for: the one they fill.
_FILLED_TAB = {"alternant": "alternant", "employeur": "employeur"}
# The states that wait for the parties' data (« Saisie », « Compléter les onglets »,
# « Corriger la saisie »); « Saisie complète » waits for a request, made from Suivi – Info.
_FILLING_STATES = ("initialise", "en_saisie", "a_corriger")


def _next_action(dossier, state, mine: set[str]) -> dict:
    """The next action, whether it is the reader's, and where it is done: the tab they fill
    while the dossier is being entered, Suivi – Info (its buttons) otherwise."""
    yours = bool(mine & set(state.actors))
    tab = "suivi"  # where « Demander la validation » and the other transitions are
    if yours and dossier.state in _FILLING_STATES:
        tab = next((_FILLED_TAB[r] for r in ("alternant", "employeur")
                    if r in mine and r in state.actors), "suivi")
    return {"label": state.next_action, "yours": yours, "who": next_actors_label(dossier.state),
            "url": links.dossier_tab(dossier.id, tab), "none": not state.actors}


def _opco(dossier, deadlines) -> dict | None:
    """« Dépôt à l'OPCO »: when it was declared sent, or the date it is due by."""
    if dossier.envoye_opco_at is not None:
        sent = fr_day(dossier.envoye_opco_at.date())
        return {"sent": True, "late": False, "text": f"Envoyé à l'OPCO le {sent}"}
    for d in deadlines:
        if d.code == "opco":
            verb = "était à faire au plus tard le" if d.late else "à faire au plus tard le"
            return {"sent": False, "late": d.late,
                    "text": f"Dépôt à l'OPCO {verb} {fr_day(d.due)}"}
    return None


def own_dossiers(user, limit: int = 200) -> list[dict]:
    """Apprentice / employer: their dossiers (in their scope), each as its card's data."""
    rows = db.session.scalars(scoped(select(Dossier), user)
                              .order_by(Dossier.state, Dossier.apprenti_nom).limit(limit)).all()
    out = []
    for dossier in rows:
        state = STATES[dossier.state]
        deadlines = dossier_deadlines(dossier)
        mine = policy.roles_on_dossier(user, dossier)
        out.append({
            "dossier": dossier, "state": state, "url": links.dossier_tab(dossier.id),
            "next": _next_action(dossier, state, mine),
            "opco": _opco(dossier, deadlines),
            "deadlines": [{"label": d.label, "due": fr_day(d.due), "late": d.late,
                           "message": d.message} for d in deadlines if d.code != "opco"],
            "contact": dossier.cfa_conseiller,
        })
    return out
