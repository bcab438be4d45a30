"""The dossier's state machine (SPEC §3), as two tables: the states and the transitions.

This is the only place a state means something: which states lock the dossier (for the
parties, for everyone), which documents exist in it, when signed documents may be returned,
which deadlines apply; and which transitions exist — who may trigger them, their guard, the
e-mails they send, and those that happen by themselves (the entry states, both signed
documents returned, the automatic validation). Everything here is data: the write path
(portal/dossiers/service.py and transitions.py) runs it, portal/policy.py, the documents, the
deadlines and the screens read it.
"""
from __future__ import annotations

from dataclasses import dataclass

from portal.models.dossiers import INITIAL_STATE  # noqa: F401  (the models own the constant)


@dataclass(frozen=True)
class State:
    code: str
    label: str
    next_action: str
    actors: tuple[str, ...]  # role codes expected to act next
    locked_for_parties: bool  # apprentice and employer can no longer change the dossier
    locked: bool  # nobody can change it (except `cfa_fields`, or an unlock)
    final: bool = False  # the dossier's life is over (cancelled, broken off)
    entry: bool = False  # the parties are entering data (saving a tab moves it along)
    validated: bool = False  # the training has validated the dossier
    opco_sent: bool = False  # the contract has been sent to the OPCO
    documents: tuple[str, ...] = ()  # generated documents available (SPEC §3)
    signed_returns: bool = False  # the employer may upload the signed CERFA and convention
    e_signature: bool = False  # the CFA may send the CERFA and convention for e-signature
    cfa_fields: frozenset = frozenset()  # Dossier columns CFA staff may still change


_AFTER_FORMATION = ("cerfa", "devis")
_AFTER_ECONOMY = ("cerfa", "devis", "convention")

_STATES = (
    State("initialise", "Initialisé", "Saisie", ("alternant", "employeur"), False, False,
          entry=True),
    State("en_saisie", "Saisie en cours", "Compléter les onglets", ("alternant", "employeur"),
          False, False, entry=True),
    State("saisie_complete", "Saisie complète", "Demande de validation",
          ("alternant", "employeur"), False, False, entry=True),
    State("validation_demandee", "Validation demandée", "Validation (formation)",
          ("formation_responsable",), True, False),
    State("valide_formation", "Validé par la formation",
          "Validation des éléments économiques (CFA)", ("cfa_conseiller",), True, True,
          validated=True, documents=_AFTER_FORMATION,
          cfa_fields=frozenset({"cfa_conseiller_id"})),
    State("economie_validee", "Éléments économiques validés",
          "Retour des documents signés (employeur)", ("employeur",), True, True,
          validated=True, documents=_AFTER_ECONOMY, signed_returns=True, e_signature=True),
    State("documents_retournes", "Documents signés retournés", "Validation des documents (CFA)",
          ("cfa_conseiller",), True, True, validated=True, documents=_AFTER_ECONOMY,
          signed_returns=True),
    State("documents_valides", "CERFA visé", "Envoi à l'OPCO (employeur)", ("employeur",),
          True, True, validated=True, documents=_AFTER_ECONOMY),
    State("envoye_opco", "Envoyé à l'OPCO", "Suivi OPCO (CFA)", ("cfa_conseiller",), True, True,
          validated=True, opco_sent=True, documents=_AFTER_ECONOMY),
    # Side exits.
    State("a_corriger", "Retour pour correction", "Corriger la saisie",
          ("alternant", "employeur"), False, False),
    State("annule", "Annulé", "Aucune", (), True, True, final=True),
    State("rompu", "Rupture", "Aucune", (), True, True, final=True),
)

STATES: dict[str, State] = {s.code: s for s in _STATES}
STATE_CHOICES = [(s.code, s.label) for s in _STATES]
MAIN_PATH = [s.code for s in _STATES[:9]]
FINAL_STATES = tuple(s.code for s in _STATES if s.final)
OPEN_STATES = tuple(s.code for s in _STATES if not s.final)


def states_where(**flags) -> tuple[str, ...]:
    """The codes of the states whose attributes equal ``flags``, e.g.
    ``states_where(validated=True)``; for a tuple attribute, ``documents="cerfa"`` matches the
    states where that document exists."""
    def matches(state: State) -> bool:
        for name, wanted in flags.items():
            value = getattr(state, name)
            if isinstance(value, tuple) and not isinstance(wanted, tuple):
                if wanted not in value:
                    return False
            elif value != wanted:
                return False
        return True
    return tuple(s.code for s in _STATES if matches(s))


def state_label(code: str | None) -> str:
    state = STATES.get(code or "")
    return state.label if state else (code or "")


# --- transitions (SPEC §3) -----------------------------------------------------------------------
# Each row: where it starts, who may trigger it (roles the person holds *on this dossier*,
# portal.policy.roles_on_dossier), its guard (a name in portal/dossiers/guards.py), the e-mails
# it sends (names in portal/mail/messages.py) and the stamp it sets. Automatic rows are run by
# the write path, not by a person, after the events named in `after`: "saisie" (data of the
# dossier saved), "depot" (a signed document returned), "refus_signature" (a signer refused
# to sign electronically: portal/signatures), or a transition's code.

PARTIES = frozenset({"alternant", "employeur"})
MANAGER = frozenset({"formation_responsable"})
FORMATION = frozenset({"formation_responsable", "formation_gestionnaire"})
CFA = frozenset({"cfa_admin", "cfa_conseiller"})
ADMIN = frozenset({"cfa_admin"})


