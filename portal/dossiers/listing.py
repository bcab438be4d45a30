"""What the dossier list searches, filters on and offers in its filter menus (issue 15 §3).

Every clause here narrows a query that portal.policy has already scoped (the list's
get_query); the option lists are built from the person's own scope too: the employers,
advisors, trainings and promotions of the dossiers they see, never another owner's names.

- search: one term matches the apprentice (last and first name, e-mail), the employer
  (establishment name, its structure's name, the SIRET on the dossier or the establishment's)
  or the OPCO number of a prise en charge the person may see (portal.policy's filter of
  PriseEnCharge): each as an ``IN (sub-select)``, so a dossier is never listed twice;
- "qui doit agir": the actors of each state are a column of the workflow table
  (portal/dossiers/workflow.py, ``State.actors``).
"""
from __future__ import annotations

import re

from sqlalchemy import Unicode, cast, or_, select
from sqlalchemy.sql.elements import True_

from portal import policy
from portal.dossiers.workflow import STATES
from portal.extensions import db
from portal.models import Dossier, Etablissement, Formation, PriseEnCharge, Structure, User

# The actors of the workflow table, as the list's column and filter name them.
ACTOR_LABELS = {
    "alternant": "Alternant·e",
    "employeur": "Employeur",
    "formation_responsable": "Formation",
    "cfa_conseiller": "CFA",
}
ACTOR_OPTIONS = [(code, label) for code, label in ACTOR_LABELS.items()]

_SPACED_DIGITS = re.compile(r"^[\d\s.]{9,20}$")


def states_awaiting(actor: str) -> tuple[str, ...]:
    """The states in which ``actor`` must act next (the workflow table's ``actors``)."""
    return tuple(code for code, state in STATES.items() if actor in state.actors)


def next_actors_label(state_code: str | None) -> str:
    """« Alternant·e, Employeur », « CFA »… ; « — » once nobody has anything left to do."""
    state = STATES.get(state_code or "")
    if state is None or not state.actors:
        return "—"
    return ", ".join(ACTOR_LABELS.get(actor, actor) for actor in state.actors)


# --- search --------------------------------------------------------------------------------------

def normalise_search(search: str | None) -> str | None:
    """A SIRET or SIREN typed with spaces or dots (« 738 340 850 01141 ») is one term."""
    if search and _SPACED_DIGITS.match(search.strip()):
        digits = re.sub(r"\D", "", search)
        if len(digits) in (9, 14):
            return digits
    return search


def search_clause(pattern: str, user):
    """The dossiers one LIKE ``pattern`` (already escaped) finds, as a filter on Dossier."""
    def like(column):
        return cast(column, Unicode).ilike(pattern)

    employers = select(Etablissement.id).join(
        Structure, Structure.id == Etablissement.structure_id).where(
        or_(like(Etablissement.denomination), like(Etablissement.siret),
            like(Structure.raison_sociale)))
    opco = select(PriseEnCharge.dossier_id).where(
        like(PriseEnCharge.numero_opco), policy.row_filter(PriseEnCharge, user))
    return or_(like(Dossier.apprenti_nom), like(Dossier.apprenti_prenom),
               like(Dossier.apprenti_email), like(Dossier.employeur_siret),
               Dossier.etablissement_id.in_(employers), Dossier.id.in_(opco))


# --- the filter menus' options -------------------------------------------------------------------

def _in_scope(column, user):
    """``column IN (that column of the dossiers the person sees)``; None when they see every
    dossier (CFA staff), so the menu needs no sub-select over the whole table."""
    scope = policy.row_filter(Dossier, user)
    if isinstance(scope, True_):
        return None
    return select(column).where(scope, column.is_not(None))


def formation_rows(user) -> list[tuple[int, str, int]]:
    """(id, title, campaign year) of the trainings the person may see and of those of the
    dossiers they see, newest promotion first."""
    query = db.session.query(Formation.id, Formation.intitule, Formation.annee_campagne)
    of_dossiers = _in_scope(Dossier.formation_id, user)
    if of_dossiers is not None:
        query = query.filter(or_(policy.row_filter(Formation, user),
                                 Formation.id.in_(of_dossiers)))
    return query.order_by(Formation.annee_campagne.desc(), Formation.intitule).all()


def formation_options(rows) -> list[tuple[int, str]]:
    return [(pk, Formation.label_for(title, year)) for pk, title, year in rows]


def promotion_options(rows) -> list[tuple[int, str]]:
    """The promotions (campaign years) of those trainings."""
    years = sorted({year for _, _, year in rows if year is not None}, reverse=True)
    return [(year, str(year)) for year in years]


def employer_options(user) -> list[tuple[int, str]]:
    """The establishments named on the dossiers the person sees."""
    named = select(Dossier.etablissement_id).where(
        policy.row_filter(Dossier, user), Dossier.etablissement_id.is_not(None))
    query = db.session.query(Etablissement.id, Etablissement.denomination,
                             Etablissement.siret).filter(Etablissement.id.in_(named))
    query = query.order_by(Etablissement.denomination, Etablissement.siret)
    return [(pk, f"{name} ({siret})") for pk, name, siret in query]


def advisor_options(user) -> list[tuple[int, str]]:
    """The CFA advisors named on the dossiers the person sees."""
    advisors = select(Dossier.cfa_conseiller_id).where(
        policy.row_filter(Dossier, user), Dossier.cfa_conseiller_id.is_not(None))
    query = db.session.query(User.id, User.first_name, User.last_name).filter(
        User.id.in_(advisors)).order_by(User.last_name, User.first_name)
    return [(pk, f"{(last or '').upper()} {first or ''}".strip()) for pk, first, last in query]
