"""Which establishment a dossier points at (SPEC §2 L'employeur, seed 002 "J'ai trouvé un
employeur", seed 003 structures), for both doors that name one by its SIRET.

- An unknown SIRET creates the establishment, pending the CFA's check (and its structure when
  the SIREN is unknown too); the dossier points at it and, while it is pending, may complete it.
- A known establishment is pointed at when the dossier's employer belongs to its structure
  (référent or approved member) — or when the dossier already points at it.
- A known establishment of another structure is never pointed at: an access request goes to
  that structure's référent (or to the CFA when it has none: portal.accounts.structures
  .request_access), the dossier records the establishment asked for
  (``Dossier.etablissement_demande``) and shows nothing of it; when the membership is approved,
  the write path (service.apply_approval) points the dossier at it.

Who may change an establishment's fields: portal.policy.may_edit (its structure's référent or
the CFA), or the dossier that created it while the CFA has not checked it yet. The OPCO is never
typed by an employer: it follows the IDCC (``apply_opco``).

Nothing here commits. Who may point a dossier at an establishment, or change it, is
portal.policy's (belongs_to, may_point_at, may_update_establishment).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from portal import policy
from portal.accounts import referents
from portal.accounts.structures import (AccessRequests, StructureAccessRefused,
                                       request_access)
from portal.dossiers.errors import WriteRefused
from portal.dossiers.workflow import STATES
from portal.extensions import db
from portal.models import (ConventionCollective, Dossier, DossierHistory,
                           Etablissement, Structure, StructureMembership)
from portal.rules.identifiers import clean_digits, normalise_naf

PUBLIC_EMPLOYER_FROM = 21  # CERFA type_employeur: 11–16 private, 21–30 public
# History entry recording that this dossier created a pending establishment: it is also what
# lets this dossier keep completing that establishment until the CFA has checked it.
CREATED_ENTRY = "L'employeur – Nouvel établissement (SIRET)"
REQUEST_ENTRY = "L'employeur – Demande de rattachement (SIRET)"
LINKED_ENTRY = "L'employeur – Rattachement à l'établissement (SIRET)"

# Columns of an establishment the dossier's pages write (billing apart).
IDENTITY_COLUMNS = ("denomination", "adresse_numero", "adresse_voie", "adresse_complement",
                    "code_postal", "commune", "monaco", "telephone", "email", "type_employeur",
                    "employeur_specifique", "naf", "effectif", "idcc")
BILLING_COLUMNS = ("facturation_raison_sociale", "facturation_adresse",
                   "facturation_code_postal", "facturation_commune", "facturation_email",
                   "facturation_siret", "facturation_reference")

WAITING, REFUSED, GRANTED = "waiting", "refused", "granted"


@dataclass
class LinkResult:
    etablissement: Etablissement | None   # what the dossier points at after the call
    created: bool = False                 # a pending establishment was created
    requested: Etablissement | None = None  # an access request waits: nothing of it is shown
    may_update: bool = False              # the establishment's fields were the caller's to write


# --- reading ----------------------------------------------------------------------------------

def find(siret: str | None) -> Etablissement | None:
    siret = clean_digits(siret)
    if not re.fullmatch(r"[0-9]{14}", siret):
        return None
    with db.session.no_autoflush:
        return db.session.execute(
            sa.select(Etablissement).where(Etablissement.siret == siret)).scalars().first()


def is_public_employer(type_employeur: Any) -> bool:
    try:
        return int(str(type_employeur).strip()) >= PUBLIC_EMPLOYER_FROM
    except (TypeError, ValueError):
        return False


# --- who (pure reads; to move to portal/policy.py) ----------------------------------------------

def created_by(dossier, etab) -> bool:
    """This dossier created this establishment and the CFA has not checked it yet."""
    if etab is None or not etab.en_attente or dossier.id is None:
        return False
    with db.session.no_autoflush:
        return db.session.execute(sa.select(DossierHistory.id).where(
            DossierHistory.dossier_id == dossier.id, DossierHistory.kind == "field",
            DossierHistory.field == CREATED_ENTRY,
            DossierHistory.new_value == etab.siret)).first() is not None


def may_point_at(dossier, etab, employer=None, members: set | None = None) -> bool:
    """portal.policy.may_point_at, with the fact only this module knows: whether this dossier
    created the establishment (pending)."""
    return policy.may_point_at(dossier, etab, employer, created_here=created_by(dossier, etab),
                               members=members)


def may_update(etab, dossier, user) -> bool:
    return policy.may_update_establishment(etab, dossier, user,
                                           created_here=created_by(dossier, etab))


belongs_to = policy.belongs_to
dossier_employer = policy.dossier_employer


def request_state(dossier) -> str | None:
    """Where the dossier's request for another structure's establishment stands: None (no
    request), WAITING, REFUSED, or GRANTED (an employer of the dossier belongs to it now)."""
    etab = dossier.etablissement_demande
    if etab is None:
        return None
    person = dossier_employer(dossier)
    if belongs_to(person, etab.structure):
        return GRANTED
    if person is not None and person.id is not None:
        with db.session.no_autoflush:
            waiting = db.session.execute(sa.select(StructureMembership.id).where(
                StructureMembership.structure_id == etab.structure_id,
                StructureMembership.user_id == person.id,
                StructureMembership.status == StructureMembership.DEMANDE)).first()
        if waiting is not None:
            return WAITING
    return REFUSED


def shown_establishment(dossier, siret: str | None = None):
    """The establishment whose data the dossier's pages may show for ``siret`` (default: the
    dossier's SIRET): the one it points at, or the establishment of that SIRET when the dossier
    may point at it; None otherwise — nothing of another structure is shown."""
    linked = dossier.etablissement
    siret = clean_digits(siret if siret is not None else dossier.employeur_siret) or (
        linked.siret if linked is not None else "")
    if linked is not None and linked.siret == siret:
        return linked
    known = find(siret)
    if known is not None and may_point_at(dossier, known):
        return known
    return None


# --- the OPCO follows the IDCC ---------------------------------------------------------------

def apply_opco(etab, old_idcc: str | None = None) -> None:
    """Set the establishment's OPCO from its IDCC (table ConventionCollective → opco_code): a
    Monaco employer has none; an IDCC whose row names no OPCO (9999, 9998) or an unknown one
    clears it when the IDCC changed, and keeps the one the CFA set by hand otherwise."""
    if etab.monaco:
        etab.opco_code = None
        return
    convention = None
    if etab.idcc:
        with db.session.no_autoflush:
            convention = db.session.execute(sa.select(ConventionCollective).where(
                ConventionCollective.idcc == etab.idcc)).scalars().first()
    if convention is not None and convention.opco_code:
        etab.opco_code = convention.opco_code
    elif etab.idcc != old_idcc:
        etab.opco_code = None


def write(etab, values: dict[str, Any], *, billing: bool) -> None:
    """Write the establishment's columns given in ``values`` (IDENTITY_COLUMNS, and
    BILLING_COLUMNS when ``billing``); the OPCO from the IDCC, never from ``values``."""
    old_idcc = etab.idcc
    for column in IDENTITY_COLUMNS:
        if column in values:
            value = values[column]
            if column == "naf" and value:
                value = normalise_naf(value) or value
            if column == "monaco":
                value = bool(value)
            setattr(etab, column, value)
    etab.public = is_public_employer(etab.type_employeur)
    apply_opco(etab, old_idcc)
    if billing:
        # Hidden billing data is kept as it is: other dossiers of the establishment use it.
        for column in BILLING_COLUMNS:
            if column in values:
                value = values[column]
                if column == "facturation_siret" and value:
                    value = clean_digits(value)
                setattr(etab, column, value)


# --- linking ----------------------------------------------------------------------------------

def _entry(dossier, by, field, old, new, comment) -> None:
    db.session.add(DossierHistory(dossier=dossier, user_id=getattr(by, "id", None),
                                  kind="field", field=field, old_value=old, new_value=new,
                                  comment=comment))


def _point(dossier, etab) -> None:
    # The dossier's pointer: written here, inside the store of the one write path
    # (portal.dossiers.service.apply_changes), for a tab, a door or an approval.
    dossier.etablissement = etab
    dossier.employeur_siret = etab.siret
    dossier.etablissement_demande = None


def create_pending(siret: str, values: dict[str, Any] | None) -> Etablissement:
    """A new establishment pending the CFA's check, with its structure when the SIREN is new.
    Without ``values`` (the apprentice's door), it is named from the public company directory
    when that is enabled and answers."""
    values = dict(values or {})
    record = None
    if not values.get("denomination"):
        try:
            from portal.services.company_directory import lookup_from_config
            record = lookup_from_config(siret)
        except Exception:  # noqa: BLE001 - no directory: the name is typed later
            record = None
    name = (values.get("denomination") or getattr(record, "denomination", None)
            or f"Établissement {siret}")
    with db.session.no_autoflush:
        structure = db.session.execute(
            sa.select(Structure).where(Structure.siren == siret[:9])).scalars().first()
    if structure is None:
        structure = Structure(siren=siret[:9], raison_sociale=name,
                              public=is_public_employer(values.get("type_employeur")),
                              monaco=bool(values.get("monaco")))
        db.session.add(structure)
    etab = Etablissement(structure=structure, siret=siret, denomination=name, en_attente=True)
    for column in ("naf", "code_postal", "commune", "adresse_numero", "adresse_voie"):
        value = getattr(record, column, None)
        if value:
            setattr(etab, column, value)
    db.session.add(etab)
    return etab


def link_establishment(dossier, siret: str, *, by, contact=None,
                       data: dict[str, Any] | None = None,
                       billing: bool = False) -> LinkResult:
    """Point the dossier at the establishment of ``siret`` as the rules above say, for ``by``
    (the person saving). Whose membership decides, and whose the access request is:
    ``contact``, the employer contact the apprentice names; default ``dossier_employer`` (or
    ``by`` when the dossier has none). ``data``: Etablissement columns typed on the page,
    written only when ``by`` may change the establishment (``billing``: the billing columns
    too).

    Raises WriteRefused (French, on ``employeur_siret``) when the access request is refused."""
    siret = clean_digits(siret)
    etab = find(siret)
    if etab is None:
        etab = create_pending(siret, data)
        _entry(dossier, by, CREATED_ENTRY, None, siret,
               f"{etab.denomination}, en attente de vérification par le CFA")
        _point(dossier, etab)
        if data:
            write(etab, data, billing=billing)
        else:
            apply_opco(etab)
        # The employer who named it (the contact on the apprentice's door) is the first
        # account of the structure: its référent when the structure is new to Sillon, else a
        # claim in the CFA's queue (portal.accounts.referents).
        referents.claim_first_referent(etab.structure, contact if contact is not None else by,
                                       dossiers=(dossier,))
        return LinkResult(etab, created=True, may_update=True)
    requester = contact if contact is not None else (dossier_employer(dossier) or by)
    if not may_point_at(dossier, etab, requester):
        if getattr(requester, "id", None) is None:
            db.session.flush()  # a contact invited in this transaction gets their id
        try:
            access = request_access(requester, siret)
        except StructureAccessRefused as exc:
            raise WriteRefused(str(exc), {"employeur_siret": str(exc)}) from None
        if not access.became_referent:
            _ask(dossier, etab, by)
            return LinkResult(dossier.etablissement, requested=etab)
    _point(dossier, etab)
    allowed = may_update(etab, dossier, by)
    if allowed and data:
        write(etab, data, billing=billing)
    return LinkResult(etab, may_update=allowed)


def link_known_many(items, *, by, members: set | None = None) -> None:
    """link_establishment(dossier, etab.siret, by=by, contact=contact) for each (dossier,
    etab, contact) of ``items``, in order, where ``etab`` is the known establishment of that
    SIRET and ``contact`` the dossier's employer contact (the import: hundreds of rows naming
    the same establishments): the same pointers, history entries, access requests and e-mails,
    with the structures and memberships read once (portal.accounts.structures.AccessRequests)
    and no flush per row: the caller's next flush writes them."""
    if not items:
        return
    if any(contact.id is None for _, _, contact in items):
        db.session.flush()  # the contacts invited in this transaction get their ids
    requests = AccessRequests([c for _, _, c in items], [e.siret for _, e, _ in items])
    # Who belongs to which structure: the caller's answer, or read once here (a request made
    # below is pending; a contact who becomes the référent below is seen as such by
    # policy.may_point_at, which reads the structure's référent as it is now).
    members = set(policy.belonging([(contact, etab.structure) for _, etab, contact in items])
                  if members is None else members)
    with db.session.no_autoflush:
        for dossier, etab, contact in items:
            if not may_point_at(dossier, etab, contact, members):
                try:
                    access = requests.request(contact, etab.siret)
                except StructureAccessRefused as exc:
                    raise WriteRefused(str(exc), {"employeur_siret": str(exc)}) from None
                if not access.became_referent:
                    _ask(dossier, etab, by)
                    continue
            _point(dossier, etab)


