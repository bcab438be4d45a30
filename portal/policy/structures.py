"""Who acts for trainings and structures: importing and creating dossiers, the structure's
référent (and who becomes the first one), which establishment a dossier may point at, the
access-code registration, the dashboard's blocks."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy import inspect as sa_inspect

from portal.extensions import db
from portal.models import (ALTERNANT, CFA_ROLES, EMPLOYEUR, FORMATION_GESTIONNAIRE,
                           FORMATION_RESPONSABLE, FORMATION_ROLES, Dossier, Etablissement,
                           Structure, StructureMembership, User)
from portal.policy.scope import may_edit


# --- trainings and structures: who acts for them ---------------------------------------------

def manages_formation(user: User, formation) -> bool:
    """A manager or a gestionnaire of this very training (the role *on this training*)."""
    if user is None or formation is None or not getattr(user, "is_authenticated", False):
        return False
    return ((user.has_role(FORMATION_RESPONSABLE) and user in formation.responsables)
            or (user.has_role(FORMATION_GESTIONNAIRE) and user in formation.gestionnaires))


def may_import(user: User, formation) -> bool:
    """Importing apprentices into a training: CFA staff, or its managers and gestionnaires."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return user.has_role(*CFA_ROLES) or manages_formation(user, formation)


def import_row_decision(row, confirmed_lines=()) -> str:
    """Which rows of an import may create a dossier: none with an error (whatever was ticked);
    a row whose apprentice has an open dossier elsewhere only when the manager ticked its line
    ("Créer quand même"); the others. A tick on a line without that warning changes nothing.
    (Whoever may import into a training is told the number, training and state of the open
    dossiers elsewhere of the e-mails in their file: portal.dossiers.imports.known_dossiers.)"""
    from portal.rules.imports import CREATE, REFUSED, UNCONFIRMED
    if not row.ok:
        return REFUSED
    if row.needs_confirmation and row.line not in confirmed_lines:
        return UNCONFIRMED
    return CREATE


def may_create_dossier_in(user: User, formation) -> bool:
    """Creating a dossier by hand in a training: CFA staff, or its managers and gestionnaires."""
    return may_import(user, formation)


def may_manage_structure(user: User, structure) -> bool:
    """The structure's current référent, or active CFA staff, decides for the structure."""
    if user is None or structure is None or not getattr(user, "active", False):
        return False
    return structure.referent_id == user.id or user.has_role(*CFA_ROLES)


def dashboard_sections(user: User) -> list[str]:
    """Which blocks of the dashboard a person gets (SPEC §7), by their roles: the CFA's queues,
    the trainings' progress, their own dossiers (parties), the access requests they decide."""
    sections = []
    if user.has_role(*CFA_ROLES):
        sections.append("cfa")
    if user.has_role(*FORMATION_ROLES):
        sections.append("formation")
    if user.has_role(EMPLOYEUR, ALTERNANT) and not user.has_role(*CFA_ROLES):
        sections.append("own")
    if user.has_role(EMPLOYEUR):
        sections.append("referent")
    return sections


# --- the first référent of a structure (seed 003) ----------------------------------------------
# PROFIL's "the first user of a structure becomes its référent" holds only for a structure new
# to Sillon (one a dossier's entry has just created from an unknown SIRET); a structure the CFA
# registered, or one with dossiers, gets its first référent from the CFA's approval queue.

def persistent(obj) -> bool:
    return obj is not None and sa_inspect(obj).persistent


def _origine(structure: Structure) -> str:
    """The structure's origin; a structure not flushed yet gets the column's default."""
    if structure.origine is not None:
        return structure.origine
    return Structure.__table__.c.origine.default.arg


def _points_at(dossier, structure: Structure) -> bool:
    etablissement = dossier.etablissement
    return etablissement is not None and etablissement.structure is structure


def other_dossiers_exist(structure: Structure, dossiers: Iterable = ()) -> bool:
    """Whether a dossier other than ``dossiers`` (those being set up in this transaction)
    points at an establishment of the structure: saved ones, and ones of this transaction not
    written yet (the callers defer their flush)."""
    own = list(dossiers)
    with db.session.no_autoflush:
        if persistent(structure):
            query = (select(Dossier.id)
                     .join(Etablissement, Etablissement.id == Dossier.etablissement_id)
                     .where(Etablissement.structure_id == structure.id))
            own_ids = [d.id for d in own if d.id is not None]
            if own_ids:
                query = query.where(Dossier.id.not_in(own_ids))
            if db.session.execute(query.limit(1)).first() is not None:
                return True
        for obj in list(db.session.new) + list(db.session.dirty):
            if isinstance(obj, Dossier) and not any(obj is d for d in own) \
                    and _points_at(obj, structure):
                return True
    return False


