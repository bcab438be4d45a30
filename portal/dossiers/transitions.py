"""Running the workflow table (portal/dossiers/workflow.py): a transition asked by a person, the
mission gate, and the automatic rows the write path tries after each change.

A transition is one transaction: guard, state change, stamps, history entry and outbox
e-mails, committed together or not at all. Who may trigger it is portal.policy's answer; what
the states mean is the table's. Called through portal/dossiers/service.py.
"""
from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from portal import policy
from portal.dossiers import guards, signals, snapshot
from portal.dossiers.errors import ALREADY_DONE, AlreadyDone, TransitionRefused, wrong_state
from portal.dossiers.locking import transition_scope
from portal.dossiers.workflow import (TRANSITIONS, Transition, automatic_after, now,
                                      state_label, transitions_from)
from portal.extensions import db
from portal.mail import messages
from portal.models import DossierHistory

MAX_AUTOMATIC_STEPS = 5


class NotConfirmed(TransitionRefused):
    """An irreversible row (the table's `irreversible` column) asked without the person's
    confirmation: refused, nothing written."""


def confirmation_refusal(transition: Transition) -> str:
    return (f"« {transition.label} » est définitif : cochez la case de confirmation "
            "pour le faire. Rien n'a été modifié.")


def available_transitions(dossier, user) -> list[Transition]:
    """The transitions this person may try on this dossier now (guards aside)."""
    return [t for t in transitions_from(dossier.state)
            if policy.transition_refusal(user, dossier, t) is None]


def refusal(transition: Transition, dossier, user, *, page: bool = False,
            **inputs) -> str | None:
    """Why this person cannot run this transition on this dossier now, in French. For the
    page (``page``), the guards checking what the person will type are left to the press."""
    reason = policy.transition_refusal(user, dossier, transition)
    if reason:
        return reason
    if dossier.state not in transition.sources:
        return (f"« {transition.label} » est impossible dans l'état "
                f"« {state_label(dossier.state)} ».")
    if transition.guard and not (page and transition.guard in guards.TYPED):
        return guards.GUARDS[transition.guard](dossier, **inputs)
    return None


def conflict(transition: Transition, dossier, version: int | None = None) -> str | None:
    """Why this transition conflicts with what the dossier is now — the version the person's
    page showed (``version``, when the form sent it) is no longer the dossier's, or its state
    is not one the transition starts from — in French; None when it does not."""
    if version is not None and version != dossier.version:
        return ALREADY_DONE
    if dossier.state not in transition.sources:
        return wrong_state(transition.label, state_label(dossier.state))
    return None


def run_transition(code: str, dossier, user, *, comment: str | None = None,
                   rupture_date=None, version: int | None = None, commit: bool = True,
                   inputs: dict | None = None, confirmed: bool = False) -> str:
    """Run one transition asked by ``user``. Returns the new state (after the automatic rows
    that follow it); raises TransitionRefused, with nothing changed: AlreadyDone (a 409) when
    it conflicts with the dossier as it is now — the version the person saw (``version``) is
    gone, its state no longer allows it, or a concurrent run of it committed first (the row's
    version is checked by the UPDATE itself: StaleDataError). ``inputs`` are what the person
    typed for the transition's guard and its receivers (e.g. the OPCO dossier number). An
    irreversible row needs ``confirmed`` (the person ticked the confirmation): NotConfirmed
    otherwise, once every other check passed."""
    inputs = dict(inputs or {}, rupture_date=rupture_date)
    transition = TRANSITIONS.get(code)
    if transition is None or transition.automatic:
        raise TransitionRefused("Action inconnue.")
    comment = (comment or "").strip() or None
    reason = policy.transition_refusal(user, dossier, transition)
    if reason:
        raise TransitionRefused(reason)
    reason = conflict(transition, dossier, version)
    if reason:
        raise AlreadyDone(reason)
    reason = refusal(transition, dossier, user, **inputs)
    if reason is None and transition.needs_comment and not comment:
        reason = f"« {transition.label} » : {transition.comment_label.lower()} est obligatoire."
    if reason:
        raise TransitionRefused(reason)
    if transition.irreversible and not confirmed:
        raise NotConfirmed(confirmation_refusal(transition))
    try:
        with transition_scope(db.session):
            _apply(transition, dossier, user, comment, **inputs)
            run_automatic(dossier, user, transition.code)
        if commit:
            db.session.commit()
    except (StaleDataError, IntegrityError):
        # Someone changed the dossier since it was read (the same transition, at once): the
        # UPDATE ... WHERE version = <read> matched no row, or a unique row was taken.
        db.session.rollback()
        raise AlreadyDone(ALREADY_DONE) from None
    return dossier.state


