"""Structures and their référent (seed 003, SPEC §4): joining a structure, the référent's
decisions and rights, handing the référent role over, and structures requested by employers
then created by CFA staff.

Pure database logic: no Flask request object. Every function takes the acting person first
and raises StructureAccessRefused (a French message) when they may not act. Nothing here
commits: the caller commits, and the e-mails queued here (portal.mail.outbox.queue) exist if
and only if that transaction commits.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import aliased

from portal import policy
from portal.accounts.invitations import base_url, claim_referent_if_first, now
from portal.extensions import db
from portal.models import (CFA_ADMIN, CFA_CONSEILLER, CFA_ROLES, EMPLOYEUR, Dossier, Etablissement,
                           Structure, StructureMembership, StructureRequest, User, UserRole)
from portal.mail.outbox import queue
from portal.rules.identifiers import (clean_digits, is_valid_postal_code, is_valid_siret,
                                      normalise_naf)

# Pages the e-mails point to (admin_views/structure_access.py).
MY_STRUCTURE_PATH = "/admin/ma-structure/"
REQUEST_QUEUE_PATH = "/admin/demandes-structures/"

REQUEST_FIELDS = ("siret", "raison_sociale", "naf", "adresse", "code_postal", "commune")


class StructureAccessRefused(Exception):
    """The person may not do this; str(exc) is the French explanation."""


class StructureRequestInvalid(StructureAccessRefused):
    """Some fields of a structure request are not valid: ``errors`` maps field → message."""

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        super().__init__("Corrigez les champs signalés : "
                         + " ".join(self.errors.values()))


@dataclass
class AccessResult:
    membership: StructureMembership
    became_referent: bool = False
    already_pending: bool = False


# --- helpers ------------------------------------------------------------------------------------

def _link(path: str) -> str:
    return f"{base_url()}{path}"


def _is_staff(user: User | None) -> bool:
    return user is not None and user.active and user.has_role(*CFA_ROLES)


def _check_manager(user: User, structure: Structure) -> None:
    if not policy.may_manage_structure(user, structure):
        raise StructureAccessRefused(
            "Seul le référent de la structure peut traiter ses demandes de création de compte "
            "et attribuer les droits.")


def _check_staff(user: User) -> None:
    if not _is_staff(user):
        raise StructureAccessRefused(
            "Seule l'équipe du CFA traite les demandes de création de structure.")


def _grant(user: User, role: str) -> None:
    if role not in user.role_codes:
        user.roles.append(UserRole(role=role))


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
        _grant(user, EMPLOYEUR)
    else:
        for role in [r for r in user.roles if r.role == EMPLOYEUR]:
            user.roles.remove(role)


def staff_recipients() -> list[User]:
    return list(db.session.execute(
        select(User).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role.in_((CFA_ADMIN, CFA_CONSEILLER)), User.active.is_(True))
        .order_by(User.id)).scalars().unique())


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


def membership_of(structure: Structure, user: User) -> StructureMembership | None:
    return db.session.execute(select(StructureMembership).where(
        StructureMembership.structure_id == structure.id,
        StructureMembership.user_id == user.id)).scalar_one_or_none()


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
    establishment is not registered). A structure without référent makes them its référent;
    otherwise the référent is asked by e-mail."""
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
    if claim_referent_if_first(structure, user):
        _grant(user, EMPLOYEUR)
        db.session.flush()
        return AccessResult(membership_of(structure, user), became_referent=True)
    membership = membership_of(structure, user)
    if membership is not None:
        if membership.status == StructureMembership.DEMANDE:
            return AccessResult(membership, already_pending=True)
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
    else:
        membership = StructureMembership(structure=structure, user=user,
                                         status=StructureMembership.DEMANDE,
                                         droit_contact_employeur=False, droit_beneficiaire=True,
                                         requested_at=now())
        db.session.add(membership)
    db.session.flush()
    referent = structure.referent
    recipients = ([referent] if referent is not None and referent.active
                  else staff_recipients())
    for person in recipients:
        queue(person.email, "structure_demande_acces",
              "Nouvelle demande d'accès à votre structure", recipient=person,
              requester=user, structure=structure, page_link=_link(
                  MY_STRUCTURE_PATH if person is referent else REQUEST_QUEUE_PATH),
              for_referent=person is referent)
    return AccessResult(membership)


