"""Attendance at a training-action session, per half-day (the émargement, SPEC §6): the CFA
notes who was there, then closes the session, which moves each retained request to
"présente" or "absente" through the request's table (portal/training_actions/states.py).

The attendance is what the attestation certifies (Code du travail, art. L6353-1: the duration
of the action actually followed); the half-days and the outcome are pure rules
(portal.rules.training_actions). Each write is one transaction with its history entries."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from portal import policy
from portal.extensions import db
from portal.models import CFA_ROLES, Inscription, Presence, SessionFormation, User
from portal.models.enrolments import HALF_DAYS
from portal.models.people import utcnow
from portal.rules.formatting import day as fr_day
from portal.rules.training_actions import attendance_outcome, half_days
from portal.training_actions import service
from portal.training_actions.service import RequestRefused, _commit, _history
from portal.training_actions.states import CFA, state_label

# The requests of a session that had a place: retained, then present or absent.
RETAINED = ("retenue", "presente", "absente")
# Marks are noted until the close: then the state (and the attestation) certify them.
OPEN_FOR_MARKS = ("retenue",)
# Still waiting for the organiser's choice when the session is over (closed at the close).
UNSELECTED = ("acceptee_employeur", "liste_attente")
WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
CFA_ONLY = "Seule l'équipe du CFA organise les sessions de formation."


def require_cfa(by, inscription: Inscription | None = None) -> None:
    """CFA staff only: their roles on this request (portal.policy), or on the session."""
    if inscription is not None:
        allowed = CFA in policy.roles_on_inscription(by, inscription)
    else:
        allowed = by is not None and getattr(by, "is_authenticated", False) and \
            by.has_role(*CFA_ROLES)
    if not allowed:
        raise RequestRefused(CFA_ONLY)


def expected(session: SessionFormation) -> list[tuple[date, str]]:
    """The session's half-days (weekdays only, the times of its first and last days)."""
    return half_days(session.date_debut, session.date_fin, session.heure_debut,
                     session.heure_fin)


def half_day_label(day: date, half_day: str) -> str:
    """"lundi 15/03/2027 – matin"."""
    label = HALF_DAYS.get(half_day, half_day).lower()
    return f"{WEEKDAYS[day.weekday()]} {fr_day(day)} – {label}"


def retained(session: SessionFormation, structure_id: int | None = None) -> list[Inscription]:
    """The session's requests that had a place, by name."""
    stmt = (select(Inscription).join(User, User.id == Inscription.user_id)
            .where(Inscription.session_id == session.id, Inscription.state.in_(RETAINED))
            .order_by(User.last_name, User.first_name, Inscription.id))
    if structure_id is not None:
        stmt = stmt.where(Inscription.structure_id == structure_id)
    return list(db.session.scalars(stmt))


def marks_of(inscription: Inscription) -> dict[tuple[date, str], bool]:
    return {(p.jour, p.demi_journee): p.present for p in inscription.presences}


def outcome(inscription: Inscription) -> tuple[str, int, int]:
    """("presente" | "absente", half-days present, half-days expected)."""
    return attendance_outcome(marks_of(inscription), expected(inscription.session))


def _checked(session, marks: dict, people: dict, by, today: date) -> list:
    """The marks as (inscription, day, half-day, present), every one checked first: a single
    wrong mark refuses them all (nothing written)."""
    allowed = set(expected(session))
    rows = []
    for key, present in marks.items():
        try:
            pk, day, half_day = key
        except (TypeError, ValueError):
            raise RequestRefused("Présence illisible : (demande, jour, demi-journée) "
                                 "attendus.") from None
        inscription = people.get(pk)
        if inscription is None:
            raise RequestRefused(f"La demande n° {pk} n'est pas retenue pour cette session : "
                                 "sa présence ne peut pas être notée.")
        require_cfa(by, inscription)
        if inscription.state not in OPEN_FOR_MARKS:
            raise RequestRefused(
                f"La présence de {inscription.user.full_name} ne se modifie plus : la session "
                f"est clôturée pour cette personne (« {state_label(inscription.state)} »).")
        if not isinstance(day, date) or (day, half_day) not in allowed:
            what = half_day_label(day, half_day) if isinstance(day, date) else str(day)
            raise RequestRefused(f"Le {what} ne fait pas partie de la session.")
        if day > today:
            raise RequestRefused(f"Le {half_day_label(day, half_day)} n'est pas encore passé : "
                                 "la présence se note le jour même ou après.")
        if not isinstance(present, bool):
            raise RequestRefused("Une présence se note présente ou absente.")
        rows.append((inscription, day, half_day, present))
    order = list(HALF_DAYS)  # the morning before the afternoon
    return sorted(rows, key=lambda r: (r[0].id, r[1], order.index(r[2])))


