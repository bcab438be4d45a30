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
    final: bool = False  # the dossier's life is over (cancelled, broken off)


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
    State("annule", "Annulé", "Aucune", (), True, True, final=True),
    State("rompu", "Rupture", "Aucune", (), True, True, final=True),
)

STATES: dict[str, State] = {s.code: s for s in _STATES}
STATE_CHOICES = [(s.code, s.label) for s in _STATES]
MAIN_PATH = [s.code for s in _STATES[:9]]
FINAL_STATES = tuple(s.code for s in _STATES if s.final)
OPEN_STATES = tuple(s.code for s in _STATES if not s.final)
from portal.models.dossiers import INITIAL_STATE  # noqa: E402  (the models own the constant)


def state_label(code: str | None) -> str:
    state = STATES.get(code or "")
    return state.label if state else (code or "")


def now():
    """Naive UTC timestamp, as stored in the database."""
    from portal.models.people import utcnow
    return utcnow()


# States where saving a tab moves the dossier along the entry states automatically.
_ENTRY_STATES = ("initialise", "en_saisie", "saisie_complete")


def entry_state_for(dossier) -> str:
    """en_saisie or saisie_complete, from the dossier's completeness (SPEC §3): every tab
    complete and valid, and the mission validated when the training requires one."""
    from portal.dossiers.tabs import dossier_is_complete
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
    from portal.extensions import db
    from portal.models import DossierHistory
    if dossier.state not in _ENTRY_STATES:
        return
    db.session.flush()
    target = entry_state_for(dossier)
    if target != dossier.state:
        db.session.add(DossierHistory(dossier=dossier, user_id=getattr(user, "id", None),
                                      kind="transition", from_state=dossier.state,
                                      to_state=target))
        dossier.state = target


# --- transitions (SPEC §3) -----------------------------------------------------------------------
# Each transition: where it starts, who may trigger it (roles the person holds *on this
# dossier*, portal.policy.roles_on_dossier), its guard (French refusal or None), the e-mails it
# sends and the history entry it writes — all in one transaction (run_transition).

PARTIES = frozenset({"alternant", "employeur"})
MANAGER = frozenset({"formation_responsable"})
FORMATION = frozenset({"formation_responsable", "formation_gestionnaire"})
CFA = frozenset({"cfa_admin", "cfa_conseiller"})
ADMIN = frozenset({"cfa_admin"})


class TransitionRefused(Exception):
    """A transition that cannot run: the message is French, for the user."""


@dataclass(frozen=True)
class Transition:
    code: str
    label: str                       # the button / action label
    sources: tuple[str, ...]
    target: str
    roles: frozenset
    needs_comment: bool = False
    comment_label: str = "Commentaire"
    bulk: bool = False               # offered as a list action
    guard: str | None = None         # name of a guard function below
    mails: tuple[str, ...] = ()      # names of mail builders below
    stamp: str | None = None         # Dossier column set to now / to the user


def _guard_complete(dossier) -> str | None:
    from portal.dossiers.tabs import dossier_findings
    errors = [tf for tf in dossier_findings(dossier) if tf.finding.level == "error"]
    if errors:
        return (f"La saisie n'est pas complète : {len(errors)} anomalie"
                f"{'s' if len(errors) > 1 else ''} à corriger (voir l'onglet Résumé).")
    formation = dossier.formation
    if formation is not None and formation.mission_requise and (
            dossier.mission is None or dossier.mission.status != "validee"):
        return "La mission doit être validée par le responsable de la formation."
    return None


def _guard_economy(dossier) -> str | None:
    formation = dossier.formation
    if formation is None or formation.prix is None:
        return "Le prix de la formation (NPEC) n'est pas renseigné sur la formation."
    etab = dossier.etablissement
    if etab is None:
        return "L'établissement employeur n'est pas renseigné."
    billing_needed = (dossier.dispositif == "professionnalisation" or etab.monaco
                      or (etab.type_employeur or "0") >= "21")
    if billing_needed and not (etab.facturation_raison_sociale and etab.facturation_adresse):
        return "Les informations de facturation de l'employeur sont obligatoires ici."
    return None


