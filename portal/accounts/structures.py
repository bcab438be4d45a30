"""Structures and their référent (seed 003, SPEC §4): joining a structure, the référent's
decisions and rights, handing the référent role over. The first référent of a structure is
ruled in portal.accounts.referents; structures unknown to Sillon, requested then created by
the CFA, in portal.accounts.structure_requests.

Pure database logic: no Flask request object. Every function takes the acting person first
and raises StructureAccessRefused (a French message) when they may not act. Nothing here
commits: the caller commits, and the e-mails queued here (portal.mail.outbox.queue) exist if
and only if that transaction commits.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import aliased

from portal import policy
from portal.accounts.referents import (MY_STRUCTURE_PATH, REQUEST_QUEUE_PATH,  # noqa: F401
                                       StructureAccessRefused, first_account_becomes_referent,
                                       grant, link, mail_access_request, make_referent,
                                       membership_of)
from portal.extensions import db
from portal.models import (CFA_ROLES, EMPLOYEUR, Dossier, Etablissement, Structure,
                           StructureMembership, User)
from portal.models.people import utcnow as now
from portal.mail.outbox import queue
from portal.rules.identifiers import clean_digits, is_valid_siret

ALREADY_DECIDED = "Cette demande a déjà été traitée."


@dataclass
class AccessResult:
    membership: StructureMembership
    became_referent: bool = False
    already_pending: bool = False


# --- helpers ------------------------------------------------------------------------------------

def base_url() -> str:
    return link("")


def is_staff(user: User | None) -> bool:
    return user is not None and user.active and user.has_role(*CFA_ROLES)


def _check_manager(user: User, structure: Structure) -> None:
    if not policy.may_manage_structure(user, structure):
        raise StructureAccessRefused(
            "Seul le référent de la structure peut traiter ses demandes de création de compte "
            "et attribuer les droits.")


def still_employer(user: User) -> bool:
    """Whether the person keeps the employer role: référent of a structure, employer right in
    an approved membership, or employer contact of a dossier."""
    if db.session.execute(select(Structure.id).where(Structure.referent_id == user.id)
                          .limit(1)).first():
        return True
    if db.session.execute(select(StructureMembership.id).where(
            StructureMembership.user_id == user.id,
            StructureMembership.status == StructureMembership.APPROUVE,
            StructureMembership.droit_contact_employeur.is_(True)).limit(1)).first():
        return True
    return db.session.execute(select(Dossier.id).where(Dossier.employer_contact_id == user.id)
                              .limit(1)).first() is not None


def sync_employer_role(user: User) -> None:
    """Give or take the employer role so that it matches still_employer()."""
    db.session.flush()
    if still_employer(user):
        grant(user, EMPLOYEUR)
    else:
        for role in [r for r in user.roles if r.role == EMPLOYEUR]:
            user.roles.remove(role)


def find_structure_by_siret(siret: str | None) -> Structure | None:
    """The structure owning this SIRET, or the structure of its SIREN (first 9 digits)."""
    siret = clean_digits(siret)
    if not siret:
        return None
    etablissement = db.session.execute(
        select(Etablissement).where(Etablissement.siret == siret)).scalar_one_or_none()
    if etablissement is not None:
        return etablissement.structure
    return db.session.execute(
        select(Structure).where(Structure.siren == siret[:9])).scalar_one_or_none()


def siret_problem(siret: str | None) -> str | None:
    """Why a SIRET is not acceptable, in French; None when it is."""
    value = clean_digits(siret)
    if not value:
        return "Saisissez le numéro SIRET (14 chiffres)."
    if not value.isdigit() or len(value) != 14:
        return "Le numéro SIRET compte 14 chiffres."
    if not is_valid_siret(value):
        return ("Ce numéro SIRET n'est pas valide : sa clé de contrôle (dernier chiffre) ne "
                "correspond pas. Vérifiez-le sur un bulletin de paie ou un extrait Kbis.")
    return None


# --- joining a structure ----------------------------------------------------------------------

def request_access(user: User, siret: str) -> AccessResult:
    """``user`` asks to join the structure owning ``siret`` (found by its SIREN when that exact
    establishment is not registered). The first account of a structure new to Sillon becomes
    its référent (portal.accounts.referents); otherwise the request waits for the référent, or
    for the CFA when the structure has none (or none active), who are told by e-mail."""
    problem = siret_problem(siret)
    if problem:
        raise StructureAccessRefused(problem)
    if user is None or not user.active:
        raise StructureAccessRefused("Ce compte n'est pas actif.")
    structure = find_structure_by_siret(siret)
    if structure is None:
        raise StructureAccessRefused(
            "Aucune structure n'est enregistrée sur Sillon avec ce SIRET. Demandez sa création "
            "avec « Ma structure n'est pas dans la liste ».")
    if structure.referent_id == user.id:
        raise StructureAccessRefused(
            f"Vous êtes déjà le référent de la structure {structure.raison_sociale}.")
    if first_account_becomes_referent(structure, user):
        try:
            membership = make_referent(structure, user)
        except StructureAccessRefused:
            db.session.refresh(structure)  # it got a référent meanwhile: ask them, below
        else:
            db.session.flush()
            return AccessResult(membership, became_referent=True)
    membership, pending = _ask(structure, user, membership_of(structure, user))
    if pending is not None:
        return pending
    db.session.flush()
    mail_access_request(structure, user)
    return AccessResult(membership)


def _ask(structure, user, membership) -> tuple[StructureMembership, AccessResult | None]:
    """The request of ``user`` to join ``structure``, given their membership so far (None):
    a new one, or the refused one asked again; (membership, the answer) when it is already
    pending. Already a member: refused."""
    if membership is not None:
        if membership.status == StructureMembership.DEMANDE:
            return membership, AccessResult(membership, already_pending=True)
        if membership.status == StructureMembership.APPROUVE:
            raise StructureAccessRefused(
                f"Vous êtes déjà rattaché·e à la structure {structure.raison_sociale}.")
        # Refused earlier: a new request is possible.
        membership.status = StructureMembership.DEMANDE
        membership.requested_at = now()
        membership.decided_at = None
        membership.decided_by = None
        membership.droit_contact_employeur = False
        membership.droit_beneficiaire = True
        return membership, None
    membership = StructureMembership(structure=structure, user=user,
                                     status=StructureMembership.DEMANDE,
                                     droit_contact_employeur=False, droit_beneficiaire=True,
                                     requested_at=now())
    db.session.add(membership)
    return membership, None


class AccessRequests:
    """request_access for many people at once (the import's employer contacts), with the same
    outcome, in the same order, as calling it for each: the structure of each SIRET found once,
    the memberships of all ``users`` to those structures read in one query, no flush per
    request (the caller's next flush writes them). A case request_access settles otherwise (a
    problem with the SIRET or the account, a first référent) goes through request_access
    itself."""

    def __init__(self, users, sirets):
        self._structures = {}
        for siret in set(sirets):
            if not siret_problem(siret):
                with db.session.no_autoflush:
                    self._structures[siret] = find_structure_by_siret(siret)
        ids = {u.id for u in users if getattr(u, "id", None) is not None}
        found = {s.id for s in self._structures.values() if s is not None}
        self._memberships = {}
        if ids and found:
            with db.session.no_autoflush:
                for m in db.session.execute(select(StructureMembership).where(
                        StructureMembership.user_id.in_(ids),
                        StructureMembership.structure_id.in_(found))).scalars():
                    self._memberships[(m.structure_id, m.user_id)] = m

    def request(self, user: User, siret: str) -> AccessResult:
        structure = self._structures.get(siret)
        if (structure is None or user is None or not user.active or user.id is None
                or structure.referent_id == user.id
                or first_account_becomes_referent(structure, user)):
            db.session.flush()  # the requests made so far, as request_access would find them
            result = request_access(user, siret)
            self._memberships[(result.membership.structure_id, user.id)] = result.membership
            return result
        known = self._memberships.get((structure.id, user.id))
        membership, pending = _ask(structure, user, known)
        if pending is not None:
            return pending
        self._memberships[(structure.id, user.id)] = membership
        mail_access_request(structure, user)
        return AccessResult(membership)


def _take_pending(membership: StructureMembership, status: str, by: User) -> None:
    """Move the request out of "demande" in one conditional UPDATE: of two decisions at once,
    the second is told it was already handled."""
    db.session.flush()
    taken = db.session.execute(
        update(StructureMembership)
        .where(StructureMembership.id == membership.id,
               StructureMembership.status == StructureMembership.DEMANDE)
        .values(status=status, decided_at=now(), decided_by_id=by.id)
        .execution_options(synchronize_session=False)).rowcount
    if taken != 1:
        raise StructureAccessRefused(ALREADY_DECIDED)
    db.session.refresh(membership)


def decide(referent: User, membership: StructureMembership, approve: bool, *,
           contact_employeur: bool = False, beneficiaire: bool = True) -> StructureMembership:
    """The référent (or CFA staff) approves, with rights, or refuses a pending request. On a
    structure without référent (CFA staff only), approving makes the person its référent,
    with both rights: the CFA's approval of a first référent."""
    structure = membership.structure
    _check_manager(referent, structure)
    if membership.status != StructureMembership.DEMANDE:
        raise StructureAccessRefused(ALREADY_DECIDED)
    first_referent = approve and structure.referent_id is None
    _take_pending(membership, StructureMembership.APPROUVE if approve
                  else StructureMembership.REFUSE, referent)
    requester = membership.user
    if first_referent:
        if not requester.active:
            raise StructureAccessRefused(
                "Le compte de cette personne est désactivé : elle ne peut pas devenir "
                "référent de la structure.")
        make_referent(structure, requester, by=referent)
        subject = (f"Vous êtes désormais référent de la structure "
                   f"{structure.raison_sociale}")
    elif approve:
        membership.droit_contact_employeur = bool(contact_employeur)
        membership.droit_beneficiaire = bool(beneficiaire)
        if contact_employeur:
            grant(requester, EMPLOYEUR)
        subject = "Votre demande d'accès a été acceptée"
    else:
        membership.droit_contact_employeur = False
        membership.droit_beneficiaire = False
        subject = "Votre demande d'accès a été refusée"
    db.session.flush()
    if requester.active:
        queue(requester.email, "structure_decision", subject, recipient=requester,
              structure=structure, membership=membership, approved=bool(approve),
              became_referent=first_referent, decided_by=referent,
              page_link=link(MY_STRUCTURE_PATH))
    return membership


def set_rights(referent: User, membership: StructureMembership, contact_employeur: bool,
               beneficiaire: bool) -> StructureMembership:
    """The référent changes the rights of an approved member of their structure."""
    structure = membership.structure
    _check_manager(referent, structure)
    if membership.status != StructureMembership.APPROUVE:
        raise StructureAccessRefused(
            "Les droits se règlent sur un membre approuvé : traitez d'abord sa demande.")
    if membership.user_id == structure.referent_id and not contact_employeur:
        raise StructureAccessRefused(
            "Le référent garde le droit de contact alternance : transmettez d'abord le rôle "
            "de référent à une autre personne.")
    membership.droit_contact_employeur = bool(contact_employeur)
    membership.droit_beneficiaire = bool(beneficiaire)
    sync_employer_role(membership.user)
    return membership


def hand_over(referent: User, structure: Structure, new_user: User) -> Structure:
    """The référent hands the role to an approved member of the same structure."""
    _check_manager(referent, structure)
    if new_user is None or new_user.id == structure.referent_id:
        raise StructureAccessRefused("Cette personne est déjà le référent de la structure.")
    target = membership_of(structure, new_user)
    if target is None or target.status != StructureMembership.APPROUVE:
        raise StructureAccessRefused(
            "Le rôle de référent se transmet à un membre approuvé de la structure.")
    if not new_user.active:
        raise StructureAccessRefused("Le compte de cette personne est désactivé.")
    previous = structure.referent
    structure.referent = new_user
    target.droit_contact_employeur = True
    grant(new_user, EMPLOYEUR)
    if previous is not None:
        # The former référent stays an approved member with the employer right.
        old = membership_of(structure, previous)
        if old is None:
            old = StructureMembership(structure=structure, user=previous, requested_at=now())
            db.session.add(old)
        old.status = StructureMembership.APPROUVE
        old.droit_contact_employeur = True
        old.decided_at = old.decided_at or now()
        grant(previous, EMPLOYEUR)
    db.session.flush()
    queue(new_user.email, "structure_referent",
          f"Vous êtes désormais référent de la structure {structure.raison_sociale}",
          recipient=new_user, structure=structure, previous=previous, by=referent,
          page_link=link(MY_STRUCTURE_PATH))
    return structure


# --- what the pages show ----------------------------------------------------------------------

def memberships_of(user: User) -> list[StructureMembership]:
    return list(db.session.execute(
        select(StructureMembership).join(Structure)
        .where(StructureMembership.user_id == user.id)
        .order_by(Structure.raison_sociale)).scalars())


def referent_structures(user: User) -> list[Structure]:
    return list(db.session.execute(select(Structure).where(Structure.referent_id == user.id)
                                   .order_by(Structure.raison_sociale)).scalars())


def orphan_access_requests() -> list[StructureMembership]:
    """Pending access requests of structures whose référent is missing or deactivated: CFA
    staff decide them."""
    referent = aliased(User)
    return list(db.session.execute(
        select(StructureMembership).join(Structure)
        .outerjoin(referent, referent.id == Structure.referent_id)
        .where(StructureMembership.status == StructureMembership.DEMANDE,
               (Structure.referent_id.is_(None)) | (referent.active.is_(False)))
        .order_by(StructureMembership.requested_at)).scalars())
