"""Structures unknown to Sillon (seed 003, "mon organisme n'est pas dans la liste"): a person
requests one (SIRET, APE, address), CFA staff create it — the requester then becomes its
référent, the CFA's creation being its approval — or refuse it with a reason.

Pure database logic, nothing committed here (see portal.accounts.structures).
"""
from __future__ import annotations

import re

from sqlalchemy import select, update

from portal.accounts.referents import (MY_STRUCTURE_PATH, REQUEST_QUEUE_PATH,
                                       StructureAccessRefused, link, make_referent,
                                       staff_recipients)
from portal.accounts.structures import is_staff, siret_problem
from portal.extensions import db
from portal.models import Etablissement, Structure, StructureRequest, User
from portal.models.people import utcnow as now
from portal.mail.outbox import queue
from portal.rules.identifiers import clean_digits, is_valid_postal_code, normalise_naf

REQUEST_FIELDS = ("siret", "raison_sociale", "naf", "adresse", "code_postal", "commune")


class StructureRequestInvalid(StructureAccessRefused):
    """Some fields of a structure request are not valid: ``errors`` maps field → message."""

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        super().__init__("Corrigez les champs signalés : "
                         + " ".join(self.errors.values()))


def _check_staff(user: User) -> None:
    if not is_staff(user):
        raise StructureAccessRefused(
            "Seule l'équipe du CFA traite les demandes de création de structure.")


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
              requester=user, page_link=link(REQUEST_QUEUE_PATH))
    return request


_NUMBER = re.compile(r"^(\d{1,4}(?:\s?(?:bis|ter|quater|[A-Za-z]))?)\b[\s,]+(.+)$",
                     re.IGNORECASE)


def split_address(adresse: str) -> tuple[str | None, str]:
    """'45 bis, rue de l'Industrie' → ('45 bis', "rue de l'Industrie")."""
    match = _NUMBER.match(adresse or "")
    if match:
        return match[1], match[2].strip()
    return None, adresse


REQUEST_HANDLED = "Cette demande de création de structure a déjà été traitée."


def _check_pending(request: StructureRequest) -> None:
    if request.status != StructureRequest.EN_ATTENTE:
        raise StructureAccessRefused(REQUEST_HANDLED)


def _take_pending(request: StructureRequest, status: str, staff: User) -> None:
    """Move the request out of "en attente" in one conditional UPDATE: of two members of staff
    handling it at once, the second is told it was already handled."""
    taken = db.session.execute(
        update(StructureRequest)
        .where(StructureRequest.id == request.id,
               StructureRequest.status == StructureRequest.EN_ATTENTE)
        .values(status=status, handled_at=now(), handled_by_id=staff.id)
        .execution_options(synchronize_session=False)).rowcount
    if taken != 1:
        raise StructureAccessRefused(REQUEST_HANDLED)
    db.session.refresh(request)


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
    structure = Structure(siren=siret[:9], raison_sociale=values["raison_sociale"],
                          origine=Structure.ORIGINE_CFA)
    etablissement = Etablissement(structure=structure, siret=siret,
                                  denomination=values["raison_sociale"], naf=values["naf"],
                                  adresse_numero=numero, adresse_voie=voie,
                                  code_postal=values["code_postal"], commune=values["commune"],
                                  en_attente=False)
    _take_pending(request, StructureRequest.CREEE, staff)
    db.session.add_all([structure, etablissement])
    for name, value in values.items():
        setattr(request, name, value)
    db.session.flush()
    request.etablissement_id = etablissement.id
    requester = request.requested_by
    # The CFA creating the structure from the person's own request is its approval of them.
    make_referent(structure, requester, by=staff)
    db.session.flush()
    if requester.active:
        queue(requester.email, "structure_creee", "Votre structure est enregistrée sur Sillon",
              recipient=requester, structure=structure, etablissement=etablissement,
              page_link=link(MY_STRUCTURE_PATH))
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
    _take_pending(request, StructureRequest.REFUSEE, staff)
    request.motif_refus = reason
    db.session.flush()
    requester = request.requested_by
    if requester.active:
        queue(requester.email, "structure_creation_refusee",
              "Votre demande de création de structure a été refusée", recipient=requester,
              request=request, reason=reason, page_link=link(MY_STRUCTURE_PATH))
    return request


def requests_of(user: User) -> list[StructureRequest]:
    return list(db.session.execute(
        select(StructureRequest).where(StructureRequest.requested_by_id == user.id)
        .order_by(StructureRequest.created_at.desc())).scalars())