def _guard_started(dossier) -> str | None:
    from datetime import date
    if dossier.date_debut_contrat is None or dossier.date_debut_contrat > date.today():
        return "Une rupture n'est possible qu'après le début d'exécution du contrat."
    return None


def _guard_signed_documents(dossier) -> str | None:
    from portal.models import Document
    kinds = {kind for (kind,) in Document.query.with_entities(Document.kind)
             .filter(Document.dossier_id == dossier.id,
                     Document.kind.in_(("cerfa_signe", "convention_signee")))}
    missing = [label for kind, label in (("cerfa_signe", "le CERFA signé"),
                                         ("convention_signee", "la convention signée"))
               if kind not in kinds]
    if missing:
        return "Il manque " + " et ".join(missing) + "."
    return None


GUARDS = {"complete": _guard_complete, "economy": _guard_economy, "started": _guard_started,
          "signed_documents": _guard_signed_documents}

_VALIDATION_SOURCES = ("saisie_complete", "a_corriger")
_AFTER_REQUEST = ("validation_demandee", "valide_formation", "economie_validee",
                  "documents_retournes")
_OPEN = ("initialise", "en_saisie", "saisie_complete", "a_corriger", "validation_demandee",
         "valide_formation", "economie_validee", "documents_retournes", "documents_valides")

TRANSITIONS: dict[str, Transition] = {t.code: t for t in (
    Transition("demander_validation", "Demander la validation", _VALIDATION_SOURCES,
               "validation_demandee", PARTIES, guard="complete",
               mails=("to_managers_validation",)),
    Transition("valider_formation", "Valider le dossier", ("validation_demandee",),
               "valide_formation", MANAGER | ADMIN, bulk=True, mails=("to_cfa_economy",
                                                                      "to_parties_validated"),
               stamp="formation_validee"),
    Transition("valider_economie", "Valider les éléments économiques", ("valide_formation",),
               "economie_validee", CFA, bulk=True, guard="economy",
               mails=("to_employer_documents",), stamp="economie_validee"),
    Transition("valider_documents", "Valider les documents et viser le CERFA",
               ("documents_retournes",), "documents_valides", CFA, guard="signed_documents",
               mails=("to_employer_stamped",), stamp="documents_valides"),
    Transition("declarer_envoi_opco", "Déclarer l'envoi à l'OPCO", ("documents_valides",),
               "envoye_opco", frozenset({"employeur"}) | CFA, mails=("to_cfa_opco",),
               stamp="envoye_opco"),
    Transition("renvoyer_correction", "Renvoyer pour correction", _AFTER_REQUEST + (
               "saisie_complete",), "a_corriger", MANAGER | CFA, needs_comment=True,
               comment_label="Ce qui doit être corrigé", mails=("to_parties_correction",)),
    Transition("annuler", "Annuler le dossier", _OPEN, "annule", MANAGER | ADMIN,
               needs_comment=True, comment_label="Motif de l'annulation",
               mails=("to_everyone_cancelled",)),
    Transition("rompre", "Déclarer une rupture", ("valide_formation", "economie_validee",
                                                  "documents_retournes", "documents_valides",
                                                  "envoye_opco"),
               "rompu", CFA | frozenset({"employeur"}), needs_comment=True,
               comment_label="Cause de la rupture", guard="started",
               mails=("to_everyone_broken",)),
    Transition("deverrouiller", "Déverrouiller le dossier", ("valide_formation",
               "economie_validee", "documents_retournes", "documents_valides", "envoye_opco"),
               "a_corriger", ADMIN, needs_comment=True, comment_label="Motif du déverrouillage",
               mails=("to_parties_correction",)),
)}