def _others_attached(structure: Structure, user: User) -> bool:
    """Someone else already belongs to the structure or asks to."""
    with db.session.no_autoflush:
        return any(m.user is not user and m.status != StructureMembership.REFUSE
                   for m in structure.memberships)


# --- the rule -----------------------------------------------------------------------------------

def first_account_becomes_referent(structure: Structure | None, user: User | None, *,
                                   dossiers: Iterable = ()) -> bool:
    """Whether ``user``, the first account of
    ``structure``, becomes its référent at once: only when the structure is new to Sillon —
    created by a dossier's entry (not registered by the CFA), with no dossier but ``dossiers``
    (the ones being set up in this same transaction) on its establishments, and nobody else
    attached to it yet. Otherwise the référent comes from the CFA's approval queue."""
    if structure is None or user is None or not user.active:
        return False
    if structure.referent_id is not None or structure.referent is not None:
        return False
    if _origine(structure) != Structure.ORIGINE_SAISIE:
        return False
    # Cheapest first: an import naming many contacts on one structure stops here after the
    # first one's request.
    return not _others_attached(structure, user) and not other_dossiers_exist(structure,
                                                                              dossiers)



# --- which establishment a dossier points at --------------------------------------------------

def belonging(pairs) -> set[tuple]:
    """Of these (person, structure) pairs, those where the person is the structure's référent
    or an approved member of it, as (person id, structure id) — one query for all."""
    known = [(u, st) for u, st in pairs
             if u is not None and st is not None and getattr(u, "id", None) is not None]
    referents = {(u.id, st.id) for u, st in known if st.referent_id == u.id}
    asked = {(u.id, st.id) for u, st in known if st.id is not None} - referents
    members = set()
    if asked:
        with db.session.no_autoflush:
            rows = db.session.execute(
                select(StructureMembership.user_id, StructureMembership.structure_id).where(
                    StructureMembership.user_id.in_({uid for uid, _ in asked}),
                    StructureMembership.structure_id.in_({sid for _, sid in asked}),
                    StructureMembership.status == StructureMembership.APPROUVE)).all()
        members = {(uid, sid) for uid, sid in rows} & asked
    return referents | members


def belongs_to(user, structure) -> bool:
    """The person is the structure's référent or an approved member of it."""
    pairs = belonging([(user, structure)])
    return bool(pairs)


def dossier_employer(dossier):
    """The person whose membership decides where the dossier may point: its employer contact,
    or, when it has none, the référent of the structure it points at (the people holding the
    employer role on it, portal.policy.roles_on_dossier)."""
    if dossier.employer_contact is not None:
        return dossier.employer_contact
    etab = dossier.etablissement
    return etab.structure.referent if etab is not None and etab.structure else None


def may_point_at(dossier, etab, employer=None, *, created_here: bool = False,
                 members: set | None = None) -> bool:
    """Whether the dossier may point at this known establishment (what the dossier shows and
    prints of it): it already does, it created it while pending (``created_here``), or its
    employer (default: dossier_employer) belongs to the establishment's structure. A known
    establishment of another structure is asked for, never pointed at. ``members``: what
    belonging() answered for this person and structure among others (a batch of dossiers),
    instead of one query each; the structure's référent is still read as it is now."""
    if etab is None:
        return False
    if dossier.etablissement is etab or (etab.id is not None
                                         and dossier.etablissement_id == etab.id):
        return True
    if created_here:
        return True
    person = dossier_employer(dossier) if employer is None else employer
    if members is not None:
        structure = etab.structure
        return (person is not None and structure is not None and person.id is not None
                and (structure.referent_id == person.id or (person.id, structure.id) in members))
    return belongs_to(person, etab.structure)


def may_update_establishment(etab, dossier, user, *, created_here: bool = False) -> bool:
    """Who overwrites an establishment's fields from a dossier: a référent of its structure or
    the CFA (may_edit), or the dossier that created it while the CFA has not checked it."""
    if etab is None:
        return False
    with db.session.no_autoflush:
        if etab.id is not None and may_edit(user, etab):
            return True
    return created_here


def may_register_on(account: User | None) -> bool:
    """The access-code registration (an anonymous page, whose authority is the training's code)
    creates an account and its dossier for an address nobody holds yet, and nothing else: an
    existing account — active, pending on a temporary password, deactivated — gets no role, no
    dossier and no password from it."""
    return account is None
