""""J'ai trouvé un employeur" (seed 002): the apprentice gives the establishment's SIRET and the
employer contact's e-mail; the contact is invited to the dossier, and the dossier points at the
establishment as portal.dossiers.establishments rules it, the "employer" being the contact:

- an unknown SIRET creates the establishment, pending the CFA's check;
- a known establishment of a structure the contact belongs to is pointed at;
- a known establishment of another structure is not: an access request in the contact's name
  goes to its référent (or to the CFA), and nothing of it is shown until it is accepted.

The change goes through the one write path (portal.dossiers.service.apply_changes, door
"employer_found"), which checks the right (portal.policy.employer_found_refusal), writes the
history and commits.
"""
from __future__ import annotations

from portal.accounts import invitations as accounts
from portal.dossiers import establishments, service
from portal.rules.identifiers import clean_digits, is_valid_siret

SIRET_INVALID = ("Ce numéro SIRET n'est pas valide : 14 chiffres dont le dernier est une clé de "
                 "contrôle (il figure sur la fiche de paie ou l'avis de situation Sirene).")
OWN_ADDRESS = ("Indiquez l'e-mail du contact chez l'employeur (la personne des ressources "
               "humaines en général), pas le vôtre.")
INACTIVE_CONTACT = ("Le compte de ce contact est désactivé : il ne peut pas être rattaché à "
                    "l'établissement. Indiquez un autre contact, ou contactez votre formation.")


class EmployerLinkError(ValueError):
    """A French message about one field (``field``: "siret" or "email")."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def attach_employer(dossier, siret: str, contact_email: str, *, by,
                    commit: bool = True) -> accounts.Invitation:
    """Name the employer of ``dossier`` for its apprentice ``by``. Returns the contact's
    invitation. Raises EmployerLinkError (nothing written: the caller rolls back)."""
    siret = clean_digits(siret)
    if not is_valid_siret(siret):
        raise EmployerLinkError("siret", SIRET_INVALID)
    contact_email = accounts.normalize_email(contact_email)
    if dossier.apprenti_email and contact_email == accounts.normalize_email(dossier.apprenti_email):
        raise EmployerLinkError("email", OWN_ADDRESS)
    done: dict = {}
    notes: dict[str, str] = {}

    def store(dossier, changes, user):
        dossier.employeur_siret = siret
        dossier.employeur_contact_email = contact_email
        # The contact first (invited, or their account linked): their membership decides, and
        # they are the first account of a structure this door creates.
        done["invitations"] = accounts.link_dossier_people(
            dossier, by=user, fields=("employeur_contact_email",))
        contact = dossier.employer_contact
        if contact is not None and not contact.active and establishments.find(siret):
            raise EmployerLinkError("email", INACTIVE_CONTACT)
        result = establishments.link_establishment(dossier, siret, by=user, contact=contact)
        if result.requested is not None:
            comment = ("établissement d'une autre structure : demande d'accès envoyée à son "
                       "référent pour le contact employeur")
        elif result.created:
            comment = f"{result.etablissement.denomination}, en attente de vérification par le CFA"
        else:
            comment = result.etablissement.denomination
        notes["employeur_siret"] = comment

    try:
        service.apply_changes(dossier, {"employeur_siret": siret,
                                        "employeur_contact_email": contact_email},
                              by=by, source="employer_found", store=store, notes=notes,
                              commit=commit)
    except service.WriteRefused as exc:
        field = "siret" if "employeur_siret" in exc.errors else "email"
        raise EmployerLinkError(field, exc.errors.get("employeur_siret") or str(exc)) from None
    invitations = done.get("invitations") or []
    if invitations:
        return invitations[0]
    # The address was already the account linked to the dossier: nothing new to send.
    return accounts.Invitation(dossier.employer_contact, created=False, mailed=False)
