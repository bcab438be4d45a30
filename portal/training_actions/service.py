"""The one write path of a training-action request (SPEC §6): the request itself and each step
of the table (portal/training_actions/states.py), with the automatic rows that follow (a place
freed moves the waiting list up). Who may take a step is portal.policy's answer; each step is
one transaction with its history entry and its e-mails; a step already taken, or taken
meanwhile by someone else, is AlreadyDone (409) with nothing written."""
from __future__ import annotations

from datetime import date

from sqlalchemy import extract, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from portal import policy
from portal.dossiers.errors import AlreadyDone, WriteRefused
from portal.extensions import db
from portal.models import ActionFormation, Inscription, InscriptionHistory, SessionFormation
from portal.models.people import utcnow
from portal.rules.training_actions import request_refusal, waiting_list_next
from portal.training_actions import guards, messages
from portal.training_actions.limits import limits
from portal.training_actions.states import ACTIVE, STEPS, state_label

# A step lost to someone else's change, said of a request (the dossiers' text names a dossier).
ALREADY_DONE = ("Cette demande vient d'être modifiée par une autre personne (action déjà "
                "faite ?) : rien n'a été changé. Rechargez la page.")


class RequestRefused(WriteRefused):
    """A request or a step that cannot be made (French); nothing was written."""


def _history(inscription, user, source, target, comment=None) -> None:
    db.session.add(InscriptionHistory(inscription=inscription, user_id=getattr(user, "id", None),
                                      from_state=source, to_state=target, comment=comment,
                                      at=utcnow()))


def _commit(commit: bool) -> None:
    if not commit:
        return
    try:
        db.session.commit()
    except (StaleDataError, IntegrityError):
        db.session.rollback()
        raise AlreadyDone(ALREADY_DONE) from None


def _year_count(user_id: int, year: int) -> int:
    """The person's requests of this calendar year that still count (SPEC §6: 5 a year)."""
    return db.session.execute(
        select(func.count(Inscription.id)).join(SessionFormation)
        .where(Inscription.user_id == user_id, Inscription.state.in_(ACTIVE),
               extract("year", SessionFormation.date_debut) == year)).scalar_one()


def request(session: SessionFormation, *, by, structure, motivation: str | None,
            today: date | None = None, commit: bool = True) -> Inscription:
    """``by`` asks for a place in ``session`` for themselves, for ``structure`` (where they
    hold the beneficiary right), with a motivation. The structure's deciders are e-mailed."""
    today = today or date.today()
    motivation = (motivation or "").strip()
    action: ActionFormation = session.action
    already = db.session.execute(select(Inscription.id).where(
        Inscription.session_id == session.id, Inscription.user_id == by.id)).first()
    reason = request_refusal(
        today=today, session_start=session.date_debut, session_end=session.date_fin,
        deadline=session.date_limite_inscription, session_cancelled=session.annulee,
        action_active=action.active, reserved_to_members=action.reservee_adherents,
        structure_is_member=bool(getattr(structure, "adherente", False)),
        is_beneficiary=structure is not None and policy.may_request_for(by, structure.id),
        already_requested=already is not None,
        actions_this_year=_year_count(by.id, session.date_debut.year),
        max_actions_per_year=limits()["max_actions_par_an"])
    if reason:
        if already is not None:
            raise AlreadyDone(reason)
        raise RequestRefused(reason)
    if not motivation:
        raise RequestRefused("Expliquez en quelques mots ce que vous attendez de la formation.",
                             {"motivation": "La motivation est obligatoire."})
    inscription = Inscription(session=session, user_id=by.id, structure=structure,
                              motivation=motivation[:4000], state="demandee")
    db.session.add(inscription)
    try:
        db.session.flush()
    except IntegrityError:  # the same person, the same session, at once
        db.session.rollback()
        raise AlreadyDone("Vous avez déjà demandé cette session. " + ALREADY_DONE) from None
    _history(inscription, by, None, "demandee", "Demande d'inscription")
    messages.to_deciders(inscription, user=by)
    _commit(commit)
    return inscription


