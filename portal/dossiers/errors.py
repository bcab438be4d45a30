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
    """Someone else changed the dossier meanwhile: nothing was written. The doors answer it
    with HTTP 409 (Conflict) and this French message."""


class TransitionRefused(WriteRefused):
    """A transition that cannot run: nothing changed."""


class AlreadyDone(TransitionRefused, Stale):
    """A transition or mission step that conflicts with what the dossier became since the
    person's page was shown: done meanwhile by someone else (the loser of a race), or the
    dossier moved past it. Nothing changed; answered 409."""


class Duplicate(WriteRefused):
    """A dossier that already exists: the apprentice has an open dossier in this training
    (one per apprentice, training and campaign — a Formation is one campaign). Answered 409,
    the message next to the apprentice's e-mail."""


STALE_MESSAGE = ("Ce dossier a été modifié par une autre personne pendant votre saisie : "
                 "vos changements n'ont pas été enregistrés. Rechargez la page pour voir la "
                 "version à jour.")
ALREADY_DONE = ("Ce dossier vient d'être modifié par une autre personne (action déjà faite ?) : "
                "rien n'a été changé. Rechargez la page.")
CONFLICT_TITLE = "Déjà fait ou modifié entre-temps"


def wrong_state(label: str, state: str) -> str:
    return (f"« {label} » est impossible dans l'état « {state} » : rien n'a été changé. Si "
            "votre page proposait cette action, le dossier a été modifié par une autre "
            "personne entre-temps (action déjà faite ?) : rechargez la page.")


def duplicate_message(email: str, number: int, *, creation: bool = True) -> str:
    return (f"{email} a déjà un dossier en cours dans cette formation (dossier n° {number}) : "
            + ("aucun dossier n'a été créé." if creation else "rien n'a été enregistré."))
