"""The dossier's state machine (SPEC §3).

This module holds the states as a table: code, French label, the next action and who must
do it. Transitions (guards, e-mails, history) are added to the same table by the workflow
issue; nothing else in the code base decides what a state means.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class State:
    code: str
    label: str
    next_action: str
    actors: tuple[str, ...]  # role codes expected to act next
    locked_for_parties: bool  # apprentice and employer can no longer change the dossier
    locked: bool  # nobody can change it (except the CFA on economic data, or an unlock)


_STATES = (
    State("initialise", "Initialisé", "Saisie", ("alternant", "employeur"), False, False),
    State("en_saisie", "Saisie en cours", "Compléter les onglets", ("alternant", "employeur"),
          False, False),
    State("saisie_complete", "Saisie complète", "Demande de validation",
          ("alternant", "employeur"), False, False),
    State("validation_demandee", "Validation demandée", "Validation (formation)",
          ("formation_responsable",), True, False),
    State("valide_formation", "Validé par la formation",
          "Validation des éléments économiques (CFA)", ("cfa_conseiller",), True, True),
    State("economie_validee", "Éléments économiques validés",
          "Retour des documents signés (employeur)", ("employeur",), True, True),
    State("documents_retournes", "Documents signés retournés", "Validation des documents (CFA)",
          ("cfa_conseiller",), True, True),
    State("documents_valides", "CERFA visé", "Envoi à l'OPCO (employeur)", ("employeur",),
          True, True),
    State("envoye_opco", "Envoyé à l'OPCO", "Suivi OPCO (CFA)", ("cfa_conseiller",), True, True),
    # Side exits.
    State("a_corriger", "Retour pour correction", "Corriger la saisie",
          ("alternant", "employeur"), False, False),
    State("annule", "Annulé", "Aucune", (), True, True),
    State("rompu", "Rupture", "Aucune", (), True, True),
)

STATES: dict[str, State] = {s.code: s for s in _STATES}
STATE_CHOICES = [(s.code, s.label) for s in _STATES]
MAIN_PATH = [s.code for s in _STATES[:9]]
INITIAL_STATE = "initialise"


def state_label(code: str | None) -> str:
    state = STATES.get(code or "")
    return state.label if state else (code or "")


def now():
    """Naive UTC timestamp, as stored in the database."""
    from .models.people import utcnow
    return utcnow()


# States where saving a tab moves the dossier along the entry states automatically.
_ENTRY_STATES = ("initialise", "en_saisie", "saisie_complete")


def entry_state_for(dossier) -> str:
    """en_saisie or saisie_complete, from the dossier's completeness (SPEC §3): every tab
    complete and valid, and the mission validated when the training requires one."""
    from .tabs import dossier_is_complete
    if not dossier_is_complete(dossier):
        return "en_saisie"
    formation = dossier.formation
    if formation is not None and formation.mission_requise:
        mission = dossier.mission
        if mission is None or mission.status != "validee":
            return "en_saisie"
    return "saisie_complete"


def on_tab_saved(dossier, user) -> None:
    """After a tab is saved: initialise → en_saisie, and en_saisie ⇄ saisie_complete as the
    dossier becomes complete or not. Each change is a history entry."""
    from .extensions import db
    from .models import DossierHistory
    if dossier.state not in _ENTRY_STATES:
        return
    db.session.flush()
    target = entry_state_for(dossier)
    if target != dossier.state:
        db.session.add(DossierHistory(dossier=dossier, user_id=getattr(user, "id", None),
                                      kind="transition", from_state=dossier.state,
                                      to_state=target))
        dossier.state = target
