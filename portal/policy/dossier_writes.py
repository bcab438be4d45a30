"""Writes on a dossier: who fills which tab, which fields a person may change on this dossier
in this state (by their roles *on this dossier*), the transitions, the mission gate, the
signed returns and "J'ai trouvé un employeur"."""
from __future__ import annotations

from portal.dossiers.workflow import ADMIN, MANAGER, PARTIES, STATES
from portal.models import (ALTERNANT, CFA_ADMIN, CFA_CONSEILLER, CFA_ROLES, EMPLOYEUR,
                           FORMATION_GESTIONNAIRE, FORMATION_RESPONSABLE, FORMATION_ROLES,
                           Dossier, User)
from portal.policy.scope import can_see, dossier_locked_for
from portal.policy.structures import may_manage_structure


# --- dossier tabs (SPEC §2: "filled by") ------------------------------------------------------

TAB_EDITORS = {
    "base": CFA_ROLES | FORMATION_ROLES | {EMPLOYEUR},
    "alternant": frozenset({ALTERNANT}),
    "employeur": frozenset({EMPLOYEUR}),
    "contrat": frozenset({EMPLOYEUR}),
    "mission": frozenset({EMPLOYEUR, ALTERNANT}),
}
TAB_FILLED_BY = {
    "base": "la formation, l'employeur ou le CFA",
    "alternant": "l'alternant·e",
    "employeur": "l'employeur",
    "contrat": "l'employeur",
    "mission": "l'employeur ou l'alternant·e",
}


