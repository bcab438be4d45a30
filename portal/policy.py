"""Who sees and changes what (SPEC §1). The one place row scoping is decided.

Every function takes the user and returns either an SQL filter (to put on a query) or a
boolean predicate on a loaded object. A person's scope is the union of what each of their
roles grants: a role never widens or narrows another.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import false, or_, select, true, union
from sqlalchemy import inspect as sa_inspect

from portal.extensions import db

from .models import (ALTERNANT, CFA_ADMIN, CFA_CONSEILLER, CFA_ROLES, EMPLOYEUR,
                     FORMATION_GESTIONNAIRE, FORMATION_RESPONSABLE, FORMATION_ROLES, AideEmployeur,
                     Cfa, CodeReference, ConventionCollective, Dossier, Etablissement,
                     EtablissementFormation, Formation,
                     GrilleRemuneration, ImportBatch, Opco, Smic, Structure,
                     StructureMembership, StructureRequest, User, formation_gestionnaires,
                     formation_responsables)
from portal.dossiers.workflow import ADMIN, MANAGER, PARTIES, STATES

REFERENCE_MODELS = (CodeReference, Smic, GrilleRemuneration, Opco, ConventionCollective,
                    AideEmployeur)


# --- building blocks ---------------------------------------------------------------------------

def managed_formation_ids(user: User):
    """Sub-select of the trainings a person manages or helps manage."""
    selects = []
    if user.has_role(FORMATION_RESPONSABLE):
        selects.append(select(formation_responsables.c.formation_id)
                       .where(formation_responsables.c.user_id == user.id))
    if user.has_role(FORMATION_GESTIONNAIRE):
        selects.append(select(formation_gestionnaires.c.formation_id)
                       .where(formation_gestionnaires.c.user_id == user.id))
    if not selects:
        return None
    return selects[0] if len(selects) == 1 else union(*selects)


def referent_structure_ids(user: User):
    return select(Structure.id).where(Structure.referent_id == user.id)


def member_structure_ids(user: User):
    """Structures the person belongs to (approved membership) or is référent of."""
    return union(
        referent_structure_ids(user),
        select(StructureMembership.structure_id).where(
            StructureMembership.user_id == user.id,
            StructureMembership.status == StructureMembership.APPROUVE),
    )


def _any(clauses):
    clauses = [c for c in clauses if c is not None]
    if not clauses:
        return false()
    return clauses[0] if len(clauses) == 1 else or_(*clauses)


# --- row filters per model ------------------------------------------------------------------------

def dossier_filter(user: User):
    if user.has_role(*CFA_ROLES):
        return true()
    clauses = []
    formations = managed_formation_ids(user)
    if formations is not None:
        clauses.append(Dossier.formation_id.in_(formations))
    if user.has_role(EMPLOYEUR):
        clauses.append(Dossier.employer_contact_id == user.id)
        clauses.append(Dossier.etablissement_id.in_(
            select(Etablissement.id).where(Etablissement.structure_id.in_(
                referent_structure_ids(user)))))
    if user.has_role(ALTERNANT):
        clauses.append(Dossier.apprentice_user_id == user.id)
    return _any(clauses)


def formation_filter(user: User):
    if user.has_role(*CFA_ROLES):
        return true()
    formations = managed_formation_ids(user)
    return Formation.id.in_(formations) if formations is not None else false()


def structure_filter(user: User):
    if user.has_role(*CFA_ROLES):
        return true()
    if user.has_role(EMPLOYEUR):
        return Structure.id.in_(member_structure_ids(user))
    return false()


def etablissement_filter(user: User):
    if user.has_role(*CFA_ROLES):
        return true()
    if user.has_role(EMPLOYEUR):
        return or_(
            Etablissement.structure_id.in_(member_structure_ids(user)),
            Etablissement.id.in_(select(Dossier.etablissement_id)
                                 .where(Dossier.employer_contact_id == user.id)),
        )
    return false()


def user_filter(user: User):
    # CFA staff see every dossier, hence every person on them (e.g. to pick a structure's
    # référent); only the cfa_admin opens the user screens (see _VIEW_ROLES).
    return true() if user.has_role(*CFA_ROLES) else User.id == user.id


def cfa_filter(user: User):
    # The CFA's identity (name, UAI, address) is printed on every document: public to all.
    return true()


def etablissement_formation_filter(user: User):
    if user.has_role(*CFA_ROLES):
        return true()
    formations = managed_formation_ids(user)
    if formations is None:
        return false()
    return EtablissementFormation.id.in_(
        select(Formation.etablissement_formation_id).where(Formation.id.in_(formations)))


def membership_filter(user: User):
    """Access requests and memberships a person decides on: those of the structures they are
    référent of; CFA staff decide every one (structures without a référent among them)."""
    if user.has_role(*CFA_ROLES):
        return true()
    return StructureMembership.structure_id.in_(referent_structure_ids(user))


def structure_request_filter(user: User):
    """Requests to create a structure: CFA staff handle them."""
    return true() if user.has_role(*CFA_ROLES) else false()


def import_batch_filter(user: User):
    """An import belongs to its training: CFA staff, or its managers and gestionnaires."""
    if user.has_role(*CFA_ROLES):
        return true()
    formations = managed_formation_ids(user)
    return ImportBatch.formation_id.in_(formations) if formations is not None else false()


def reference_filter(user: User):
    return true() if user.has_role(CFA_ADMIN) else false()


_FILTERS = {
    Dossier: dossier_filter,
    Formation: formation_filter,
    Structure: structure_filter,
    Etablissement: etablissement_filter,
    User: user_filter,
    Cfa: cfa_filter,
    EtablissementFormation: etablissement_formation_filter,
    StructureMembership: membership_filter,
    StructureRequest: structure_request_filter,
    ImportBatch: import_batch_filter,
    **{model: reference_filter for model in REFERENCE_MODELS},
}


def row_filter(model, user: User):
    """The SQL filter restricting ``model`` to what ``user`` may see. Unknown model: nothing."""
    if user is None or not getattr(user, "is_authenticated", False):
        return false()
    rule = _FILTERS.get(model)
    return rule(user) if rule else false()


def scoped(query, model, user: User):
    return query.filter(row_filter(model, user))


# --- which screens a person may open -------------------------------------------------------------

_VIEW_ROLES = {
    Dossier: CFA_ROLES | FORMATION_ROLES | {EMPLOYEUR, ALTERNANT},
    Formation: CFA_ROLES | FORMATION_ROLES,
    Structure: CFA_ROLES | {EMPLOYEUR},
    Etablissement: CFA_ROLES | {EMPLOYEUR},
    User: frozenset({CFA_ADMIN}),
    **{model: frozenset({CFA_ADMIN}) for model in REFERENCE_MODELS},
}

_CREATE_ROLES = {
    Dossier: CFA_ROLES | FORMATION_ROLES,
    Formation: frozenset({CFA_ADMIN}),
    Structure: CFA_ROLES,
    Etablissement: CFA_ROLES,
    User: frozenset({CFA_ADMIN}),
    **{model: frozenset({CFA_ADMIN}) for model in REFERENCE_MODELS},
}

_EDIT_ROLES = {
    Dossier: CFA_ROLES | FORMATION_ROLES | {EMPLOYEUR, ALTERNANT},
    Formation: frozenset({CFA_ADMIN, FORMATION_RESPONSABLE}),
    Structure: CFA_ROLES,
    Etablissement: CFA_ROLES | {EMPLOYEUR},
    User: frozenset({CFA_ADMIN}),
    **{model: frozenset({CFA_ADMIN}) for model in REFERENCE_MODELS},
}

_DELETE_ROLES = {
    Dossier: frozenset({CFA_ADMIN}),
    Formation: frozenset({CFA_ADMIN}),
    Structure: frozenset({CFA_ADMIN}),
    Etablissement: frozenset({CFA_ADMIN}),
    User: frozenset(),  # users are deactivated, never deleted (history keeps their name)
    **{model: frozenset({CFA_ADMIN}) for model in REFERENCE_MODELS},
}


def _holds(user: User, roles) -> bool:
    return user is not None and getattr(user, "is_authenticated", False) and user.has_role(*roles)


def may_open(user: User, model) -> bool:
    return _holds(user, _VIEW_ROLES.get(model, ()))


def may_create(user: User, model) -> bool:
    return _holds(user, _CREATE_ROLES.get(model, ()))


def may_edit_some(user: User, model) -> bool:
    """Whether the person may edit rows of this model at all (the view's can_edit)."""
    return _holds(user, _EDIT_ROLES.get(model, ()))


def may_delete_some(user: User, model) -> bool:
    return _holds(user, _DELETE_ROLES.get(model, ()))


# --- per-row predicates ----------------------------------------------------------------------------

def can_see(user: User, obj) -> bool:
    """Whether a loaded object is inside the person's scope (evaluated in SQL, one query)."""
    from .extensions import db
    model = type(obj)
    if not may_open(user, model) and model not in _FILTERS:
        return False
    stmt = select(model.id).where(model.id == obj.id, row_filter(model, user))
    return db.session.execute(stmt).first() is not None


def dossier_locked_for(user: User, dossier: Dossier) -> str | None:
    """Why the dossier cannot be changed by this person now, in French; None if it can."""
    return state_locked_for(user, dossier.state)


def state_locked_for(user: User, state_code: str | None) -> str | None:
    """Why a dossier in this state cannot be changed by this person, in French."""
    state = STATES.get(state_code or "")
    if state is None:
        return None
    if state.locked:
        return (f"Le dossier est verrouillé (état « {state.label} ») : "
                "il ne peut plus être modifié.")
    parties_only = not user.has_role(*(CFA_ROLES | FORMATION_ROLES))
    if state.locked_for_parties and parties_only:
        return (f"La validation a été demandée (état « {state.label} ») : "
                "vous ne pouvez plus modifier le dossier.")
    return None


def may_edit(user: User, obj) -> bool:
    model = type(obj)
    if not may_edit_some(user, model) or not can_see(user, obj):
        return False
    if isinstance(obj, Dossier):
        return dossier_locked_for(user, obj) is None
    if isinstance(obj, Formation):
        # A manager configures their training; the gestionnaire helps but does not configure.
        return user.has_role(CFA_ADMIN) or user in obj.responsables
    if isinstance(obj, Etablissement) and not user.has_role(*CFA_ROLES):
        # Employers change the establishments of the structures they are référent of.
        return obj.structure is not None and obj.structure.referent_id == user.id
    return True


def may_delete(user: User, obj) -> bool:
    if not may_delete_some(user, type(obj)) or not can_see(user, obj):
        return False
    if isinstance(obj, Dossier):
        return dossier_locked_for(user, obj) is None
    return True


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
    from .models import UserRole
    return User.query.join(UserRole).filter(UserRole.role == CFA_CONSEILLER,
                                            User.active.is_(True)).order_by(User.last_name)


# --- trainings and structures: who acts for them ---------------------------------------------

def manages_formation(user: User, formation) -> bool:
    """A manager or a gestionnaire of this very training (the role *on this training*)."""
    if user is None or formation is None or not getattr(user, "is_authenticated", False):
        return False
    return ((user.has_role(FORMATION_RESPONSABLE) and user in formation.responsables)
            or (user.has_role(FORMATION_GESTIONNAIRE) and user in formation.gestionnaires))


def may_import(user: User, formation) -> bool:
    """Importing apprentices into a training: CFA staff, or its managers and gestionnaires."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return user.has_role(*CFA_ROLES) or manages_formation(user, formation)


def import_row_decision(row, confirmed_lines=()) -> str:
    """Which rows of an import may create a dossier: none with an error (whatever was ticked);
    a row whose apprentice has an open dossier elsewhere only when the manager ticked its line
    ("Créer quand même"); the others. A tick on a line without that warning changes nothing.
    (Whoever may import into a training is told the number, training and state of the open
    dossiers elsewhere of the e-mails in their file: portal.dossiers.imports.known_dossiers.)"""
    from portal.rules.imports import CREATE, REFUSED, UNCONFIRMED
    if not row.ok:
        return REFUSED
    if row.needs_confirmation and row.line not in confirmed_lines:
        return UNCONFIRMED
    return CREATE


def may_create_dossier_in(user: User, formation) -> bool:
    """Creating a dossier by hand in a training: CFA staff, or its managers and gestionnaires."""
    return may_import(user, formation)


def may_manage_structure(user: User, structure) -> bool:
    """The structure's current référent, or active CFA staff, decides for the structure."""
    if user is None or structure is None or not getattr(user, "active", False):
        return False
    return structure.referent_id == user.id or user.has_role(*CFA_ROLES)


def dashboard_sections(user: User) -> list[str]:
    """Which blocks of the dashboard a person gets (SPEC §7), by their roles: the CFA's queues,
    the trainings' progress, their own dossiers (parties), the access requests they decide."""
    sections = []
    if user.has_role(*CFA_ROLES):
        sections.append("cfa")
    if user.has_role(*FORMATION_ROLES):
        sections.append("formation")
    if user.has_role(EMPLOYEUR, ALTERNANT) and not user.has_role(*CFA_ROLES):
        sections.append("own")
    if user.has_role(EMPLOYEUR):
        sections.append("referent")
    return sections


# --- the first référent of a structure (seed 003) ----------------------------------------------
# PROFIL's "the first user of a structure becomes its référent" holds only for a structure new
# to Sillon (one a dossier's entry has just created from an unknown SIRET); a structure the CFA
# registered, or one with dossiers, gets its first référent from the CFA's approval queue.

def persistent(obj) -> bool:
    return obj is not None and sa_inspect(obj).persistent


def _origine(structure: Structure) -> str:
    """The structure's origin; a structure not flushed yet gets the column's default."""
    if structure.origine is not None:
        return structure.origine
    return Structure.__table__.c.origine.default.arg


def _points_at(dossier, structure: Structure) -> bool:
    etablissement = dossier.etablissement
    return etablissement is not None and etablissement.structure is structure


def other_dossiers_exist(structure: Structure, dossiers: Iterable = ()) -> bool:
    """Whether a dossier other than ``dossiers`` (those being set up in this transaction)
    points at an establishment of the structure: saved ones, and ones of this transaction not
    written yet (the callers defer their flush)."""
    own = list(dossiers)
    with db.session.no_autoflush:
        if persistent(structure):
            query = (select(Dossier.id)
                     .join(Etablissement, Etablissement.id == Dossier.etablissement_id)
                     .where(Etablissement.structure_id == structure.id))
            own_ids = [d.id for d in own if d.id is not None]
            if own_ids:
                query = query.where(Dossier.id.not_in(own_ids))
            if db.session.execute(query.limit(1)).first() is not None:
                return True
        for obj in list(db.session.new) + list(db.session.dirty):
            if isinstance(obj, Dossier) and not any(obj is d for d in own) \
                    and _points_at(obj, structure):
                return True
    return False


def _others_attached(structure: Structure, user: User) -> bool:
    """Someone else already belongs to the structure or asks to."""
    with db.session.no_autoflush:
        return any(m.user is not user and m.status != StructureMembership.REFUSE
                   for m in structure.memberships)


# --- the rule -----------------------------------------------------------------------------------

def first_account_becomes_referent(structure: Structure | None, user: User | None, *,
                                   dossiers: Iterable = ()) -> bool:
    """Whether ``user``, the first account of
    ``structure``, becomes its référent at once: only when the structure is new to Sillon —
    created by a dossier's entry (not registered by the CFA), with no dossier but ``dossiers``
    (the ones being set up in this same transaction) on its establishments, and nobody else
    attached to it yet. Otherwise the référent comes from the CFA's approval queue."""
    if structure is None or user is None or not user.active:
        return False
    if structure.referent_id is not None or structure.referent is not None:
        return False
    if _origine(structure) != Structure.ORIGINE_SAISIE:
        return False
    # Cheapest first: an import naming many contacts on one structure stops here after the
    # first one's request.
    return not _others_attached(structure, user) and not other_dossiers_exist(structure,
                                                                              dossiers)



# --- which establishment a dossier points at --------------------------------------------------

def belongs_to(user, structure) -> bool:
    """The person is the structure's référent or an approved member of it."""
    if user is None or structure is None or getattr(user, "id", None) is None:
        return False
    if structure.referent_id == user.id:
        return True
    if structure.id is None:
        return False
    with db.session.no_autoflush:
        return db.session.execute(select(StructureMembership.id).where(
            StructureMembership.structure_id == structure.id,
            StructureMembership.user_id == user.id,
            StructureMembership.status == StructureMembership.APPROUVE)).first() is not None


def dossier_employer(dossier):
    """The person whose membership decides where the dossier may point: its employer contact,
    or, when it has none, the référent of the structure it points at (the people holding the
    employer role on it, portal.policy.roles_on_dossier)."""
    if dossier.employer_contact is not None:
        return dossier.employer_contact
    etab = dossier.etablissement
    return etab.structure.referent if etab is not None and etab.structure else None


def may_point_at(dossier, etab, employer=None, *, created_here: bool = False) -> bool:
    """Whether the dossier may point at this known establishment (what the dossier shows and
    prints of it): it already does, it created it while pending (``created_here``), or its
    employer (default: dossier_employer) belongs to the establishment's structure. A known
    establishment of another structure is asked for, never pointed at."""
    if etab is None:
        return False
    if dossier.etablissement is etab or (etab.id is not None
                                         and dossier.etablissement_id == etab.id):
        return True
    if created_here:
        return True
    person = dossier_employer(dossier) if employer is None else employer
    return belongs_to(person, etab.structure)


def may_update_establishment(etab, dossier, user, *, created_here: bool = False) -> bool:
    """Who overwrites an establishment's fields from a dossier: a référent of its structure or
    the CFA (may_edit), or the dossier that created it while the CFA has not checked it."""
    if etab is None:
        return False
    with db.session.no_autoflush:
        if etab.id is not None and may_edit(user, etab):
            return True
    return created_here


def may_register_on(account: User | None) -> bool:
    """The access-code registration (an anonymous page, whose authority is the training's code)
    creates an account and its dossier for an address nobody holds yet, and nothing else: an
    existing account — active, pending on a temporary password, deactivated — gets no role, no
    dossier and no password from it."""
    return account is None


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