def available_transitions(dossier, user) -> list[Transition]:
    """The transitions this person may try on this dossier now (guards aside)."""
    from portal.policy import roles_on_dossier
    roles = roles_on_dossier(user, dossier)
    return [t for t in TRANSITIONS.values() if dossier.state in t.sources and roles & t.roles]


def refusal(transition: Transition, dossier, user) -> str | None:
    """Why this person cannot run this transition on this dossier now, in French."""
    from portal.policy import roles_on_dossier
    if not roles_on_dossier(user, dossier) & transition.roles:
        return f"« {transition.label} » : vous n'avez pas le droit de faire cette action."
    if dossier.state not in transition.sources:
        return (f"« {transition.label} » est impossible dans l'état "
                f"« {state_label(dossier.state)} ».")
    if transition.guard:
        return GUARDS[transition.guard](dossier)
    return None


def run_transition(code: str, dossier, user, *, comment: str | None = None,
                   rupture_date=None, commit: bool = True) -> str:
    """Run one transition: guard, state change, timestamps, history entry and outbox e-mails in
    one transaction. Returns the new state; raises TransitionRefused (nothing changed)."""
    from portal.extensions import db
    transition = TRANSITIONS.get(code)
    if transition is None:
        raise TransitionRefused("Action inconnue.")
    reason = refusal(transition, dossier, user)
    comment = (comment or "").strip() or None
    if reason is None and transition.needs_comment and not comment:
        reason = f"« {transition.label} » : {transition.comment_label.lower()} est obligatoire."
    if reason is None and code == "rompre" and rupture_date is None:
        reason = "Indiquez la date de la rupture."
    if reason:
        raise TransitionRefused(reason)
    from portal.dossiers.locking import transition_scope
    with transition_scope(db.session):
        return _apply(transition, dossier, user, comment, rupture_date, commit)


def _apply(transition, dossier, user, comment, rupture_date, commit) -> str:
    from portal.extensions import db
    from portal.models import DossierHistory
    code = transition.code
    source = dossier.state
    target = transition.target
    dossier.state = target
    from portal.dossiers import snapshot
    snapshot.on_transition(dossier, source, target)
    stamp = now()
    if transition.stamp:
        setattr(dossier, f"{transition.stamp}_at", stamp)
        if hasattr(dossier, f"{transition.stamp}_par_id"):
            setattr(dossier, f"{transition.stamp}_par_id", user.id)
    if code == "demander_validation":
        from portal.policy import roles_on_dossier
        roles = roles_on_dossier(user, dossier)
        if "alternant" in roles:
            dossier.alternant_validation_demandee_at = stamp
        if "employeur" in roles:
            dossier.employeur_validation_demandee_at = stamp
    if code == "renvoyer_correction":
        dossier.correction_commentaire = comment
    if code == "annuler":
        dossier.annulation_motif = comment
    if code == "rompre":
        dossier.rupture_date, dossier.rupture_cause = rupture_date, comment[:200]
    if code == "deverrouiller":
        dossier.deverrouille_at, dossier.deverrouille_motif = stamp, comment
        dossier.correction_commentaire = comment
    db.session.add(DossierHistory(dossier=dossier, user_id=user.id, kind="transition",
                                  from_state=source, to_state=target, comment=comment,
                                  at=stamp))
    from portal.mail import messages as mails
    attachments = []
    if code == "valider_documents":
        # The CFA's visa on the signed CERFA, stored and sent to the employer.
        from portal.documents.stamp import stamp_cerfa
        visa = stamp_cerfa(dossier, user, stamp.date())
        if visa is not None:
            db.session.flush()
            attachments.append(visa)
    for builder in transition.mails:
        if attachments and builder == "to_employer_stamped":
            mails.to_employer_stamped(dossier, user=user, comment=comment,
                                      attachments=attachments)
        else:
            getattr(mails, builder)(dossier, user=user, comment=comment)
    # Automatic validation mode: the request validates at once (SPEC §3).
    if code == "demander_validation" and dossier.formation is not None and \
            dossier.formation.mode_validation == "automatique":
        dossier.state = "valide_formation"
        snapshot.on_transition(dossier, target, "valide_formation")
        dossier.formation_validee_at = stamp
        db.session.add(DossierHistory(dossier=dossier, user_id=user.id, kind="transition",
                                      from_state=target, to_state="valide_formation",
                                      comment="Validation automatique de la formation",
                                      at=stamp))
        mails.to_cfa_economy(dossier, user=user, comment=None)
        mails.to_parties_validated(dossier, user=user, comment=None)
        target = "valide_formation"
    if commit:
        db.session.commit()
    return target