def decide(referent: User, membership: StructureMembership, approve: bool, *,
           contact_employeur: bool = False, beneficiaire: bool = True) -> StructureMembership:
    """The référent (or CFA staff) approves, with rights, or refuses a pending request."""
    structure = membership.structure
    _check_manager(referent, structure)
    if membership.status != StructureMembership.DEMANDE:
        raise StructureAccessRefused("Cette demande a déjà été traitée.")
    membership.decided_at = now()
    membership.decided_by = referent
    requester = membership.user
    if approve:
        membership.status = StructureMembership.APPROUVE
        membership.droit_contact_employeur = bool(contact_employeur)
        membership.droit_beneficiaire = bool(beneficiaire)
        if contact_employeur:
            _grant(requester, EMPLOYEUR)
        subject = "Votre demande d'accès a été acceptée"
    else:
        membership.status = StructureMembership.REFUSE
        membership.droit_contact_employeur = False
        membership.droit_beneficiaire = False
        subject = "Votre demande d'accès a été refusée"
    db.session.flush()
    if requester.active:
        queue(requester.email, "structure_decision", subject, recipient=requester,
              structure=structure, membership=membership, approved=bool(approve),
              decided_by=referent, page_link=_link(MY_STRUCTURE_PATH))
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
    _grant(new_user, EMPLOYEUR)
    if previous is not None:
        # The former référent stays an approved member with the employer right.
        old = membership_of(structure, previous)
        if old is None:
            old = StructureMembership(structure=structure, user=previous, requested_at=now())
            db.session.add(old)
        old.status = StructureMembership.APPROUVE
        old.droit_contact_employeur = True
        old.decided_at = old.decided_at or now()
        _grant(previous, EMPLOYEUR)
    db.session.flush()
    queue(new_user.email, "structure_referent",
          f"Vous êtes désormais référent de la structure {structure.raison_sociale}",
          recipient=new_user, structure=structure, previous=previous, by=referent,
          page_link=_link(MY_STRUCTURE_PATH))
    return structure


# --- structures unknown to Sillon -------------------------------------------------------------

def check_request_fields(siret, raison_sociale, naf, adresse, code_postal,
                         commune) -> dict[str, str]:
    """Cleaned values of a structure request; raises StructureRequestInvalid listing the French
    message of every wrong field."""
    errors: dict[str, str] = {}
    values = {
        "siret": clean_digits(siret),
        "raison_sociale": " ".join((raison_sociale or "").split()),
        "naf": normalise_naf(naf) if (naf or "").strip() else "",
        "adresse": " ".join((adresse or "").split()),
        "code_postal": (code_postal or "").strip(),
        "commune": " ".join((commune or "").split()),
    }
    problem = siret_problem(siret)
    if problem:
        errors["siret"] = problem
    if not values["raison_sociale"]:
        errors["raison_sociale"] = "Saisissez la raison sociale de la structure."
    elif len(values["raison_sociale"]) > 200:
        errors["raison_sociale"] = "La raison sociale ne peut pas dépasser 200 caractères."
    if not (naf or "").strip():
        errors["naf"] = "Saisissez le code APE/NAF de la structure (par exemple 62.01Z)."
    elif values["naf"] is None:
        errors["naf"] = ("Le code APE/NAF se compose de 4 chiffres et d'une lettre, par exemple "
                         "62.01Z ou 6201Z.")
    if not values["adresse"]:
        errors["adresse"] = "Saisissez l'adresse de l'établissement (numéro et voie)."
    elif len(values["adresse"]) > 300:
        errors["adresse"] = "L'adresse ne peut pas dépasser 300 caractères."
    if not values["code_postal"]:
        errors["code_postal"] = "Saisissez le code postal."
    elif not is_valid_postal_code(values["code_postal"]):
        errors["code_postal"] = ("Le code postal doit compter 5 chiffres et correspondre à un "
                                 "département français.")
    if not values["commune"]:
        errors["commune"] = "Saisissez la commune."
    elif len(values["commune"]) > 100:
        errors["commune"] = "La commune ne peut pas dépasser 100 caractères."
    if errors:
        raise StructureRequestInvalid(errors)
    return values


def _siren_taken(siret: str) -> bool:
    return db.session.execute(select(Structure.id).where(
        Structure.siren == siret[:9])).first() is not None


