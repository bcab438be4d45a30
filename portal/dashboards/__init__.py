"""What each person lands on (SPEC §7): the data of each role's dashboard, in their scope.

- queries.py: the scoped counts (states, the trainings' progress, access requests);
- queues.py: the CFA's queues, « qui doit agir », the OPCO deposits by week;
- own.py: the parties' dossier cards;
- charts.py: the charts' data for portal/static/js/charts.js;
- links.py: the filtered dossier list's URLs, found by the filters' names.
"""
from __future__ import annotations

from portal import policy
from portal.models import FORMATION_GESTIONNAIRE, FORMATION_RESPONSABLE

from . import charts, links
from .own import own_dossiers
from .queries import formation_progress, referent_requests, state_counts
from .queues import cfa_queues, opco_deposits_by_week, who_must_act

__all__ = ["dashboard"]


def gestionnaire_only(user) -> bool:
    """A training's gestionnaire who is not also a manager: told what they may do (SPEC §1)."""
    return user.has_role(FORMATION_GESTIONNAIRE) and not user.has_role(FORMATION_RESPONSABLE)


def dashboard(user) -> dict:
    sections = policy.dashboard_sections(user)
    data: dict = {"sections": sections}
    staff = "cfa" in sections or "formation" in sections
    if staff:
        rows, total = state_counts(user)
        data.update(rows=rows, total=total, states_chart=charts.states_chart(rows))
        weeks = opco_deposits_by_week(user)
        data.update(weeks=weeks, deadlines_chart=charts.deadlines_chart(weeks))
    if "cfa" in sections:
        data["queues"] = cfa_queues(user)
        actors = who_must_act(user)
        data.update(actors=actors, actors_chart=charts.actors_chart(actors))
    if "formation" in sections:
        trainings = formation_progress(user)
        data.update(trainings=trainings,
                    promotions_chart=charts.promotions_chart(trainings) if trainings else None)
        if gestionnaire_only(user):
            data["gestionnaire"] = gestionnaire_rights(user)
    if "own" in sections:
        data["own"] = own_dossiers(user)
    if "referent" in sections:
        data["referent_requests"] = referent_requests(user)
        sections.remove("referent")
    return data


def gestionnaire_rights(user) -> dict:
    """What a gestionnaire may do on the trainings they help manage, with where to do it."""
    from flask import url_for
    from sqlalchemy import select

    from portal.extensions import db
    from portal.models import Formation
    trainings = db.session.scalars(select(Formation).where(policy.row_filter(Formation, user))
                                   .order_by(Formation.annee_campagne.desc(),
                                             Formation.intitule)).all()
    return {"trainings": [{"label": Formation.label_for(f.intitule, f.annee_campagne),
                           "list_url": links.dossier_list((links.FORMATION, f.id)),
                           "import_url": url_for("formation.import_view", formation_id=f.id)}
                          for f in trainings if policy.may_import(user, f)],
            "create_url": url_for("dossier.create_view")}

