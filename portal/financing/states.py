"""The prise en charge's states and the OPCO's answers between them, as a table (seed 004's
glossary, SPEC §5). The only place a financing state means something: which answers exist
from which state, which need the OPCO's reason, which are decisions (they stop the 20-day
clock), which lock the amounts, which let the CFA claim instalments."""
from __future__ import annotations

from dataclasses import dataclass

from portal.models.financing import PEC_STATES


@dataclass(frozen=True)
class PecState:
    code: str
    label: str
    waiting_decision: bool = False  # the 20-day clock runs (SPEC §5: silence is a refusal)
    amounts_locked: bool = False    # agreed, refused or cancelled: the amounts are the OPCO's
    claims: bool = False            # instalments may be claimed
    final: bool = False


STATES: dict[str, PecState] = {s.code: s for s in (
    PecState("recu", PEC_STATES["recu"], waiting_decision=True),
    PecState("en_instruction", PEC_STATES["en_instruction"], waiting_decision=True),
    PecState("en_attente", PEC_STATES["en_attente"]),
    PecState("accorde", PEC_STATES["accorde"], amounts_locked=True, claims=True),
    PecState("refuse", PEC_STATES["refuse"], amounts_locked=True, final=True),
    PecState("annule", PEC_STATES["annule"], amounts_locked=True, final=True),
)}
STATE_CHOICES = [(s.code, s.label) for s in STATES.values()]


@dataclass(frozen=True)
class Answer:
    """An answer of the OPCO, recorded by the CFA: from ``sources`` to ``target``."""

    code: str
    label: str
    sources: tuple[str, ...]
    target: str
    needs_reason: bool = False
    reason_label: str = "Motif"
    decision: bool = False      # dates the OPCO's decision
    restarts_clock: bool = False  # the dossier is complete again: 20 new days


_OPEN = ("recu", "en_instruction", "en_attente")

ANSWERS: dict[str, Answer] = {a.code: a for a in (
    Answer("instruire", "Dossier pris en instruction", ("recu", "en_attente"), "en_instruction",
           restarts_clock=True),
    Answer("incomplet", "Dossier incomplet (en attente)", ("recu", "en_instruction"),
           "en_attente", needs_reason=True, reason_label="Pièces ou informations demandées par l'OPCO"),
    Answer("accorder", "Accord de prise en charge", _OPEN, "accorde", decision=True),
    Answer("refuser", "Refus de prise en charge", _OPEN, "refuse", needs_reason=True,
           reason_label="Motif du refus", decision=True),
    Answer("annuler", "Dossier annulé ou supprimé", _OPEN + ("accorde",), "annule",
           needs_reason=True, reason_label="Motif de l'annulation"),
)}


def answers_from(state: str) -> list[Answer]:
    return [a for a in ANSWERS.values() if state in a.sources]


def state_label(code: str | None) -> str:
    state = STATES.get(code or "")
    return state.label if state else (code or "")


def states_where(**flags) -> tuple[str, ...]:
    return tuple(s.code for s in STATES.values()
                 if all(getattr(s, k) == v for k, v in flags.items()))
