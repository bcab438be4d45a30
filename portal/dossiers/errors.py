"""Why a change to a dossier did not happen, in French, for the person who tried it."""
from __future__ import annotations


class WriteRefused(Exception):
    """A change this person may not make, or that cannot be made now. ``str(exc)`` is French;
    ``errors`` maps a field to its own French message when the refusal is about fields."""

    def __init__(self, message: str, errors: dict[str, str] | None = None,
                 findings: list | None = None):
        super().__init__(message)
        self.errors = dict(errors or {})
        self.findings = list(findings or [])  # every blocking anomaly (portal.rules.Finding)


class Stale(WriteRefused):
    """Someone else changed the dossier meanwhile: nothing was written."""


class TransitionRefused(WriteRefused):
    """A transition that cannot run: nothing changed."""


STALE_MESSAGE = ("Ce dossier a été modifié par une autre personne pendant votre saisie : "
                 "vos changements n'ont pas été enregistrés. Rechargez la page pour voir la "
                 "version à jour.")
ALREADY_DONE = ("Ce dossier vient d'être modifié par une autre personne (action déjà faite ?) : "
                "rien n'a été changé. Rechargez la page.")