def run_automatic(dossier, user, event: str, comment: str | None = None) -> list[str]:
    """The automatic rows of the table that apply after ``event``, in order, each with its
    history entry and e-mails (``comment``, e.g. a signer's reason for refusing, in both;
    otherwise the row's note in the history). Returns the codes applied. Runs inside the
    caller's transaction (and lock scope)."""
    applied = []
    for _ in range(MAX_AUTOMATIC_STEPS):
        db.session.flush()  # guards read stored data (e.g. the documents returned)
        candidates = [t for t in automatic_after(event, dossier.state)
                      if not t.guard or guards.GUARDS[t.guard](dossier) is None]
        if not candidates:
            break
        transition = candidates[0]
        with transition_scope(db.session):
            _apply(transition, dossier, user, comment or transition.note,
                   mail_comment=comment)
        applied.append(transition.code)
        comment = None  # said once, by the first row it caused
    return applied


# --- what each transition writes -------------------------------------------------------------

def _request(dossier, user, stamp, comment, inputs):
    roles = policy.roles_on_dossier(user, dossier)
    if "alternant" in roles:
        dossier.alternant_validation_demandee_at = stamp
    if "employeur" in roles:
        dossier.employeur_validation_demandee_at = stamp


def _correction(dossier, user, stamp, comment, inputs):
    dossier.correction_commentaire = comment


def _cancel(dossier, user, stamp, comment, inputs):
    dossier.annulation_motif = comment


def _rupture(dossier, user, stamp, comment, inputs):
    dossier.rupture_date, dossier.rupture_cause = inputs.get("rupture_date"), comment[:200]


def _unlock(dossier, user, stamp, comment, inputs):
    dossier.deverrouille_at, dossier.deverrouille_motif = stamp, comment
    dossier.correction_commentaire = comment


EFFECTS = {"demander_validation": _request, "renvoyer_correction": _correction,
           "signature_refusee": _correction,  # the signer's reason is what to correct
           "annuler": _cancel, "rompre": _rupture, "deverrouiller": _unlock}


def _apply(transition: Transition, dossier, user, comment, *, mail_comment=None,
           **inputs) -> None:
    source, target = dossier.state, transition.target
    stamp = now()
    dossier.state = target  # a new version of the row: a concurrent run of it fails
    snapshot.on_transition(dossier, source, target)
    if transition.stamp:
        setattr(dossier, f"{transition.stamp}_at", stamp)
        if not transition.automatic and hasattr(dossier, f"{transition.stamp}_par_id"):
            setattr(dossier, f"{transition.stamp}_par_id", user.id)
    effect = EFFECTS.get(transition.code)
    if effect is not None:
        effect(dossier, user, stamp, comment, inputs)
    db.session.add(DossierHistory(dossier=dossier, user_id=getattr(user, "id", None),
                                  kind="transition", from_state=source, to_state=target,
                                  comment=comment, at=stamp))
    attachments = []
    if transition.code == "valider_documents":
        # The CFA's visa on the signed CERFA, stored and sent to the employer.
        from portal.documents.stamp import stamp_cerfa
        visa = stamp_cerfa(dossier, user, stamp.date())
        if visa is not None:
            db.session.flush()
            attachments.append(visa)
    for builder in transition.mails:
        kwargs = {"attachments": attachments} if builder == "to_employer_stamped" else {}
        getattr(messages, builder)(dossier, user=user,
                                   comment=mail_comment if transition.automatic else comment,
                                   **kwargs)
    signals.transition_applied.send(transition.code, dossier=dossier, user=user, source=source,
                                    target=target, inputs=inputs, comment=comment, stamp=stamp)