def roles_on_dossier(user: User, dossier: Dossier) -> set[str]:
    """The roles a person holds *on this dossier* (an HR contact of ACME who also manages a
    training is not the employer of a Globex dossier of that training)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return set()
    roles = set()
    if user.has_role(CFA_ADMIN):
        roles.add(CFA_ADMIN)
    if user.has_role(CFA_CONSEILLER):
        roles.add(CFA_CONSEILLER)
    formation = dossier.formation
    if formation is not None:
        if user.has_role(FORMATION_RESPONSABLE) and user in formation.responsables:
            roles.add(FORMATION_RESPONSABLE)
        if user.has_role(FORMATION_GESTIONNAIRE) and user in formation.gestionnaires:
            roles.add(FORMATION_GESTIONNAIRE)
    if user.has_role(EMPLOYEUR):
        structure = dossier.etablissement.structure if dossier.etablissement else None
        if dossier.employer_contact_id == user.id or (
                structure is not None and structure.referent_id == user.id):
            roles.add(EMPLOYEUR)
    if user.has_role(ALTERNANT) and dossier.apprentice_user_id == user.id:
        roles.add(ALTERNANT)
    return roles


def tab_edit_refusal(user: User, dossier: Dossier, tab_code: str) -> str | None:
    """Why this person cannot change this tab of a dossier they see, in French; None if they
    can. The caller has already checked the dossier is in their scope."""
    editors = TAB_EDITORS.get(tab_code)
    if not editors:
        return "Cet onglet se consulte : il ne se modifie pas."
    if not roles_on_dossier(user, dossier) & editors:
        return f"Cet onglet est rempli par {TAB_FILLED_BY[tab_code]} : vous le consultez."
    mission = dossier.mission
    if tab_code == "mission" and mission is not None and mission.status in ("soumise", "validee"):
        return ("La mission a été soumise au responsable de la formation : elle ne se modifie "
                "plus, sauf s'il la renvoie." if mission.status == "soumise" else
                "La mission a été validée : elle ne se modifie plus.")
    return dossier_locked_for(user, dossier)


# --- writes: which fields of a dossier a person may change ------------------------------------

# Fields whose change decides who the dossier's people are: whoever can type them decides who
# gets the apprentice or employer role on the dossier (and reads it). They are the training's
# and the CFA's to set; the apprentice names the first employer contact through "J'ai trouvé
# un employeur" only (employer_found_refusal). Everything else follows TAB_EDITORS.
FIELD_EDITORS = {
    "apprenti_email": CFA_ROLES | FORMATION_ROLES,
    "employeur_contact_email": CFA_ROLES | FORMATION_ROLES,
    "cfa_conseiller_id": CFA_ROLES,
}
FIELD_REFUSALS = {
    "apprenti_email": "L'e-mail de l'alternant·e est modifié par la formation ou le CFA "
                      "(votre propre adresse se change dans « Mon compte »).",
    "employeur_contact_email": "Le contact employeur du dossier est désigné par la formation "
                               "ou le CFA.",
    "cfa_conseiller_id": "Le contact au CFA est choisi par l'équipe du CFA.",
}
# Doors that change a few fields with a right of their own (not a tab's).
DOOR_FIELDS = {
    "employer_found": frozenset({"employeur_siret", "employeur_contact_email"}),
    "conseiller": frozenset({"cfa_conseiller_id"}),
}
NOT_YOURS = "Ce dossier n'existe pas ou ne vous est pas accessible."


def _lock_refusal(user: User, dossier: Dossier, field: str) -> str | None:
    reason = dossier_locked_for(user, dossier)
    state = STATES.get(dossier.state or "")
    if reason and state is not None and field in state.cfa_fields and user.has_role(*CFA_ROLES):
        return None
    return reason


def change_refusals(user: User, dossier: Dossier, fields: dict[str, str | None], *,
                    source: str) -> dict[str, str]:
    """Why this person may not make this change, field by field, in French (empty: they may).
    ``fields`` maps each field the change writes to the tab showing it (None for a field no
    tab shows); ``source`` is the door ("tab", "employer_found", "conseiller", …). The key ""
    carries a refusal of the whole change."""
    if source == "approval":
        # A référent (or the CFA) accepted the person's access request: the dossiers that
        # asked for the structure's establishment are theirs to point at it.
        asked = dossier.etablissement_demande
        if fields or asked is None or not may_manage_structure(user, asked.structure):
            return {"": NOT_YOURS}
        return {}
    if user is None or not getattr(user, "is_authenticated", False) or not can_see(user, dossier):
        return {"": NOT_YOURS}
    door = DOOR_FIELDS.get(source)
    out: dict[str, str] = {}
    if source == "employer_found":
        reason = employer_found_refusal(user, dossier)
        for field in fields:
            if field not in door:
                out[field] = "Ce champ ne se renseigne pas ici."
            elif reason:
                out[field] = reason
        return out
    for field, tab_code in fields.items():
        if door is not None and field not in door:
            out[field] = "Ce champ ne se renseigne pas ici."
            continue
        editors = FIELD_EDITORS.get(field)
        if editors is not None and not roles_on_dossier(user, dossier) & editors:
            out[field] = FIELD_REFUSALS[field]
            continue
        if tab_code is not None:
            reason = tab_edit_refusal(user, dossier, tab_code)
        elif editors is None:
            reason = "Ce champ ne se modifie pas."
        else:
            reason = _lock_refusal(user, dossier, field)
        if reason:
            out[field] = reason
    return out


def readonly_fields(user: User, dossier: Dossier, names) -> set[str]:
    """The fields of a page this person may see but not change (shown disabled)."""
    return {name for name in names if name in FIELD_EDITORS
            and not roles_on_dossier(user, dossier) & FIELD_EDITORS[name]}


# --- writes: transitions and the mission gate ------------------------------------------------

def transition_refusal(user: User, dossier: Dossier, transition) -> str | None:
    """Whether this person may trigger this transition on this dossier, by the roles they hold
    *on this dossier* (the state and the guard are the workflow table's)."""
    if transition.automatic:
        return f"« {transition.label} » se fait d'elle-même : ce n'est pas une action."
    if not roles_on_dossier(user, dossier) & transition.roles:
        return f"« {transition.label} » : vous n'avez pas le droit de faire cette action."
    return None


MISSION_ACTION_ROLES = {"soumettre": PARTIES, "valider": MANAGER | ADMIN,
                        "renvoyer": MANAGER | ADMIN}


def mission_action_refusal(user: User, dossier: Dossier, action: str) -> str | None:
    """Who acts on the mission (SPEC §2): the parties submit it, the training's manager (or the
    CFA admin) validates it or sends it back."""
    roles = MISSION_ACTION_ROLES.get(action)
    if roles is None:
        return "Action inconnue."
    if not roles_on_dossier(user, dossier) & roles:
        if action == "soumettre":
            return "Seuls l'employeur et l'alternant·e soumettent la mission."
        return "Seul le responsable de la formation valide ou renvoie la mission."
    return dossier_locked_for(user, dossier)


def upload_refusal(user: User, dossier: Dossier) -> str | None:
    """Returning the signed CERFA and convention: the dossier's employer, in the states of the
    workflow table where signed documents are returned."""
    if "employeur" not in roles_on_dossier(user, dossier):
        return "Seul l'employeur du dossier dépose les documents signés."
    state = STATES.get(dossier.state or "")
    if state is None or not state.signed_returns:
        return ("Les documents signés se déposent une fois les éléments économiques validés "
                f"par le CFA (état actuel : « {state.label if state else dossier.state} »).")
    return None


# Role priority used to choose which form a person with several roles gets on a shared screen.
ROLE_PRIORITY = (CFA_ADMIN, CFA_CONSEILLER, FORMATION_RESPONSABLE, FORMATION_GESTIONNAIRE,
                 EMPLOYEUR, ALTERNANT)


def main_role(user: User) -> str | None:
    for role in ROLE_PRIORITY:
        if user.has_role(role):
            return role
    return None


def cfa_advisors():
    """People who can be the "contact au CFA" of a dossier (CFA staff is public to CFA staff)."""
    from portal.models import UserRole
    return User.query.join(UserRole).filter(UserRole.role == CFA_CONSEILLER,
                                            User.active.is_(True)).order_by(User.last_name)


def employer_found_refusal(user: User, dossier: Dossier) -> str | None:
    """"J'ai trouvé un employeur" (seed 002): the dossier's apprentice names the establishment
    and the employer contact, as long as no contact is named yet and the dossier is open to
    them. Why not, in French; None when they may."""
    if ALTERNANT not in roles_on_dossier(user, dossier):
        return "Seul·e l'alternant·e du dossier indique l'employeur trouvé."
    if dossier.employer_contact_id is not None or dossier.employeur_contact_email:
        return ("Le contact employeur est déjà renseigné : c'est lui qui complète cet onglet. "
                "Pour en changer, contactez votre formation.")
    return dossier_locked_for(user, dossier)