def refusal(code: str, inscription, user, *, today: date | None = None) -> str | None:
    """Why this person cannot take this step now (French): rights, state, guard."""
    step = STEPS.get(code)
    if step is None or step.automatic:
        return "Action inconnue."
    reason = policy.step_refusal(user, inscription, step)
    if reason:
        return reason
    if inscription.state not in step.sources:
        return (f"« {step.label} » est impossible quand la demande est "
                f"« {state_label(inscription.state)} ».")
    if step.guard:
        return guards.GUARDS[step.guard](inscription, today=today)
    return None


def run(code: str, inscription, *, by, comment: str | None = None, version: int | None = None,
        today: date | None = None, commit: bool = True) -> str:
    """Take one step of the table on this request. Returns the new state; raises
    RequestRefused (nothing written), AlreadyDone when the step conflicts with the request as
    it is now (the page's version is gone, the state moved past it, a concurrent run won)."""
    step = STEPS.get(code)
    if step is None or step.automatic:
        raise RequestRefused("Action inconnue.")
    reason = policy.step_refusal(user=by, inscription=inscription, step=step)
    if reason:
        raise RequestRefused(reason)
    if (version is not None and version != inscription.version) or \
            inscription.state not in step.sources:
        raise AlreadyDone(f"« {step.label} » : la demande est « "
                          f"{state_label(inscription.state)} ». " + ALREADY_DONE)
    reason = refusal(code, inscription, by, today=today)
    comment = (comment or "").strip() or None
    if reason is None and step.needs_comment and not comment:
        reason = f"{step.comment_label} : ce champ est obligatoire."
        raise RequestRefused(reason, {"comment": reason})
    if reason:
        raise RequestRefused(reason)
    # A place freed by a cancellation moves the waiting list up (the table's automatic row).
    freed = inscription.state == "retenue" and code in STEPS["promouvoir"].after
    _apply(step, inscription, by, comment)
    try:
        db.session.flush()
    except (StaleDataError, IntegrityError):
        db.session.rollback()
        raise AlreadyDone(ALREADY_DONE) from None
    if freed:
        _move_waiting_list_up(inscription.session, today=today)
    _commit(commit)
    return inscription.state


def _apply(step, inscription, user, comment) -> None:
    source = inscription.state
    inscription.state = step.target
    stamp = utcnow()
    if step.code in ("accepter", "refuser"):
        inscription.employer_comment = comment
        inscription.employer_decided_by_id = getattr(user, "id", None)
        inscription.employer_decided_at = stamp
    elif step.code in ("ne_pas_retenir", "annuler"):
        inscription.cfa_comment = comment
    if step.target == "liste_attente":
        last = db.session.execute(select(func.max(Inscription.waiting_rank)).where(
            Inscription.session_id == inscription.session_id)).scalar()
        inscription.waiting_rank = (last or 0) + 1
    elif source == "liste_attente":
        inscription.waiting_rank = None
    inscription.updated_at = stamp
    _history(inscription, user, source, step.target, comment)
    for name in step.mails:
        getattr(messages, name)(inscription, user=user, comment=comment)


def _move_waiting_list_up(session, *, today=None) -> int | None:
    """A retained person left: the first of the waiting list who fits (the session's capacity
    and their structure's quota) takes the place — the table's automatic row "promouvoir",
    with its guard and e-mails. Returns the request moved up, if any."""
    step = STEPS["promouvoir"]
    candidates = [tuple(row) for row in db.session.execute(
        select(Inscription.id, Inscription.waiting_rank, Inscription.created_at)
        .where(Inscription.session_id == session.id, Inscription.state == "liste_attente"))]
    while candidates:
        pk = waiting_list_next(candidates)
        candidate = db.session.get(Inscription, pk)
        if guards.GUARDS[step.guard](candidate, today=today) is None:
            # Sillon's own step: the person who cancelled (maybe another company's staff)
            # is named neither in the promoted request's history nor in its e-mails.
            _apply(step, candidate, None, "Place libérée par une annulation.")
            db.session.flush()
            return pk
        candidates = [c for c in candidates if c[0] != pk]
    return None