# --- the mission gate (SPEC §2–§3) -------------------------------------------------------------

MISSION_LABELS = {"soumettre": "Mission soumise au responsable", "valider": "Mission validée",
                  "renvoyer": "Mission renvoyée pour être revue"}


def mission_refusal(action: str, dossier, user) -> str | None:
    formation = dossier.formation
    if formation is None or not formation.mission_requise:
        return "Cette formation ne demande pas de mission."
    reason = policy.mission_action_refusal(user, dossier, action)
    if reason:
        return reason
    mission = dossier.mission
    status = mission.status if mission is not None else "brouillon"
    if action == "soumettre":
        if mission is None or not (mission.description or "").strip():
            return "Décrivez la mission avant de la soumettre."
        if status not in ("brouillon", "a_corriger"):
            return "La mission a déjà été soumise."
        return None
    if status != "soumise":
        return "La mission n'a pas été soumise."
    return None


# The mission statuses in which an action was already done, or overtaken by another: asking
# for it then conflicts with the mission as it is now (409), like a transition.
MISSION_DONE = {"soumettre": ("soumise", "validee"), "valider": ("validee", "a_corriger"),
                "renvoyer": ("validee", "a_corriger")}


def run_mission(action: str, dossier, user, *, comment: str | None = None,
                version: int | None = None, commit: bool = True) -> str:
    """soumettre (e-mails the manager) / valider / renvoyer (with a comment). Raises
    TransitionRefused; AlreadyDone (a 409) when the step was done meanwhile: the mission's
    status is past it, the version the person saw (``version``) is gone, or a concurrent run
    committed first (each step bumps the dossier's version, checked by its UPDATE)."""
    reason = mission_refusal(action, dossier, user)
    comment = (comment or "").strip() or None
    status = dossier.mission.status if dossier.mission is not None else None
    if reason and status in MISSION_DONE.get(action, ()) and \
            policy.mission_action_refusal(user, dossier, action) is None:
        raise AlreadyDone(f"{reason} {ALREADY_DONE}")
    if reason is None and version is not None and version != dossier.version:
        raise AlreadyDone(ALREADY_DONE)
    if reason is None and action == "renvoyer" and not comment:
        reason = "Indiquez ce qui doit être revu dans la mission."
    if reason:
        raise TransitionRefused(reason)
    try:
        _mission(action, dossier, user, comment)
        if commit:
            db.session.commit()
    except (StaleDataError, IntegrityError):
        db.session.rollback()
        raise AlreadyDone(ALREADY_DONE) from None
    return dossier.mission.status


def _mission(action, dossier, user, comment) -> None:
    with transition_scope(db.session):
        mission, stamp = dossier.mission, now()
        if action == "soumettre":
            mission.status, mission.submitted_at, mission.submitted_by_id = \
                "soumise", stamp, user.id
            messages.to_manager_mission(dossier, user=user, comment=None)
        elif action == "valider":
            mission.status, mission.validated_at, mission.validated_by_id = \
                "validee", stamp, user.id
            mission.commentaire = comment
            messages.to_parties_mission(dossier, user=user, comment=comment, validated=True)
        else:
            mission.status, mission.commentaire = "a_corriger", comment
            messages.to_parties_mission(dossier, user=user, comment=comment, validated=False)
        dossier.updated_at = stamp  # a new version: two submissions at once cannot both pass
        db.session.add(DossierHistory(
            dossier=dossier, user_id=user.id, kind="mission", at=stamp,
            comment=MISSION_LABELS[action] + (f" : {comment}" if comment else "")))
        run_automatic(dossier, user, "saisie")