def record(session: SessionFormation, marks: dict, *, by, today: date | None = None) -> int:
    """Note the presence (True) or absence (False) of retained people at half-days of the
    session: ``marks`` maps (inscription id, day, "matin" | "apres_midi") to a bool. A mark
    already noted is replaced. Refused before the session starts, for a half-day that is not
    the session's, for a request that had no place or is closed (présente / absente: its
    state and attestation certify its marks). Returns the marks written."""
    require_cfa(by)
    today = today or date.today()
    if session.annulee:
        raise RequestRefused("La session est annulée : aucune présence à noter.")
    if today < session.date_debut:
        raise RequestRefused(f"La session ne commence que le {fr_day(session.date_debut)} : "
                             "les présences se notent à partir de ce jour.")
    people = {i.id: i for i in retained(session)}
    if not marks and people and not any(i.state in OPEN_FOR_MARKS for i in people.values()):
        raise RequestRefused("La session est clôturée : les présences ne se modifient plus.")
    rows = _checked(session, marks, people, by, today)
    existing = {(p.inscription_id, p.jour, p.demi_journee): p for p in db.session.scalars(
        select(Presence).where(Presence.inscription_id.in_(list(people) or [0])))}
    notes: dict[int, list[str]] = {}
    for inscription, day, half_day, present in rows:
        row = existing.get((inscription.id, day, half_day))
        if row is None:
            db.session.add(Presence(inscription_id=inscription.id, jour=day,
                                    demi_journee=half_day, present=present,
                                    recorded_by_id=getattr(by, "id", None), recorded_at=utcnow()))
        else:
            row.present, row.recorded_by_id, row.recorded_at = present, by.id, utcnow()
        notes.setdefault(inscription.id, []).append(
            f"{half_day_label(day, half_day)} : {'présente' if present else 'absente'}")
    for pk, lines in notes.items():
        state = people[pk].state
        _history(people[pk], by, state, state, ("Émargement – " + " ; ".join(lines))[:4000])
    _commit(True)
    return len(rows)


def close(session: SessionFormation, *, by, today: date | None = None) -> dict[int, str]:
    """After the session's last day: each retained request becomes "présente" (present at one
    half-day at least) or "absente", through the table's steps; the requests still waiting
    for a place become "non retenue" (the session is over). One transaction. Returns
    {request id: new state}."""
    require_cfa(by)
    today = today or date.today()
    if today <= session.date_fin:
        raise RequestRefused(f"La session se termine le {fr_day(session.date_fin)} : elle se "
                             "clôture à partir du lendemain.")
    moved: dict[int, str] = {}
    try:
        # First the waiting list: a place freed by the marks below must not move it up.
        for inscription in db.session.scalars(select(Inscription).where(
                Inscription.session_id == session.id, Inscription.state.in_(UNSELECTED))
                .order_by(Inscription.id)).all():
            moved[inscription.id] = service.run(
                "ne_pas_retenir", inscription, by=by, today=today, commit=False,
                comment="La session s'est tenue : la liste des demandes est close.")
        for inscription in retained(session):
            if inscription.state != "retenue":
                continue
            state, present, count = outcome(inscription)
            code = "marquer_presente" if state == "presente" else "marquer_absente"
            moved[inscription.id] = service.run(
                code, inscription, by=by, today=today, commit=False,
                comment=f"Présente {present} demi-journée(s) sur {count}.")
    except Exception:
        db.session.rollback()
        raise
    _commit(True)
    return moved
