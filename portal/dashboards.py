"""What each person lands on (SPEC §7): the data of each role's dashboard, in their scope.
Counts are computed in SQL (one grouped query per block), never by loading dossiers."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from . import policy
from portal.dossiers.deadlines import due_clause, dossier_deadlines, late_clause
from .extensions import db
from .models import (Dossier, Formation, Structure,
                     StructureMembership, StructureRequest)
from portal.dossiers.workflow import STATES


def _scoped(stmt, user):
    return stmt.where(policy.row_filter(Dossier, user))


def _count(user, *clauses) -> int:
    stmt = _scoped(select(func.count(Dossier.id)), user)
    for clause in clauses:
        stmt = stmt.where(clause)
    return db.session.execute(stmt).scalar_one()


def own_dossiers(user, limit: int = 200) -> list[dict]:
    """Apprentice / employer: their dossiers with state, next action, who acts, deadlines."""
    from portal.dossiers.tabs.suivi import ACTOR_LABELS
    rows = db.session.scalars(_scoped(select(Dossier), user)
                              .order_by(Dossier.state, Dossier.apprenti_nom).limit(limit)).all()
    out = []
    for dossier in rows:
        state = STATES.get(dossier.state)
        out.append({"dossier": dossier, "state": state,
                     "who": ", ".join(ACTOR_LABELS.get(a, a) for a in state.actors)
                     if state else "",
                     "deadlines": [d for d in dossier_deadlines(dossier) if d.late]})
    return out


def formation_progress(user) -> list[dict]:
    """Formation staff: per training and promotion year, counts per state and late dossiers."""
    stmt = _scoped(select(Formation.id, Formation.intitule, Formation.annee_campagne,
                          Dossier.state, func.count(Dossier.id))
                   .join(Formation, Formation.id == Dossier.formation_id), user)
    stmt = stmt.group_by(Formation.id, Formation.intitule, Formation.annee_campagne,
                         Dossier.state)
    trainings: dict[int, dict] = {}
    for fid, intitule, year, state, count in db.session.execute(stmt).all():
        block = trainings.setdefault(fid, {"id": fid, "label": Formation.label_for(intitule, year),
                                           "year": year, "counts": {}, "total": 0})
        block["counts"][state] = count
        block["total"] += count
    late = dict(db.session.execute(
        _scoped(select(Dossier.formation_id, func.count(Dossier.id)), user)
        .where(late_clause("debut")).group_by(Dossier.formation_id)).all())
    for block in trainings.values():
        block["late"] = late.get(block["id"], 0)
        # Progress along the main path: share of dossiers at or beyond each step.
        total = block["total"] or 1
        block["bars"] = [(code, STATES[code].label, block["counts"].get(code, 0),
                          round(100 * block["counts"].get(code, 0) / total, 1))
                         for code in STATES]
    return sorted(trainings.values(), key=lambda b: (-b["year"], b["label"]))


def cfa_queues(user, today: date | None = None) -> list[dict]:
    """CFA: what waits for them, each with its count and the filtered list's arguments."""
    today = today or date.today()
    week_end = today + timedelta(days=6 - today.weekday())
    queues = [
        ("Éléments économiques à valider", {"flt0_0": "valide_formation"},
         _count(user, Dossier.state == "valide_formation")),
        ("Documents signés à vérifier", {"flt0_0": "documents_retournes"},
         _count(user, Dossier.state == "documents_retournes")),
        ("Dépôts à l'OPCO à faire aujourd'hui", {"flt0_5": "opco_jour"},
         _count(user, due_clause(today, today))),
        ("Dépôts à l'OPCO à faire cette semaine", {"flt0_5": "opco_semaine"},
         _count(user, due_clause(today, week_end))),
        ("Dépôts à l'OPCO en retard", {"flt0_5": "opco"}, _count(user, late_clause("opco", today))),
        ("Contrats commencés sans dossier validé", {"flt0_5": "debut"},
         _count(user, late_clause("debut", today))),
    ]
    out = [{"label": label, "args": args, "count": count, "endpoint": "dossier.index_view"}
           for label, args, count in queues]
    out.append({"label": "Structures demandées à créer", "args": {},
                "endpoint": "structure_requests.index",
                "count": db.session.execute(select(func.count()).select_from(StructureRequest)
                                            .where(StructureRequest.status ==
                                                   StructureRequest.EN_ATTENTE)).scalar_one()})
    return out


def referent_requests(user) -> int:
    """Access requests waiting for this référent's decision (seed 003)."""
    return db.session.execute(
        select(func.count()).select_from(StructureMembership).join(Structure).where(
            Structure.referent_id == user.id,
            StructureMembership.status == StructureMembership.DEMANDE)).scalar_one()


def state_counts(user) -> tuple[list[tuple], int]:
    counts = dict(db.session.execute(_scoped(select(Dossier.state, func.count()), user)
                                     .group_by(Dossier.state)).all())
    rows = [(code, state.label, state.next_action, counts.get(code, 0))
            for code, state in STATES.items()]
    return rows, sum(counts.values())


def dashboard(user) -> dict:
    rows, total = state_counts(user)
    sections = policy.dashboard_sections(user)
    data = {"rows": rows, "total": total, "sections": sections}
    if "cfa" in sections:
        data["queues"] = cfa_queues(user)
    if "formation" in sections:
        data["trainings"] = formation_progress(user)
    if "own" in sections:
        data["own"] = own_dossiers(user)
    if "referent" in sections:
        data["referent_requests"] = referent_requests(user)
        sections.remove("referent")
    return data
