"""The OPCO financing (SPEC §5): who sees which prise en charge, claim, invoice and payment, and
who may change them. CFA staff follow every dossier's financing; an employer reads its own
dossiers' financing (what it will be billed and when), never another's nor the CFA's claims to
the OPCO; apprentices and the trainings' staff see none of it. The reference tables, the
delegating organisations and the CFA's contact sheet are the cfa_admin's."""
from __future__ import annotations

from sqlalchemy import false, select, true

from portal.models import (CFA_ADMIN, CFA_ROLES, EMPLOYEUR, Cfa, DemandeRemboursement, Dossier,
                           Echeance, Facture, OrganismeDelegant, Paiement, PriseEnCharge, User)
from portal.policy.scope import employer_dossier_ids, employer_only

NOT_YOURS = "Ce dossier n'existe pas ou ne vous est pas accessible."
CFA_ONLY = "Seule l'équipe du CFA suit le financement auprès de l'OPCO."


def pec_filter(user: User):
    if user.has_role(*CFA_ROLES):
        return true()
    if user.has_role(EMPLOYEUR):
        return PriseEnCharge.dossier_id.in_(employer_dossier_ids(user))
    return false()


def financing_follows_dossiers(user: User) -> bool:
    """Whether the prises en charge the person sees (pec_filter) are exactly those of the
    dossiers they see (dossier_filter): the CFA's staff, and a person who sees dossiers as an
    employer only. Then a prise en charge of a dossier already in their scope needs no filter
    of its own (portal/dossiers/listing.search_clause)."""
    return user.has_role(*CFA_ROLES) or employer_only(user)


def echeance_filter(user: User):
    """The schedule: CFA staff, and the employer of the dossier (when it will be billed)."""
    if user.has_role(*CFA_ROLES):
        return true()
    if user.has_role(EMPLOYEUR):
        return Echeance.prise_en_charge_id.in_(select(PriseEnCharge.id).where(pec_filter(user)))
    return false()


def cfa_only_filter(user: User):
    """Claims to the OPCO, their payments and the delegating organisations: CFA staff."""
    return true() if user.has_role(*CFA_ROLES) else false()


def facture_filter(user: User):
    """Invoices: CFA staff all; an employer the invoices addressed to it for its dossiers."""
    if user.has_role(*CFA_ROLES):
        return true()
    if user.has_role(EMPLOYEUR):
        return (Facture.destinataire == "employeur") & Facture.prise_en_charge_id.in_(
            select(PriseEnCharge.id).where(pec_filter(user)))
    return false()


FILTERS = {PriseEnCharge: pec_filter, Echeance: echeance_filter,
           DemandeRemboursement: cfa_only_filter, Paiement: cfa_only_filter,
           OrganismeDelegant: cfa_only_filter, Facture: facture_filter}

# The CFA's own row (its contact sheet): the cfa_admin edits it; everyone reads its identity.
VIEW_ROLES = {PriseEnCharge: CFA_ROLES | {EMPLOYEUR}, OrganismeDelegant: CFA_ROLES,
              Cfa: frozenset({CFA_ADMIN})}
CREATE_ROLES = {OrganismeDelegant: frozenset({CFA_ADMIN})}
EDIT_ROLES = {OrganismeDelegant: frozenset({CFA_ADMIN}), Cfa: frozenset({CFA_ADMIN})}
DELETE_ROLES = {OrganismeDelegant: frozenset({CFA_ADMIN})}


def may_see_financing(user: User, dossier: Dossier) -> bool:
    """The dossier's Financement tab: CFA staff, and the employer of this dossier (read-only),
    once the dossier has a prise en charge."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.has_role(*CFA_ROLES):
        return True
    if not user.has_role(EMPLOYEUR):
        return False
    from portal.policy.dossier_writes import roles_on_dossier
    return "employeur" in roles_on_dossier(user, dossier)


def financing_refusal(user: User, pec: PriseEnCharge | None = None) -> str | None:
    """Why this person may not record the OPCO's answers, the amounts, the claims and the
    payments of a prise en charge (French); None for CFA staff."""
    if user is None or not getattr(user, "is_authenticated", False):
        return NOT_YOURS
    return None if user.has_role(*CFA_ROLES) else CFA_ONLY


def may_see_amounts_of(user: User) -> bool:
    """CFA staff see the claims and payments; an employer sees only its own billing."""
    return user is not None and user.has_role(*CFA_ROLES)


def may_open_finance_dashboard(user: User) -> bool:
    """The CFA's finance dashboard (expected cash, claims to deposit, late payments)."""
    return user is not None and getattr(user, "is_authenticated", False) and \
        user.has_role(*CFA_ROLES)


# What an employer may download of its dossier's financing: the invoice addressed to it.
EMPLOYER_DOCUMENTS = frozenset({"facture_employeur"})


def financing_document_allowed(user: User, what: str) -> bool:
    """``what``: "facture_opco", "facture_employeur", "certificat" or "recepisse" of a prise en
    charge the person may see (policy.may_see_financing)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.has_role(*CFA_ROLES):
        return True
    return user.has_role(EMPLOYEUR) and what in EMPLOYER_DOCUMENTS