# --- the mission gate (SPEC §2–§3) -------------------------------------------------------------

def mission_refusal(action: str, dossier, user) -> str | None:
    from portal.policy import roles_on_dossier
    roles = roles_on_dossier(user, dossier)
    mission = dossier.mission
    formation = dossier.formation
    if formation is None or not formation.mission_requise:
        return "Cette formation ne demande pas de mission."
    status = mission.status if mission is not None else "brouillon"
    if action == "soumettre":
        if not roles & PARTIES:
            return "Seuls l'employeur et l'alternant·e soumettent la mission."
        if mission is None or not (mission.description or "").strip():
            return "Décrivez la mission avant de la soumettre."
        if status not in ("brouillon", "a_corriger"):
            return "La mission a déjà été soumise."
        return None
    if not roles & (MANAGER | ADMIN):
        return "Seul le responsable de la formation valide ou renvoie la mission."
    if status != "soumise":
        return "La mission n'a pas été soumise."
    return None


def run_mission(action: str, dossier, user, *, comment: str | None = None,
                commit: bool = True) -> str:
    """soumettre (e-mails the manager) / valider / renvoyer (with a comment)."""
    from portal.extensions import db
    reason = mission_refusal(action, dossier, user)
    comment = (comment or "").strip() or None
    if reason is None and action == "renvoyer" and not comment:
        reason = "Indiquez ce qui doit être revu dans la mission."
    if reason:
        raise TransitionRefused(reason)
    from portal.dossiers.locking import transition_scope
    with transition_scope(db.session):
        return _apply_mission(action, dossier, user, comment, commit)


def _apply_mission(action, dossier, user, comment, commit) -> str:
    from portal.mail import messages as mails
    from portal.extensions import db
    from portal.models import DossierHistory
    mission, stamp = dossier.mission, now()
    labels = {"soumettre": "Mission soumise au responsable", "valider": "Mission validée",
              "renvoyer": "Mission renvoyée pour être revue"}
    if action == "soumettre":
        mission.status, mission.submitted_at, mission.submitted_by_id = "soumise", stamp, user.id
        mails.to_manager_mission(dossier, user=user, comment=None)
    elif action == "valider":
        mission.status, mission.validated_at, mission.validated_by_id = "validee", stamp, user.id
        mission.commentaire = comment
        mails.to_parties_mission(dossier, user=user, comment=comment, validated=True)
    else:
        mission.status, mission.commentaire = "a_corriger", comment
        mails.to_parties_mission(dossier, user=user, comment=comment, validated=False)
    db.session.add(DossierHistory(dossier=dossier, user_id=user.id, kind="mission",
                                  comment=labels[action] + (f" : {comment}" if comment else ""),
                                  at=stamp))
    if dossier.state in _ENTRY_STATES:
        db.session.flush()
        target = entry_state_for(dossier)
        if target != dossier.state:
            db.session.add(DossierHistory(dossier=dossier, user_id=user.id, kind="transition",
                                          from_state=dossier.state, to_state=target, at=stamp))
            dossier.state = target
    if commit:
        db.session.commit()
    return mission.status
