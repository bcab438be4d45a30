"""The first référent of a structure (seed 003, SPEC §4).

PROFIL's rule "the first user of a structure becomes its référent" holds only for a structure
new to Sillon: one a dossier's entry has just created from an unknown SIRET. A structure the
CFA registered, or one that already has dossiers, gets its first référent from the CFA: the
claim becomes a pending access request listed in "Demandes de structures", and approving it
there makes the person référent (portal.accounts.structures.decide).

Who becomes référent at once is portal.policy.first_account_becomes_referent. Everything here
writes in the caller's transaction and never commits; the e-mails queued here exist if and only
if that transaction commits.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select, update

from portal.extensions import db
from portal.policy import first_account_becomes_referent  # noqa: F401  (re-exported)
from portal.policy import persistent as _persistent
from portal.mail.outbox import public_url, queue
from portal.models import (CFA_ADMIN, CFA_CONSEILLER, EMPLOYEUR, Dossier, Etablissement,
                           Structure, StructureMembership, User, UserRole)
from portal.models.people import utcnow

# Pages the e-mails point to (admin_views/structure_access.py).
MY_STRUCTURE_PATH = "/admin/ma-structure/"
REQUEST_QUEUE_PATH = "/admin/demandes-structures/"

REFERENT_TAKEN = ("Cette structure a reçu un référent entre-temps : la demande reste en "
                  "attente et c'est désormais à son référent d'y répondre.")


class StructureAccessRefused(Exception):
    """The person may not do this; str(exc) is the French explanation."""


# --- helpers ------------------------------------------------------------------------------------

def link(path: str) -> str:
    """An absolute link to a page of Sillon, for an e-mail."""
    return public_url(path)


def grant(user: User, role: str) -> None:
    if role not in user.role_codes:
        user.roles.append(UserRole(role=role))


def staff_recipients() -> list[User]:
    """Active CFA staff, who decide what no référent can."""
    return list(db.session.execute(
        select(User).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role.in_((CFA_ADMIN, CFA_CONSEILLER)), User.active.is_(True))
        .order_by(User.id)).scalars().unique())


# --- writing ----------------------------------------------------------------------------------

def _hold_referentless(structure: Structure) -> bool:
    """Take the structure's row while it has no référent (a no-op UPDATE: a row lock on
    PostgreSQL, the write lock on SQLite): of two decisions at once, the second finds the
    référent of the first and gets False. A structure created in this transaction is nobody
    else's to race for."""
    if not _persistent(structure):
        return structure.referent is None
    result = db.session.execute(
        update(Structure).where(Structure.id == structure.id, Structure.referent_id.is_(None))
        .values(referent_id=Structure.referent_id)
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


def membership_of(structure: Structure, user: User) -> StructureMembership | None:
    with db.session.no_autoflush:
        if _persistent(structure) and _persistent(user):
            return db.session.execute(select(StructureMembership).where(
                StructureMembership.structure_id == structure.id,
                StructureMembership.user_id == user.id)).scalar_one_or_none()
        return next((m for m in structure.memberships if m.user is user), None)


def make_referent(structure: Structure, user: User, *, by: User | None = None
                  ) -> StructureMembership:
    """``user`` becomes the structure's référent, with an approved membership carrying both
    rights (contact alternance, beneficiary) and the employer role. Raises
    StructureAccessRefused (REFERENT_TAKEN) when the structure got a référent meanwhile."""
    if not _hold_referentless(structure):
        raise StructureAccessRefused(REFERENT_TAKEN)
    structure.referent = user
    membership = membership_of(structure, user)
    if membership is None:
        membership = StructureMembership(structure=structure, user=user, requested_at=utcnow())
        db.session.add(membership)
    membership.status = StructureMembership.APPROUVE
    membership.droit_contact_employeur = True
    membership.droit_beneficiaire = True
    membership.decided_at = utcnow()
    if by is not None:
        membership.decided_by = by
    grant(user, EMPLOYEUR)
    return membership


def mail_access_request(structure: Structure, requester: User) -> None:
    """Tell who decides: the référent when there is an active one, CFA staff otherwise."""
    referent = structure.referent
    active_referent = referent if referent is not None and referent.active else None
    for person in ([active_referent] if active_referent else staff_recipients()):
        queue(person.email, "structure_demande_acces",
              "Nouvelle demande d'accès à votre structure", recipient=person,
              requester=requester, structure=structure,
              page_link=link(MY_STRUCTURE_PATH if active_referent else REQUEST_QUEUE_PATH),
              for_referent=active_referent is not None, first_referent=referent is None)


def ask_cfa_for_referent(structure: Structure, user: User) -> StructureMembership | None:
    """The claim of a structure that is not new to Sillon: a pending access request in the
    CFA's queue (CFA staff told by e-mail). Nothing when the person already asks, belongs, or
    was refused."""
    membership = membership_of(structure, user)
    if membership is not None:
        return membership if membership.status == StructureMembership.DEMANDE else None
    membership = StructureMembership(structure=structure, user=user,
                                     status=StructureMembership.DEMANDE,
                                     droit_contact_employeur=False, droit_beneficiaire=True,
                                     requested_at=utcnow())
    db.session.add(membership)
    mail_access_request(structure, user)
    return membership


REFERENT, PENDING = "referent", "pending"


def claim_first_referent(structure: Structure | None, user: User | None, *,
                         dossiers: Iterable = ()) -> str | None:
    """A dossier names ``user`` as employer contact on an establishment of ``structure``.
    Returns REFERENT when they became its référent (a structure new to Sillon), PENDING when
    their claim waits in the CFA's queue, None when there is nothing to claim (the structure
    has a référent, the account is deactivated, they already belong or were refused)."""
    if structure is None or user is None or not user.active:
        return None
    if structure.referent_id is not None or structure.referent is not None:
        return None
    if first_account_becomes_referent(structure, user, dossiers=dossiers):
        try:
            make_referent(structure, user)
        except StructureAccessRefused:
            return None  # another decision gave it a référent meanwhile: nothing to claim
        return REFERENT
    return PENDING if ask_cfa_for_referent(structure, user) is not None else None


# --- what the CFA's queue shows ---------------------------------------------------------------

def queue_facts(memberships: list[StructureMembership]) -> dict[int, dict]:
    """For each pending request of the CFA's queue: how many dossiers its structure has and
    how many of them name the requester as employer contact (what the CFA weighs)."""
    structure_ids = {m.structure_id for m in memberships}
    if not structure_ids:
        return {}
    per_structure = dict(db.session.execute(
        select(Etablissement.structure_id, func.count(Dossier.id))
        .join(Dossier, Dossier.etablissement_id == Etablissement.id)
        .where(Etablissement.structure_id.in_(structure_ids))
        .group_by(Etablissement.structure_id)).all())
    per_contact = {(s, u): n for s, u, n in db.session.execute(
        select(Etablissement.structure_id, Dossier.employer_contact_id, func.count(Dossier.id))
        .join(Dossier, Dossier.etablissement_id == Etablissement.id)
        .where(Etablissement.structure_id.in_(structure_ids),
               Dossier.employer_contact_id.in_(sorted({m.user_id for m in memberships})))
        .group_by(Etablissement.structure_id, Dossier.employer_contact_id)).all()}
    return {m.id: dict(dossiers=per_structure.get(m.structure_id, 0),
                       as_contact=per_contact.get((m.structure_id, m.user_id), 0),
                       origine=Structure.ORIGINE_LABELS.get(m.structure.origine, ""))
            for m in memberships}
