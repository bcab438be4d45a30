"""What the dossier list searches and who must act next (issue 15 §3); its filter menus are
portal/dossiers/list_menus.py.

Every clause here narrows a query that portal.policy has already scoped (the list's
get_query).

- search: one term matches the apprentice (last and first name, e-mail), the employer
  (establishment name, its structure's name, the SIRET on the dossier or the establishment's)
  or the OPCO number of a prise en charge the person may see (portal.policy's filter of
  PriseEnCharge), accents and case ignored: on the folded search columns (issue 16 §2,
  portal/models/search_columns.py), as an ``IN (sub-select)``, so a dossier is never listed
  twice;
- "qui doit agir": the actors of each state are a column of the workflow table
  (portal/dossiers/workflow.py, ``State.actors``).
"""
from __future__ import annotations

import re

from sqlalchemy import or_, select, union
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import False_

from portal import policy
# Imported for its effect: the search columns this module reads are filled on every write.
from portal.dossiers import search_columns  # noqa: F401
from portal.dossiers.workflow import STATES
from portal.extensions import database_kind
from portal.models import Dossier, Etablissement, PriseEnCharge
from portal.rules.search import search_pattern

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


class SearchSources:
    """On SQLite, for a person who does not see every dossier: each dossier's establishment
    and, when the person's financing follows their dossiers, its prise en charge (one at most
    each), LEFT JOINed once to the searched query under names of their own (a filter's join of
    the same table stays apart). SQLite runs a correlated EXISTS again for every dossier of the
    scope, where a join reads on: an employer's count of 464 dossiers took 0.48 ms with
    EXISTS, 0.44 ms joined (Django admin's joins: 0.44 ms). PostgreSQL plans the EXISTS as
    well as a join."""

    def __init__(self, user):
        self.site = aliased(Etablissement, name="searched_site")
        self.financing = None
        if (not isinstance(policy.row_filter(PriseEnCharge, user), False_)
                and policy.financing_follows_dossiers(user)):
            self.financing = aliased(PriseEnCharge, name="searched_financing")

    def join(self, query):
        query = query.outerjoin(self.site, self.site.id == Dossier.etablissement_id)
        if self.financing is not None:
            query = query.outerjoin(self.financing, self.financing.dossier_id == Dossier.id)
        return query


def search_sources(user) -> SearchSources | None:
    """The joins search_clause's terms read for this person, or None (no join)."""
    if database_kind() != "sqlite" or policy.sees_every_dossier(user):
        return None
    return SearchSources(user)


def search_clause(pattern: str, user, sources: SearchSources | None = None):
    """The dossiers one LIKE ``pattern`` (Flask-Admin's ``%term%``) finds, as a filter on
    Dossier: the term folded as the search columns are (portal.rules.search), matched on the
    dossier's own column, its establishment's and the prise en charge's the person may see.

    For the CFA, who sees every dossier, one ``id IN (… UNION …)``: each branch is served by
    an index (PostgreSQL's trigram indexes; on SQLite the narrow index of the column, scanned
    instead of the table), where an OR of the three would read every dossier row. For anyone
    else (a training's staff, an employer, an apprentice), the three tested on each dossier of
    their scope (an OR, the establishment and the prise en charge by EXISTS): their scope's
    index drives, and their few hundred or thousand dossiers are not searched through the
    whole table's index (2.6 times Django admin's time for a training's manager, 13 times for
    an employer, at 100 000 dossiers). With ``sources`` (search_sources: SQLite), the
    establishment's and the prise en charge's columns are read from their joins."""
    like = search_pattern(pattern)
    employers = select(Etablissement.id).where(Etablissement.recherche.like(like))
    financed = policy.row_filter(PriseEnCharge, user)
    if not policy.sees_every_dossier(user):
        found = [Dossier.recherche.like(like)]
        if sources is not None:
            found.append(sources.site.recherche.like(like))
        else:
            found.append(select(Etablissement.id).where(
                Etablissement.id == Dossier.etablissement_id,
                Etablissement.recherche.like(like)).exists())
        if sources is not None and sources.financing is not None:
            return or_(*found, sources.financing.recherche.like(like))
        # The prise en charge of a dossier in their scope: no filter of its own when the
        # person's financing follows their dossiers (it would rebuild their scope per row);
        # none searched when they see no financing (a training's staff, an apprentice).
        own_financing = [PriseEnCharge.dossier_id == Dossier.id,
                         PriseEnCharge.recherche.like(like)]
        if not policy.financing_follows_dossiers(user):
            own_financing.append(financed)
        if not isinstance(financed, False_):
            found.append(select(PriseEnCharge.id).where(*own_financing).exists())
        return or_(*found)
    matches = union(
        select(Dossier.id).where(Dossier.recherche.like(like)),
        select(Dossier.id).where(Dossier.etablissement_id.in_(employers)),
        select(PriseEnCharge.dossier_id).where(PriseEnCharge.recherche.like(like), financed))
    return Dossier.id.in_(matches)
