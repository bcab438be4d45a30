""""J'ai trouvé un employeur" (seed 002): the apprentice gives the establishment's SIRET and the
employer contact's e-mail; the establishment is found (or created, pending the CFA's check, from
the SIRET) and the contact is invited to the dossier. No commit here."""
from __future__ import annotations

from sqlalchemy import select

from portal.accounts import invitations as accounts
from portal.extensions import db
from portal.models import DossierHistory, Etablissement, Structure
from portal.rules.identifiers import clean_digits, is_valid_siret

SIRET_INVALID = ("Ce numéro SIRET n'est pas valide : 14 chiffres dont le dernier est une clé de "
                 "contrôle (il figure sur la fiche de paie ou l'avis de situation Sirene).")


class EmployerLinkError(ValueError):
    """A French message about one field (``field``)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def find_or_create_etablissement(siret: str, *, by) -> tuple[Etablissement, bool]:
    """The establishment with this SIRET; unknown, it is created pending the CFA's check, named
    from the public company directory when it is enabled and answers."""
    etab = db.session.execute(
        select(Etablissement).where(Etablissement.siret == siret)).scalar_one_or_none()
    if etab is not None:
        return etab, False
    from portal.services.company_directory import lookup_from_config
    record = lookup_from_config(siret)
    name = getattr(record, "denomination", None) or f"Établissement {siret}"
    structure = db.session.execute(
        select(Structure).where(Structure.siren == siret[:9])).scalar_one_or_none()
    if structure is None:
        structure = Structure(siren=siret[:9], raison_sociale=name)
        db.session.add(structure)
    etab = Etablissement(structure=structure, siret=siret, denomination=name, en_attente=True)
    for attr in ("naf", "code_postal", "commune", "adresse_numero", "adresse_voie"):
        value = getattr(record, attr, None)
        if value:
            setattr(etab, attr, value)
    db.session.add(etab)
    return etab, True


def attach_employer(dossier, siret: str, contact_email: str, *, by) -> accounts.Invitation:
    siret = clean_digits(siret)
    if not is_valid_siret(siret):
        raise EmployerLinkError("siret", SIRET_INVALID)
    contact_email = accounts.normalize_email(contact_email)
    if dossier.apprenti_email and contact_email == accounts.normalize_email(dossier.apprenti_email):
        raise EmployerLinkError("email", "Indiquez l'e-mail du contact chez l'employeur (la "
                                         "personne des ressources humaines en général), pas le "
                                         "vôtre.")
    etab, created = find_or_create_etablissement(siret, by=by)
    old_siret = dossier.employeur_siret
    dossier.employeur_siret = siret
    dossier.etablissement = etab
    dossier.employeur_contact_email = contact_email
    db.session.add(DossierHistory(
        dossier=dossier, user_id=getattr(by, "id", None), kind="field",
        field="J'ai trouvé un employeur – SIRET", old_value=old_siret, new_value=siret,
        comment=(f"{etab.denomination}, en attente de vérification par le CFA" if created
                 else etab.denomination)))
    db.session.add(DossierHistory(
        dossier=dossier, user_id=getattr(by, "id", None), kind="field",
        field="J'ai trouvé un employeur – contact employeur", new_value=contact_email))
    invitations = accounts.link_dossier_people(dossier, by=by,
                                               fields=("employeur_contact_email",))
    return invitations[0]
