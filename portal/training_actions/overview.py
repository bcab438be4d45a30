"""What the training-action screens show (SPEC §6), read in the person's scope: the places left
in each session, the sessions of an action with the person's own request, the steps a person
may take on a request now, the organiser's selection of a session, the lists' filter options,
the home dashboard's block. Reads only: every change is portal/training_actions/service.py's."""
from __future__ import annotations

from collections import defaultdict
from datetime import date, time
from decimal import Decimal

from sqlalchemy import func, select

from portal import policy
from portal.extensions import db
from portal.models import (CFA_ROLES, EMPLOYEUR, ActionFormation, Inscription,
                           SessionFormation, Structure, User, UserRole)
from portal.training_actions import service
from portal.training_actions.limits import limits
from portal.training_actions.states import steps_from

# A place is held by a retained person: the same count as the guard "place" (guards.py).
HOLDS_A_PLACE = ("retenue",)


def places_label(capacity: int, retained: int) -> str:
    """« 3 places restantes sur 12 », « 1 place restante sur 12 », « complète »."""
    left = max(0, (capacity or 0) - retained)
    if left == 0:
        return "complète"
    return f"{left} place{'s' if left > 1 else ''} restante{'s' if left > 1 else ''} " \
           f"sur {capacity}"


def hours_label(start: time | None, end: time | None) -> str:
    """« de 9 h 00 à 17 h 30 » (empty when the session has no times)."""
    def fr(value: time) -> str:
        return f"{value.hour} h {value.minute:02d}"
    if start and end:
        return f"de {fr(start)} à {fr(end)}"
    return f"à partir de {fr(start)}" if start else ""


def duration_label(hours) -> str:
    """Decimal('14.00') → « 14 h », Decimal('3.5') → « 3,5 h »."""
    if hours is None:
        return ""
    value = Decimal(hours)
    text = str(int(value)) if value == value.to_integral_value() \
        else format(value.normalize(), "f").replace(".", ",")
    return f"{text} h"


def retained_counts(session_ids) -> dict[int, int]:
    ids = list(session_ids)
    if not ids:
        return {}
    return dict(db.session.execute(
        select(Inscription.session_id, func.count(Inscription.id))
        .where(Inscription.session_id.in_(ids), Inscription.state.in_(HOLDS_A_PLACE))
        .group_by(Inscription.session_id)).all())


def next_sessions(action_ids, user, *, today: date | None = None, per_action: int = 3
                  ) -> dict[int, list[dict]]:
    """For the catalogue's list: each action's next sessions (not cancelled, not started) with
    the places left, in one query for the page."""
    today = today or date.today()
    ids = list(action_ids)
    if not ids:
        return {}
    sessions = db.session.scalars(
        select(SessionFormation).where(SessionFormation.action_id.in_(ids),
                                       SessionFormation.annulee.is_(False),
                                       SessionFormation.date_debut >= today,
                                       policy.row_filter(SessionFormation, user))
        .order_by(SessionFormation.date_debut, SessionFormation.id)).all()
    retained = retained_counts(s.id for s in sessions)
    out: dict[int, list[dict]] = defaultdict(list)
    for session in sessions:
        if len(out[session.action_id]) < per_action:
            out[session.action_id].append({
                "session": session,
                "places": places_label(session.capacite, retained.get(session.id, 0))})
    return dict(out)


def beneficiary_structures(user) -> list[Structure]:
    """The structures for which this person may request a session for themselves."""
    if not user.has_role(EMPLOYEUR):
        return []
    ids = policy.beneficiary_structure_ids(user).subquery()
    return db.session.scalars(select(Structure).where(Structure.id.in_(select(ids.c[0])))
                              .order_by(Structure.raison_sociale)).all()


def closed_reason(session: SessionFormation, today: date) -> str | None:
    """Why the request form is not offered for this session (the service has the last word)."""
    if session.annulee:
        return "Session annulée."
    if today >= session.date_debut:
        return "La session a commencé : les demandes sont closes."
    if session.date_limite_inscription and today > session.date_limite_inscription:
        return f"Inscriptions closes depuis le {session.date_limite_inscription:%d/%m/%Y}."
    return None


def action_sessions(action, user, *, today: date | None = None) -> list[dict]:
    """The action's sessions the person sees, with places left and their own request."""
    today = today or date.today()
    sessions = db.session.scalars(
        select(SessionFormation).where(SessionFormation.action_id == action.id,
                                       policy.row_filter(SessionFormation, user))
        .order_by(SessionFormation.date_debut, SessionFormation.id)).all()
    retained = retained_counts(s.id for s in sessions)
    mine = {row.session_id: row for row in db.session.scalars(
        select(Inscription).where(Inscription.user_id == user.id,
                                  Inscription.session_id.in_([s.id for s in sessions])))}
    return [{"session": s, "places": places_label(s.capacite, retained.get(s.id, 0)),
             "hours": hours_label(s.heure_debut, s.heure_fin), "mine": mine.get(s.id),
             "closed": closed_reason(s, today)} for s in sessions]


def steps_for(inscription, user, *, today: date | None = None) -> list[dict]:
    """The steps of the table from the request's state that this person holds the role for,
    each with its refusal (None: the form is offered; else the reason it is not, now)."""
    out = []
    for step in steps_from(inscription.state):
        if policy.step_refusal(user, inscription, step) is not None:
            continue
        out.append({"step": step, "refusal": service.refusal(step.code, inscription, user,
                                                             today=today)})
    return out


