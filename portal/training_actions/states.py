"""A training-action request's life (SPEC §6, seed 003) as a table, like the dossier's
workflow: who may move it (the roles a person holds *on this request*:
portal.policy.roles_on_inscription), from which states, whether a comment is required, the
guard (a name in portal/training_actions/guards.py) and the e-mails (names in
portal/training_actions/messages.py). The only place a request's state means something."""
from __future__ import annotations

from dataclasses import dataclass

from portal.models.enrolments import INSCRIPTION_STATES

BENEFICIARY, EMPLOYER, CFA = "beneficiaire", "employeur", "cfa"


@dataclass(frozen=True)
class RequestState:
    code: str
    label: str
    active: bool        # counts in the year's limit and holds the person's place
    final: bool = False


STATES: dict[str, RequestState] = {s.code: s for s in (
    RequestState("demandee", INSCRIPTION_STATES["demandee"], True),
    RequestState("acceptee_employeur", INSCRIPTION_STATES["acceptee_employeur"], True),
    RequestState("refusee_employeur", INSCRIPTION_STATES["refusee_employeur"], False, True),
    RequestState("retenue", INSCRIPTION_STATES["retenue"], True),
    RequestState("liste_attente", INSCRIPTION_STATES["liste_attente"], True),
    RequestState("non_retenue", INSCRIPTION_STATES["non_retenue"], False, True),
    RequestState("annulee", INSCRIPTION_STATES["annulee"], False, True),
    RequestState("presente", INSCRIPTION_STATES["presente"], True, True),
    RequestState("absente", INSCRIPTION_STATES["absente"], True, True),
)}
STATE_CHOICES = [(s.code, s.label) for s in STATES.values()]
ACTIVE = tuple(s.code for s in STATES.values() if s.active)


@dataclass(frozen=True)
class Step:
    code: str
    label: str
    sources: tuple[str, ...]
    target: str
    actors: frozenset
    needs_comment: bool = False
    comment_label: str = "Commentaire"
    guard: str | None = None
    mails: tuple[str, ...] = ()
    after: tuple[str, ...] = ()   # automatic rows: the steps after which they are tried

    @property
    def automatic(self) -> bool:
        return bool(self.after)


_OPEN = ("demandee", "acceptee_employeur", "liste_attente", "retenue")

STEPS: dict[str, Step] = {s.code: s for s in (
    Step("accepter", "Accepter la demande", ("demandee",), "acceptee_employeur",
         frozenset({EMPLOYER}), mails=("to_beneficiary", "to_organiser")),
    Step("refuser", "Refuser la demande", ("demandee",), "refusee_employeur",
         frozenset({EMPLOYER}), needs_comment=True, comment_label="Motif du refus",
         mails=("to_beneficiary",)),
    Step("retenir", "Retenir", ("acceptee_employeur", "liste_attente"), "retenue",
         frozenset({CFA}), guard="place", mails=("to_beneficiary", "to_employer")),
    Step("mettre_en_attente", "Mettre en liste d'attente", ("acceptee_employeur",),
         "liste_attente", frozenset({CFA}), mails=("to_beneficiary",)),
    Step("ne_pas_retenir", "Ne pas retenir", ("acceptee_employeur", "liste_attente"),
         "non_retenue", frozenset({CFA}), needs_comment=True,
         comment_label="Motif (communiqué à la personne)",
         mails=("to_beneficiary", "to_employer")),
    Step("annuler", "Annuler la demande", _OPEN, "annulee",
         frozenset({BENEFICIARY, EMPLOYER, CFA}), needs_comment=True,
         comment_label="Motif de l'annulation", guard="not_started",
         mails=("to_beneficiary", "to_employer", "to_organiser")),
    Step("marquer_presente", "Présente à la session", ("retenue",), "presente",
         frozenset({CFA}), guard="started", mails=()),
    Step("marquer_absente", "Absente à la session", ("retenue",), "absente",
         frozenset({CFA}), guard="started", mails=()),
    # --- automatic row: a place freed moves the waiting list up -------------------------------
    Step("promouvoir", "Place libérée : retenue depuis la liste d'attente", ("liste_attente",),
         "retenue", frozenset(), guard="place", mails=("to_beneficiary", "to_employer"),
         after=("annuler",)),
)}


def manual_steps() -> list[Step]:
    return [s for s in STEPS.values() if not s.automatic]


def steps_from(state: str) -> list[Step]:
    return [s for s in manual_steps() if state in s.sources]


def state_label(code: str | None) -> str:
    state = STATES.get(code or "")
    return state.label if state else (code or "")