def request_structure(user: User, siret, raison_sociale, naf, adresse, code_postal,
                      commune) -> StructureRequest:
    """A structure unknown to Sillon is requested; CFA staff are told by e-mail."""
    if user is None or not user.active:
        raise StructureAccessRefused("Ce compte n'est pas actif.")
    values = check_request_fields(siret, raison_sociale, naf, adresse, code_postal, commune)
    if _siren_taken(values["siret"]):
        raise StructureAccessRefused(
            "Cette structure est déjà enregistrée sur Sillon : demandez à la rejoindre avec son "
            "SIRET (« Rejoindre une structure »).")
    pending = db.session.execute(select(StructureRequest.id).where(
        StructureRequest.siret == values["siret"],
        StructureRequest.requested_by_id == user.id,
        StructureRequest.status == StructureRequest.EN_ATTENTE)).first()
    if pending is not None:
        raise StructureAccessRefused(
            "Vous avez déjà demandé la création de cette structure : l'équipe du CFA la traite "
            "et vous prévient par e-mail.")
    request = StructureRequest(requested_by=user, status=StructureRequest.EN_ATTENTE,
                               created_at=now(), **values)
    db.session.add(request)
    db.session.flush()
    for person in staff_recipients():
        queue(person.email, "structure_demande_creation",
              "[Sillon] Demande de création de structure", recipient=person, request=request,
              requester=user, page_link=_link(REQUEST_QUEUE_PATH))
    return request


_NUMBER = re.compile(r"^(\d{1,4}(?:\s?(?:bis|ter|quater|[A-Za-z]))?)\b[\s,]+(.+)$",
                     re.IGNORECASE)


def split_address(adresse: str) -> tuple[str | None, str]:
    """'45 bis, rue de l'Industrie' → ('45 bis', "rue de l'Industrie")."""
    match = _NUMBER.match(adresse or "")
    if match:
        return match[1], match[2].strip()
    return None, adresse


def _check_pending(request: StructureRequest) -> None:
    if request.status != StructureRequest.EN_ATTENTE:
        raise StructureAccessRefused("Cette demande de création de structure a déjà été traitée.")


def create_from_request(staff: User, request: StructureRequest, **corrections) -> Structure:
    """CFA staff create the requested structure (values corrected if need be); the requester
    becomes its référent and is told by e-mail."""
    _check_staff(staff)
    _check_pending(request)
    unknown = set(corrections) - set(REQUEST_FIELDS)
    if unknown:
        raise TypeError(f"unknown fields: {sorted(unknown)}")
    merged = {name: getattr(request, name) for name in REQUEST_FIELDS}
    merged.update({k: v for k, v in corrections.items() if v is not None})
    values = check_request_fields(**merged)
    siret = values["siret"]
    if db.session.execute(select(Etablissement.id).where(
            Etablissement.siret == siret)).first() or _siren_taken(siret):
        raise StructureAccessRefused(
            "Une structure avec ce SIREN existe déjà sur Sillon : refusez la demande en "
            "invitant la personne à rejoindre cette structure avec son SIRET.")
    numero, voie = split_address(values["adresse"])
    structure = Structure(siren=siret[:9], raison_sociale=values["raison_sociale"])
    etablissement = Etablissement(structure=structure, siret=siret,
                                  denomination=values["raison_sociale"], naf=values["naf"],
                                  adresse_numero=numero, adresse_voie=voie,
                                  code_postal=values["code_postal"], commune=values["commune"],
                                  en_attente=False)
    db.session.add_all([structure, etablissement])
    for name, value in values.items():
        setattr(request, name, value)
    request.status = StructureRequest.CREEE
    request.handled_by = staff
    request.handled_at = now()
    db.session.flush()
    request.etablissement_id = etablissement.id
    requester = request.requested_by
    claim_referent_if_first(structure, requester)
    _grant(requester, EMPLOYEUR)
    db.session.flush()
    if requester.active:
        queue(requester.email, "structure_creee", "Votre structure est enregistrée sur Sillon",
              recipient=requester, structure=structure, etablissement=etablissement,
              page_link=_link(MY_STRUCTURE_PATH))
    return structure


def refuse_request(staff: User, request: StructureRequest, reason: str) -> StructureRequest:
    """CFA staff refuse a structure request; the requester gets the reason by e-mail."""
    _check_staff(staff)
    _check_pending(request)
    reason = (reason or "").strip()
    if not reason:
        raise StructureAccessRefused("Indiquez le motif du refus : il est envoyé au demandeur.")
    if len(reason) > 2000:
        raise StructureAccessRefused("Le motif du refus ne peut pas dépasser 2 000 caractères.")
    request.status = StructureRequest.REFUSEE
    request.motif_refus = reason
    request.handled_by = staff
    request.handled_at = now()
    db.session.flush()
    requester = request.requested_by
    if requester.active:
        queue(requester.email, "structure_creation_refusee",
              "Votre demande de création de structure a été refusée", recipient=requester,
              request=request, reason=reason, page_link=_link(MY_STRUCTURE_PATH))
    return request


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


def requests_of(user: User) -> list[StructureRequest]:
    return list(db.session.execute(
        select(StructureRequest).where(StructureRequest.requested_by_id == user.id)
        .order_by(StructureRequest.created_at.desc())).scalars())