@dataclass(frozen=True)
class Transition:
    code: str
    label: str                       # the button / action label
    sources: tuple[str, ...]
    target: str
    roles: frozenset = frozenset()   # empty for automatic rows
    needs_comment: bool = False
    comment_label: str = "Commentaire"
    bulk: bool = False               # offered as a list action on many dossiers
    guard: str | None = None         # name of a guard in portal/dossiers/guards.py
    mails: tuple[str, ...] = ()      # names of mail builders in portal/mail/messages.py
    stamp: str | None = None         # Dossier column <stamp>_at (and <stamp>_par_id) to set
    after: tuple[str, ...] = ()      # automatic rows: the events after which it is tried
    note: str | None = None          # automatic rows: the history comment
    # The person cannot undo it (a final state, the CERFA's visa e-mailed, the OPCO told, the
    # validations lost): the write path refuses it unless the person confirmed it.
    irreversible: bool = False
    step: bool = False               # the next step of the main path (offered on Résumé)

    @property
    def automatic(self) -> bool:
        return bool(self.after)


_VALIDATION_SOURCES = ("saisie_complete", "a_corriger")
_AFTER_REQUEST = ("validation_demandee", "valide_formation", "economie_validee",
                  "documents_retournes")
_STARTED = ("valide_formation", "economie_validee", "documents_retournes", "documents_valides",
            "envoye_opco")

TRANSITIONS: dict[str, Transition] = {t.code: t for t in (
    Transition("demander_validation", "Demander la validation", _VALIDATION_SOURCES,
               "validation_demandee", PARTIES, guard="complete",
               mails=("to_managers_validation",), step=True),
    Transition("valider_formation", "Valider le dossier", ("validation_demandee",),
               "valide_formation", MANAGER | ADMIN, bulk=True,
               mails=("to_cfa_economy", "to_parties_validated"), stamp="formation_validee",
               step=True),
    Transition("valider_economie", "Valider les éléments économiques", ("valide_formation",),
               "economie_validee", CFA, bulk=True, guard="economy",
               mails=("to_employer_documents",), stamp="economie_validee", step=True),
    Transition("valider_documents", "Valider les documents et viser le CERFA",
               ("documents_retournes",), "documents_valides", CFA, guard="signed_documents",
               mails=("to_employer_stamped",), stamp="documents_valides", step=True,
               irreversible=True),
    Transition("declarer_envoi_opco", "Déclarer l'envoi à l'OPCO", ("documents_valides",),
               "envoye_opco", frozenset({"employeur"}) | CFA, guard="opco_deposit",
               mails=("to_cfa_opco",), stamp="envoye_opco", step=True, irreversible=True),
    Transition("renvoyer_correction", "Renvoyer pour correction",
               _AFTER_REQUEST + ("saisie_complete",), "a_corriger", MANAGER | CFA,
               needs_comment=True, comment_label="Ce qui doit être corrigé",
               mails=("to_parties_correction",)),
    Transition("annuler", "Annuler le dossier", OPEN_STATES, "annule", MANAGER | ADMIN,
               needs_comment=True, comment_label="Motif de l'annulation",
               mails=("to_everyone_cancelled",), irreversible=True),
    Transition("rompre", "Déclarer une rupture", _STARTED, "rompu",
               CFA | frozenset({"employeur"}), needs_comment=True,
               comment_label="Cause de la rupture", guard="rupture",
               mails=("to_everyone_broken",), irreversible=True),
    Transition("deverrouiller", "Déverrouiller le dossier", _STARTED, "a_corriger", ADMIN,
               needs_comment=True, comment_label="Motif du déverrouillage",
               mails=("to_parties_correction",), irreversible=True),
    # --- automatic rows -------------------------------------------------------------------------
    Transition("saisie_en_cours", "Saisie en cours", ("initialise", "saisie_complete"),
               "en_saisie", guard="incomplete", after=("saisie",)),
    Transition("saisie_terminee", "Saisie complète", ("initialise", "en_saisie"),
               "saisie_complete", guard="entry_complete", after=("saisie",)),
    Transition("documents_retournes", "Documents signés retournés", ("economie_validee",),
               "documents_retournes", guard="signed_documents", mails=("to_cfa_documents",),
               after=("depot",)),
    Transition("signature_refusee", "Signature électronique refusée", ("economie_validee",),
               "a_corriger", mails=("to_everyone_signature_refused",),
               after=("refus_signature",), note="Signature électronique refusée"),
    Transition("validation_automatique", "Validation automatique de la formation",
               ("validation_demandee",), "valide_formation", guard="automatic_validation",
               mails=("to_cfa_economy", "to_parties_validated"), stamp="formation_validee",
               after=("demander_validation",), note="Validation automatique de la formation"),
)}


def manual_transitions() -> list[Transition]:
    return [t for t in TRANSITIONS.values() if not t.automatic]


def bulk_transitions() -> list[Transition]:
    """The transitions offered as list actions (the table's `bulk` column)."""
    return [t for t in TRANSITIONS.values() if t.bulk]


def automatic_after(event: str, state: str) -> list[Transition]:
    """The automatic rows to try after ``event`` on a dossier in ``state``, in table order."""
    return [t for t in TRANSITIONS.values() if event in t.after and state in t.sources]


def transitions_from(state: str) -> list[Transition]:
    return [t for t in manual_transitions() if state in t.sources]


def next_steps(state: str) -> list[Transition]:
    """The main path's next step(s) from ``state`` (the table's `step` column)."""
    return [t for t in transitions_from(state) if t.step]


CONFIRM_FIELD = "confirmation"   # the form field a person ticks to confirm an irreversible row


def confirmation_text(transition: Transition) -> str:
    """What the person confirms, in French."""
    return f"Je confirme « {transition.label} » : cette action est définitive."


def now():
    """Naive UTC timestamp, as stored in the database."""
    from portal.models.people import utcnow
    return utcnow()