def _ask(dossier, etab, by) -> None:
    if dossier.etablissement_demande is not etab:
        _entry(dossier, by, REQUEST_ENTRY, None, etab.siret,
               "Établissement d'une autre structure : demande d'accès envoyée à son référent "
               "(ou au CFA s'il n'en a pas)")
    dossier.employeur_siret = etab.siret
    dossier.etablissement_demande = etab


def waiting_dossiers(membership) -> list:
    """After a membership is approved: the dossiers still open to the parties whose employer is
    this person and that asked for an establishment of this structure (the write path points
    them at it: portal.dossiers.service.apply_approval)."""
    if membership is None or membership.status != StructureMembership.APPROUVE:
        return []
    person = membership.user
    open_states = [code for code, state in STATES.items() if not state.locked_for_parties]
    with db.session.no_autoflush:
        dossiers = db.session.execute(
            sa.select(Dossier).join(Etablissement,
                                    Dossier.etablissement_demande_id == Etablissement.id)
            .where(Etablissement.structure_id == membership.structure_id,
                   Dossier.state.in_(open_states))
            .order_by(Dossier.id)).scalars().all()
    return [d for d in dossiers if dossier_employer(d) is person]


def point_asked(dossier, by) -> None:
    """The store of an approval: the dossier points at the establishment it asked for."""
    etab = dossier.etablissement_demande
    _entry(dossier, by, LINKED_ENTRY, dossier.employeur_siret, etab.siret,
           f"{etab.denomination} : demande d'accès acceptée")
    _point(dossier, etab)
