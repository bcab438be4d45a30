"""The one write path of a dossier (ARCHITECTURE: one read path, one write path).

Every door — a tab page, the creation form, the import, the access-code registration,
"J'ai trouvé un employeur", an upload, a list action — hands its change to this module, which
asks portal.policy whether this person may make it on this dossier in this state, writes it,
links the people whose e-mail changed, writes the history with one formatter, bumps the
version and runs the automatic transitions of the workflow table. No door writes a dossier's
fields by itself.

Nothing here commits unless asked (``commit=True``): a door that creates many dossiers (the
import) commits once.
"""
from __future__ import annotations

from typing import Any

from portal import policy
from portal.accounts import invitations
from portal.extensions import db
from portal.models import Dossier, DossierHistory
from portal.models.dossiers import INITIAL_STATE


class WriteRefused(Exception):
    """A change this person may not make (or that cannot be made now). ``str(exc)`` is French;
    ``errors`` maps a field to its own French message when the refusal is about fields."""

    def __init__(self, message: str, errors: dict[str, str] | None = None):
        super().__init__(message)
        self.errors = dict(errors or {})


# --- creating a dossier -----------------------------------------------------------------------

# Dossier columns a creation may set (the Données de base of SPEC §2 and the import's columns).
CREATION_FIELDS = frozenset({
    "niveau_saisie", "dispositif", "apprenti_nom", "apprenti_prenom", "apprenti_date_naissance",
    "apprenti_email", "employeur_siret", "employeur_contact_email", "date_debut_contrat",
    "date_fin_contrat"})
SOURCES = ("create_form", "import", "registration")


def create_dossier(formation, fields: dict[str, Any], *, by, source: str,
                   comment: str | None = None, etablissement=None, invite: bool = True,
                   flush: bool = True):
    """A new dossier in ``formation`` (state ``initialise``) with its history entry, its people
    invited (``invite``). ``by`` is the acting person; None for the access-code registration,
    whose authority is the training's code (the caller checked it).

    Raises WriteRefused when ``by`` may not create a dossier in this training."""
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}")
    if source != "registration" and not policy.may_create_dossier_in(by, formation):
        raise WriteRefused("Vous ne pouvez pas créer de dossier dans cette formation.")
    unknown = set(fields) - CREATION_FIELDS
    if unknown:
        raise ValueError(f"not creation fields: {sorted(unknown)}")
    values = dict(fields)
    for name in invitations.PEOPLE_FIELDS:
        if values.get(name):
            values[name] = invitations.normalize_email(values[name])
    dossier = Dossier(formation=formation, state=INITIAL_STATE,
                      created_by_id=getattr(by, "id", None),
                      cfa_conseiller_id=formation.conseiller_cfa_id,
                      etablissement=etablissement, **values)
    db.session.add(dossier)
    history = DossierHistory(dossier=dossier, user_id=getattr(by, "id", None),
                             kind="transition", to_state=INITIAL_STATE, comment=comment)
    db.session.add(history)
    if flush:
        db.session.flush()  # the dossier's number is in the invitation e-mails
    if invite:
        people = invitations.link_dossier_people(dossier, by=by)
        if by is None and people:
            # Self-registration: the apprentice is the author of their dossier.
            if flush:
                db.session.flush()
            dossier.created_by = people[0].user
            history.user = people[0].user
    return dossier
