"""Training actions for employers' staff (SPEC §6, seed 003): who sees the catalogue and which
requests, who may request, decide, select. CFA staff organise everything; a structure's
référent and the members it gave the employer right decide their structure's requests; a member
with the beneficiary right requests for themselves; apprentices and the trainings' staff have no
part in it. Another structure's request answers like a missing one."""
from __future__ import annotations

from sqlalchemy import false, or_, select, true, union

from portal.models import (CFA_ADMIN, CFA_ROLES, EMPLOYEUR, ActionFormation, Inscription,
                           InscriptionHistory, Presence, RegleInscription, SessionFormation,
                           Structure, StructureMembership, User)

BENEFICIARY, EMPLOYER, CFA = "beneficiaire", "employeur", "cfa"


def _approved(user: User, right):
    return select(StructureMembership.structure_id).where(
        StructureMembership.user_id == user.id,
        StructureMembership.status == StructureMembership.APPROUVE, right.is_(True))


def decider_structure_ids(user: User):
    """Structures whose requests this person decides: référent, or the employer right."""
    return union(select(Structure.id).where(Structure.referent_id == user.id),
                 _approved(user, StructureMembership.droit_contact_employeur))


def beneficiary_structure_ids(user: User):
    """Structures for which this person may request a session for themselves."""
    return union(select(Structure.id).where(Structure.referent_id == user.id),
                 _approved(user, StructureMembership.droit_beneficiaire))


def _staff(user: User) -> bool:
    """A person of a partner company (the employer role), or CFA staff."""
    return user.has_role(*CFA_ROLES) or user.has_role(EMPLOYEUR)


def catalogue_filter(user: User):
    """Actions and sessions: CFA staff all; employers' staff the active ones."""
    return true() if user.has_role(*CFA_ROLES) else (
        ActionFormation.active.is_(True) if user.has_role(EMPLOYEUR) else false())


def session_filter(user: User):
    if user.has_role(*CFA_ROLES):
        return true()
    if not user.has_role(EMPLOYEUR):
        return false()
    return SessionFormation.action_id.in_(select(ActionFormation.id).where(
        ActionFormation.active.is_(True)))


def inscription_filter(user: User):
    if user.has_role(*CFA_ROLES):
        return true()
    if not user.has_role(EMPLOYEUR):
        return false()
    return or_(Inscription.user_id == user.id,
               Inscription.structure_id.in_(decider_structure_ids(user)))


def _of_visible_inscription(column, user: User):
    if user.has_role(*CFA_ROLES):
        return true()
    return column.in_(select(Inscription.id).where(inscription_filter(user)))


def history_filter(user: User):
    return _of_visible_inscription(InscriptionHistory.inscription_id, user)


def presence_filter(user: User):
    return _of_visible_inscription(Presence.inscription_id, user)


def rules_filter(user: User):
    return true() if user.has_role(CFA_ADMIN) else false()


FILTERS = {ActionFormation: catalogue_filter, SessionFormation: session_filter,
           Inscription: inscription_filter, InscriptionHistory: history_filter,
           Presence: presence_filter, RegleInscription: rules_filter}
VIEW_ROLES = {ActionFormation: CFA_ROLES | {EMPLOYEUR}, SessionFormation: CFA_ROLES | {EMPLOYEUR},
              Inscription: CFA_ROLES | {EMPLOYEUR}, RegleInscription: frozenset({CFA_ADMIN})}
CREATE_ROLES = {ActionFormation: CFA_ROLES, SessionFormation: CFA_ROLES,
                RegleInscription: frozenset({CFA_ADMIN})}
EDIT_ROLES = {ActionFormation: CFA_ROLES, SessionFormation: CFA_ROLES,
              RegleInscription: frozenset({CFA_ADMIN})}
DELETE_ROLES = {ActionFormation: frozenset({CFA_ADMIN}),
                SessionFormation: frozenset({CFA_ADMIN})}


def roles_on_inscription(user: User, inscription: Inscription) -> set[str]:
    """The roles a person holds on this request (a référent of ACME is not the employer of a
    Globex request)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return set()
    from portal.extensions import db
    roles = set()
    if user.has_role(*CFA_ROLES):
        roles.add(CFA)
    if user.has_role(EMPLOYEUR):
        if inscription.user_id == user.id:
            roles.add(BENEFICIARY)
        ids = decider_structure_ids(user).subquery()
        if db.session.execute(select(ids.c[0]).where(
                ids.c[0] == inscription.structure_id)).first() is not None:
            roles.add(EMPLOYER)
    return roles


def may_request_for(user: User, structure_id: int) -> bool:
    """Whether this person holds the beneficiary right of this structure."""
    from portal.extensions import db
    if user is None or not getattr(user, "is_authenticated", False) or \
            not user.has_role(EMPLOYEUR):
        return False
    ids = beneficiary_structure_ids(user).subquery()
    return db.session.execute(select(ids.c[0]).where(ids.c[0] == structure_id)).first() \
        is not None


def step_refusal(user: User, inscription: Inscription, step) -> str | None:
    """Why this person may not take this step on this request (French); None when they may."""
    if not roles_on_inscription(user, inscription) & step.actors:
        return (f"Vous n'avez pas le droit de faire « {step.label} » pour cette demande.")
    return None