SELECTION_GROUPS = (
    ("acceptee_employeur", "Acceptées par l'employeur, à sélectionner"),
    ("liste_attente", "Liste d'attente"),
    ("retenue", "Retenues"),
)


def selection(session, user, *, today: date | None = None) -> dict:
    """The organiser's screen of a session: requests accepted by their employer and the
    waiting list (in its order) with their motivations, the retained ones, the counts per
    structure, the session's capacity and the structure quota (SPEC §6)."""
    rows = db.session.scalars(
        select(Inscription).where(Inscription.session_id == session.id,
                                  policy.row_filter(Inscription, user))
        .order_by(Inscription.waiting_rank.is_(None), Inscription.waiting_rank,
                  Inscription.created_at, Inscription.id)).all()
    groups = {code: [] for code, _ in SELECTION_GROUPS}
    others, per_structure = [], {}
    for row in rows:
        entry = {"inscription": row, "steps": steps_for(row, user, today=today)}
        (groups[row.state] if row.state in groups else others).append(entry)
        counts = per_structure.setdefault(row.structure_id, {
            "structure": row.structure, "retenue": 0, "acceptee_employeur": 0,
            "liste_attente": 0, "total": 0})
        counts["total"] += 1
        if row.state in counts:
            counts[row.state] += 1
    retained = len(groups["retenue"])
    return {"groups": [(code, label, groups[code]) for code, label in SELECTION_GROUPS],
            "others": others, "retained": retained, "capacity": session.capacite,
            "places": places_label(session.capacite, retained),
            "quota": limits()["max_par_structure_par_session"],
            "per_structure": sorted(per_structure.values(),
                                    key=lambda c: c["structure"].raison_sociale)}


# --- the lists' filter options: what the person's visible requests refer to ----------------------

def _visible_requests(user):
    return select(Inscription.id).where(policy.row_filter(Inscription, user))


def action_options(user):
    ids = select(SessionFormation.action_id).join(Inscription).where(
        Inscription.id.in_(_visible_requests(user)))
    return db.session.execute(select(ActionFormation.id, ActionFormation.intitule)
                              .where(ActionFormation.id.in_(ids))
                              .order_by(ActionFormation.intitule)).all()


def catalogue_options(user):
    return db.session.execute(select(ActionFormation.id, ActionFormation.intitule)
                              .where(policy.row_filter(ActionFormation, user))
                              .order_by(ActionFormation.intitule)).all()


def session_options(user):
    ids = select(Inscription.session_id).where(Inscription.id.in_(_visible_requests(user)))
    sessions = db.session.scalars(select(SessionFormation).where(SessionFormation.id.in_(ids))
                                  .order_by(SessionFormation.date_debut.desc())).all()
    return [(s.id, str(s)) for s in sessions]


def structure_options(user):
    ids = select(Inscription.structure_id).where(Inscription.id.in_(_visible_requests(user)))
    return db.session.execute(select(Structure.id, Structure.raison_sociale)
                              .where(Structure.id.in_(ids))
                              .order_by(Structure.raison_sociale)).all()


def organisers(user):
    """Who may organise a session: active CFA staff, within the person's scope of users."""
    query = User.query.join(UserRole).filter(UserRole.role.in_(tuple(CFA_ROLES)),
                                             User.active.is_(True))
    return policy.scoped(query, User, user).order_by(User.last_name).distinct()


# --- the home dashboard's block ----------------------------------------------------------------

def _count(*clauses) -> int:
    stmt = select(func.count(Inscription.id))
    for clause in clauses:
        stmt = stmt.where(clause)
    return db.session.execute(stmt).scalar_one()


def dashboard(user, *, limit: int = 10) -> dict | None:
    """What waits for this person among the training actions; None when they have no part.

    - deciders (référent, employer right): their structures' requests to accept or refuse;
    - CFA staff: requests accepted by their employer and not yet selected, per session;
    - beneficiaries: their own requests and their states."""
    if not user.is_authenticated or not user.has_role(*CFA_ROLES, EMPLOYEUR):
        return None
    block = {}
    if user.has_role(*CFA_ROLES):
        stmt = (select(SessionFormation, func.count(Inscription.id))
                .join(Inscription, Inscription.session_id == SessionFormation.id)
                .where(Inscription.state == "acceptee_employeur")
                .group_by(SessionFormation.id).order_by(SessionFormation.date_debut).limit(limit))
        block["to_select"] = [{"session": s, "count": n} for s, n in db.session.execute(stmt)]
        block["to_select_total"] = _count(Inscription.state == "acceptee_employeur")
    if user.has_role(EMPLOYEUR):
        decided = policy.decider_structure_ids(user).subquery()
        ids = db.session.scalars(select(decided.c[0])).all()
        if ids:
            block["to_decide"] = _count(Inscription.state == "demandee",
                                        Inscription.structure_id.in_(ids))
            block["decider_structures"] = ids
        block["mine"] = db.session.scalars(
            select(Inscription).join(SessionFormation)
            .where(Inscription.user_id == user.id)
            .order_by(SessionFormation.date_debut.desc(), Inscription.id.desc())
            .limit(limit)).all()
    return block
