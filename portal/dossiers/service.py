"""The one write path of a dossier (ARCHITECTURE: one read path, one write path).

Every door — a tab page, the creation form, the import, the access-code registration,
"J'ai trouvé un employeur", an upload, a list action — hands its change to this module, which
asks portal.policy whether this person may make it on this dossier in this state, writes it,
links the people whose e-mail changed, writes the history with one formatter, bumps the
version and runs the automatic transitions of the workflow table. No door writes a dossier's
fields by itself.

A change, a transition, an upload or a deletion is one transaction, committed here (or left to
the caller with ``commit=False``); ``create_dossier`` never commits, so that a door creating
many dossiers (the import) commits once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from portal import policy
from portal.accounts import invitations
from portal.dossiers import establishments, history, signals, tabs, transitions
from portal.dossiers.errors import (ALREADY_DONE, STALE_MESSAGE, AlreadyDone,  # noqa: F401
                                    Duplicate, Stale, TransitionRefused, WriteRefused,
                                    duplicate_message)
from portal.dossiers.locking import DossierLocked
from portal.dossiers.workflow import FINAL_STATES, now
from portal.extensions import db
from portal.models import Dossier, DossierHistory, User
from portal.models.dossiers import INITIAL_STATE

# Transitions asked by a person and the mission gate: the same write path (transitions.py).
cfa_advisors = policy.cfa_advisors
run_transition = transitions.run_transition
run_mission = transitions.run_mission
available_transitions = transitions.available_transitions
transition_refusal = transitions.refusal
mission_refusal = transitions.mission_refusal


# --- creating a dossier -----------------------------------------------------------------------

# Dossier columns a creation may set (the Données de base of SPEC §2 and the import's columns).
CREATION_FIELDS = frozenset({
    "niveau_saisie", "dispositif", "apprenti_nom", "apprenti_prenom", "apprenti_date_naissance",
    "apprenti_email", "employeur_siret", "employeur_contact_email", "date_debut_contrat",
    "date_fin_contrat"})
SOURCES = ("create_form", "import", "registration")


def refuse_duplicate(formation, email: str | None, *, exclude: int | None = None) -> None:
    """Raise Duplicate (French, next to the apprentice's e-mail) when this apprentice — found by
    the dossier's e-mail or their account's, without case — already has an open dossier (not in
    a final state of the workflow table) in ``formation``, other than ``exclude``. The unique
    index uq_dossiers_open_apprentice is the arbiter between two writes at once."""
    address = invitations.normalize_email(email)
    with db.session.no_autoflush:
        number = address and db.session.execute(
            select(Dossier.id).outerjoin(User, User.id == Dossier.apprentice_user_id)
            .where(Dossier.formation_id == formation.id, Dossier.state.not_in(FINAL_STATES),
                   Dossier.id != (exclude or 0), or_(func.lower(Dossier.apprenti_email) ==
                                                     address, func.lower(User.email) == address))
            .order_by(Dossier.id).limit(1)).scalar()
    if number:
        message = duplicate_message(address, number, creation=exclude is None)
        raise Duplicate(message, {"apprenti_email": message})


def create_dossier(formation, fields: dict[str, Any], *, by, source: str,
                   comment: str | None = None, etablissement=None, invite: bool = True,
                   flush: bool = True, check_duplicate: bool = True):
    """A new dossier in ``formation`` (state ``initialise``) with its history entry, its people
    invited (``invite``). ``by`` is the acting person; None for the access-code registration,
    whose authority is the training's code (the caller checked it).

    Raises WriteRefused when ``by`` may not create a dossier in this training, Duplicate when
    the apprentice already has an open dossier in it (``check_duplicate``: the import checks
    all its rows at once instead)."""
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}")
    if source != "registration" and not policy.may_create_dossier_in(by, formation):
        raise WriteRefused("Vous ne pouvez pas créer de dossier dans cette formation.")
    unknown = set(fields) - CREATION_FIELDS
    if unknown:
        raise ValueError(f"not creation fields: {sorted(unknown)}")
    values = dict(fields)
    for name in invitations.PEOPLE_FIELDS:
        if values.get(name):
            values[name] = invitations.normalize_email(values[name])
    if check_duplicate:
        refuse_duplicate(formation, values.get("apprenti_email"))
    dossier = Dossier(formation=formation, state=INITIAL_STATE,
                      created_by_id=getattr(by, "id", None),
                      cfa_conseiller_id=formation.conseiller_cfa_id,
                      etablissement=etablissement, **values)
    db.session.add(dossier)
    history = DossierHistory(dossier=dossier, user_id=getattr(by, "id", None),
                             kind="transition", to_state=INITIAL_STATE, comment=comment)
    db.session.add(history)
    if flush:
        db.session.flush()  # the dossier's number is in the invitation e-mails
    if invite:
        people = invitations.link_dossier_people(dossier, by=by)
        if by is None and people:
            # Self-registration: the apprentice is the author of their dossier.
            if flush:
                db.session.flush()
            dossier.created_by = people[0].user
            history.user = people[0].user
    return dossier


# --- changing a dossier -------------------------------------------------------------------------

# What each door is, for the history and for the automatic transitions it may trigger.
CHANGE_SOURCES = {"tab": "saisie", "employer_found": "saisie", "conseiller": None,
                  "upload": "depot", "approval": "saisie"}


@dataclass
class Outcome:
    """What a change did: the history entries written, the people invited, the states."""

    dossier: Any
    entries: list = field(default_factory=list)
    invitations: list = field(default_factory=list)
    state_before: str | None = None
    state_after: str | None = None
    automatic: list = field(default_factory=list)


# Doors that are not a tab: the history says which door made the change.
DOOR_TITLES = {"employer_found": "J'ai trouvé un employeur"}
# Fields no tab shows, changed by a door of their own: how the history names them.
DOOR_LABELS = {"cfa_conseiller_id": "Suivi – Info – Contact au CFA"}


def _printable(name: str, value):
    if name == "cfa_conseiller_id" and value is not None:
        with db.session.no_autoflush:
            person = db.session.get(User, value)
        return person.full_name if person is not None else None
    return history.display(value)


def owning_tab(name: str, dossier):
    """The editable tab that shows this field (the first one in the tabs' order)."""
    for tab in tabs.visible_tabs(dossier):
        if tab.editable and tab.owns(name):
            return tab
    return None


def _comparable(value):
    if isinstance(value, str):
        return value.strip() or None
    return history.display(value) if value is not None else None


def changed_fields(dossier, changes: dict[str, Any], before: dict[str, Any]) -> list[str]:
    return [name for name, value in changes.items()
            if not name.startswith("_") and name != "remuneration"
            and _comparable(value) != _comparable(before.get(name))]


def apply_changes(dossier, changes: dict[str, Any], *, by, source: str, tab=None,
                  version: int | None = None, store: Callable | None = None,
                  findings: Callable | None = None, notes: dict[str, str] | None = None,
                  commit: bool = True) -> Outcome:
    """Write ``changes`` (flat field names of the tabs → values) on ``dossier`` for ``by``.

    Asks portal.policy for every field that really changes (by the person's roles on this
    dossier, its state and the door ``source``), checks the version the person saw
    (``version``) and the tab's own checks (``findings(dossier, changes)`` → the blocking
    anomalies, portal.rules.Finding), then stores through ``store(dossier, changes, by)`` — by
    default the tab's store (``tab``, or each field's tab) —, records one history entry per
    value that really changed (portal.dossiers.history's formatter; ``notes``, which ``store``
    may fill, adds a comment to a field's entry), invites the people whose
    e-mail changed, bumps the version and runs the automatic transitions of the workflow table.

    Raises WriteRefused (``errors`` per field), Stale, or TransitionRefused; nothing written."""
    if version is not None and version != dossier.version:
        raise Stale(STALE_MESSAGE)
    # A blank field is an absent value: stored as NULL, never as an empty string.
    changes = {name: (None if isinstance(value, str) and not value.strip() else value)
               for name, value in changes.items()}
    before = tabs.dossier_data(dossier)
    changed = changed_fields(dossier, changes, before)
    owners = {name: (tab if tab is not None else owning_tab(name, dossier)) for name in changed}
    refusals = policy.change_refusals(by, dossier, {name: (t.code if t else None)
                                                    for name, t in owners.items()},
                                      source=source)
    if tab is not None and not changed:
        reason = policy.tab_edit_refusal(by, dossier, tab.code)
        if reason:
            refusals[""] = reason
    if refusals:
        message = refusals.get("") or next(iter(refusals.values()))
        raise WriteRefused(message, {k: v for k, v in refusals.items() if k})
    if "apprenti_email" in changed:
        refuse_duplicate(dossier.formation, changes["apprenti_email"], exclude=dossier.id)
    if findings is not None:
        blocking = findings(dossier, changes)
        if blocking:
            count = len(blocking)
            raise WriteRefused(f"L'onglet n'a pas été enregistré : {count} anomalie"
                               f"{'s' if count > 1 else ''} à corriger.",
                               {f.field: f.message for f in reversed(blocking)}, blocking)
    outcome = Outcome(dossier, state_before=dossier.state)
    try:
        _write(dossier, changes, before, owners, by=by, source=source, tab=tab, store=store,
               outcome=outcome, notes=notes if notes is not None else {})
        if commit:
            db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise Stale(STALE_MESSAGE) from None
    except DossierLocked as exc:
        db.session.rollback()
        raise WriteRefused(str(exc)) from None
    except IntegrityError:
        db.session.rollback()
        raise Stale(ALREADY_DONE) from None
    outcome.state_after = dossier.state
    return outcome


def _labels(dossier, tab, source) -> dict[str, str]:
    labels = history.field_labels(dossier, tab)
    title = DOOR_TITLES.get(source)
    if title:
        labels = {name: f"{title} – {label.split(' – ', 1)[-1]}" for name, label in
                  labels.items()}
    return labels


def _write(dossier, changes, before, owners, *, by, source, tab, store, outcome,
           notes) -> None:
    emails_before = {f: invitations.normalize_email(getattr(dossier, f))
                     for f in invitations.PEOPLE_FIELDS}
    if store is not None:
        store(dossier, changes, by)
    elif tab is not None:
        tab.store(dossier, changes, by)
    else:
        for owner in {t for t in owners.values() if t is not None}:
            owner.store(dossier, {k: v for k, v in changes.items() if owners.get(k) is owner},
                        by)
        for name, owner in owners.items():
            if owner is None:
                old = _printable(name, getattr(dossier, name))
                setattr(dossier, name, changes[name])
                entry = DossierHistory(dossier=dossier, user_id=getattr(by, "id", None),
                                       kind="field", field=DOOR_LABELS.get(name, name),
                                       old_value=old,
                                       new_value=_printable(name, changes[name]))
                db.session.add(entry)
                outcome.entries.append(entry)
    with db.session.no_autoflush:
        after = tabs.dossier_data(dossier)
    outcome.entries += history.record_changes(dossier, before, after, by=by,
                                              labels=_labels(dossier, tab, source), notes=notes)
    changed_people = [f for f, old in emails_before.items()
                      if invitations.normalize_email(getattr(dossier, f)) != old]
    if changed_people:
        outcome.invitations = invitations.link_dossier_people(dossier, by=by,
                                                              fields=changed_people)
    dossier.updated_at = now()  # a new version, even when only a part of the dossier changed
    event = CHANGE_SOURCES.get(source)
    if event:
        outcome.automatic = transitions.run_automatic(dossier, by, event)


# --- an access request approved -----------------------------------------------------------

def apply_approval(membership, *, by) -> list:
    """A membership was just approved (in this transaction, not committed): the dossiers of
    that person waiting for an establishment of the structure point at it, each through the
    write path (policy: the approver decides for that structure). Returns them."""
    moved = []
    for dossier in establishments.waiting_dossiers(membership):
        apply_changes(dossier, {}, by=by, source="approval", commit=False,
                      store=lambda d, changes, user: establishments.point_asked(d, user))
        moved.append(dossier)
    return moved


# --- returning the signed documents -----------------------------------------------------------

def upload_signed(dossier, kind: str, data: bytes, filename: str | None, *, by):
    """The employer returns a signed CERFA or convention (a PDF checked by content). When both
    are in, the workflow table's automatic row moves the dossier on, in the same transaction.
    Returns the stored Document; raises WriteRefused (nothing stored)."""
    from portal.documents import uploads
    from portal.models.documents import agreed
    if kind not in uploads.SIGNED_KINDS:
        raise WriteRefused("Type de document inconnu.")
    reason = policy.upload_refusal(by, dossier)  # the dossier's employer: in its scope
    if reason:
        raise WriteRefused(reason)
    try:
        uploads.check_pdf(data)
    except uploads.UploadRefused as exc:
        raise WriteRefused(str(exc), {"fichier": str(exc)}) from None
    from portal.dossiers.documents import unsigned_copy_refusal
    unsigned = unsigned_copy_refusal(dossier, kind, data)
    if unsigned:
        raise WriteRefused(unsigned, {"fichier": unsigned})
    try:
        document = _store_signed(dossier, kind, data, filename, by=by,
                                 how=agreed(kind, "déposé"))
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise Stale(ALREADY_DONE) from None
    return document


def _store_signed(dossier, kind: str, data: bytes, filename: str | None, *, by, how: str):
    """Store a signed CERFA or convention with its history line; the workflow table's
    automatic row moves the dossier on when both are in. No commit."""
    from portal.documents import uploads
    from portal.models.documents import DOCUMENT_KINDS
    document = uploads.store(data, kind=kind, user=by, dossier=dossier,
                             filename=uploads.safe_name(filename, kind, dossier.id))
    db.session.add(DossierHistory(dossier=dossier, user_id=getattr(by, "id", None),
                                  kind="document",
                                  comment=f"{DOCUMENT_KINDS[kind]} {how} ({document.filename}, "
                                          f"version {document.version})"))
    dossier.updated_at = now()
    signals.signed_returned.send(kind, dossier=dossier, document=document, user=by)
    transitions.run_automatic(dossier, by, CHANGE_SOURCES["upload"])
    return document


# --- the electronic signature (portal/signatures: its own rows, this for the dossier's) ---------

def note_signature(dossier, comment: str, *, by=None) -> None:
    """A line of the dossier's history about its electronic signature. No commit."""
    db.session.add(DossierHistory(dossier=dossier, user_id=getattr(by, "id", None),
                                  kind="signature", comment=comment))


def return_signed_electronically(dossier, kind: str, data: bytes, filename: str, *, by):
    """The sealed PDF of a completed electronic signature, kept as the signed CERFA or
    convention exactly as a paper return is (the same automatic row moves the dossier on).
    No commit: the signature service commits it with its own rows."""
    from portal.models.documents import agreed
    return _store_signed(dossier, kind, data, filename, by=by,
                         how=f"{agreed(kind, 'scellé')} au terme de la signature électronique")


def signature_refused(dossier, comment: str, *, by=None) -> list[str]:
    """A signer refused: the workflow table's automatic row sends the dossier back for
    correction and tells everyone why (``comment``). No commit."""
    dossier.updated_at = now()
    return transitions.run_automatic(dossier, by, "refus_signature", comment)


# --- deleting a dossier ---------------------------------------------------------------------

def delete_dossier(dossier, *, by) -> None:
    """Delete a dossier (the CFA admin, while it is not locked: portal.policy.may_delete) with
    its parts and history; its e-mails already queued stay in the outbox, unlinked. Raises
    WriteRefused (nothing deleted)."""
    if not policy.may_delete(by, dossier):
        raise WriteRefused("Vous n'avez pas le droit de supprimer cet enregistrement.")
    db.session.delete(dossier)
    try:
        db.session.commit()
    except (StaleDataError, IntegrityError):
        db.session.rollback()
        raise Stale(ALREADY_DONE) from None


def create_import_rows(formation, entries, *, by) -> list:
    """One batch of the import's rows, in the background worker: ``entries`` are (creation
    fields, history comment), rows already checked, created in bulk and kept to their
    structures (portal.dossiers.import_rows). No commit."""
    from portal.dossiers.import_rows import create_rows
    return create_rows(formation, entries, by=by, fields=CREATION_FIELDS)
