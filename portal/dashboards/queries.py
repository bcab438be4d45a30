"""The dashboards' counts (SPEC §7), each read in the reader's scope: every query goes through
`scoped`, portal.policy's row filter of Dossier for this person. Counts are computed in SQL
(one grouped query per block), never by loading dossiers."""
from __future__ import annotations

from sqlalchemy import func, select

from portal import policy
from portal.dossiers.deadlines import late_clause
from portal.dossiers.workflow import STATES
from portal.extensions import db
from portal.models import Dossier, Formation, Structure, StructureMembership, StructureRequest

from . import links


def scoped(stmt, user):
    return stmt.where(policy.row_filter(Dossier, user))


def count(user, *clauses) -> int:
    stmt = scoped(select(func.count(Dossier.id)), user)
    for clause in clauses:
        stmt = stmt.where(clause)
    return db.session.execute(stmt).scalar_one()


def state_counts(user) -> tuple[list[dict], int]:
    """Dossiers per state in the reader's scope, each non-zero count with its list link."""
    counts = dict(db.session.execute(scoped(select(Dossier.state, func.count()), user)
                                     .group_by(Dossier.state)).all())
    rows = [{"code": code, "label": state.label, "next_action": state.next_action,
             "count": counts.get(code, 0),
             "url": links.dossier_list((links.STATE, code))}
            for code, state in STATES.items()]
    return rows, sum(counts.values())


def formation_progress(user) -> list[dict]:
    """Formation staff: per training and promotion year, counts per state and late dossiers."""
    stmt = scoped(select(Formation.id, Formation.intitule, Formation.annee_campagne,
                         Dossier.state, func.count(Dossier.id))
                  .join(Formation, Formation.id == Dossier.formation_id), user)
    stmt = stmt.group_by(Formation.id, Formation.intitule, Formation.annee_campagne,
                         Dossier.state)
    trainings: dict[int, dict] = {}
    for fid, intitule, year, state, n in db.session.execute(stmt).all():
        block = trainings.setdefault(fid, {"id": fid, "label": Formation.label_for(intitule, year),
                                           "year": year, "counts": {}, "total": 0})
        block["counts"][state] = n
        block["total"] += n
    late = dict(db.session.execute(
        scoped(select(Dossier.formation_id, func.count(Dossier.id)), user)
        .where(late_clause("debut")).group_by(Dossier.formation_id)).all())
    for block in trainings.values():
        block["late"] = late.get(block["id"], 0)
        block["late_url"] = links.dossier_list((links.FORMATION, block["id"]),
                                               (links.DEADLINE, "debut"))
        block["list_url"] = links.dossier_list((links.FORMATION, block["id"]))
        block["states"] = [{"code": code, "label": STATES[code].label,
                            "count": block["counts"].get(code, 0),
                            "url": links.dossier_list((links.FORMATION, block["id"]),
                                                      (links.STATE, code))}
                           for code in STATES]
    return sorted(trainings.values(), key=lambda b: (-b["year"], b["label"]))


def referent_requests(user) -> int:
    """Access requests waiting for this référent's decision (seed 003)."""
    return db.session.execute(
        select(func.count()).select_from(StructureMembership).join(Structure).where(
            Structure.referent_id == user.id,
            StructureMembership.status == StructureMembership.DEMANDE)).scalar_one()


def structure_requests() -> int:
    """Structures asked for and not created yet: the CFA's queue (not per dossier)."""
    return db.session.execute(select(func.count()).select_from(StructureRequest).where(
        StructureRequest.status == StructureRequest.EN_ATTENTE)).scalar_one()
