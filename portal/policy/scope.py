"""Reads: the rows each person may see (one SQL filter per model), the screens they may open,
and whether a loaded row is theirs to change or delete; the locks of the workflow table.
A person's scope is the union of what each of their roles grants."""
from __future__ import annotations

from sqlalchemy import any_, false, func, or_, select, true, union
from sqlalchemy.sql.elements import True_

from portal.dossiers.workflow import STATES
from portal.extensions import database_kind, db
from portal.models import (ALTERNANT, CFA_ADMIN, CFA_ROLES, EMPLOYEUR, FORMATION_GESTIONNAIRE,
                           FORMATION_RESPONSABLE, FORMATION_ROLES, AideEmployeur, Cfa,
                           CodeReference, ConventionCollective, Dossier, Etablissement,
                           EtablissementFormation, Formation, GrilleRemuneration, ImportBatch,
                           NiveauPriseEnCharge, Opco, PlafondFraisAnnexes, Smic, Structure,
                           StructureMembership, StructureRequest, User, formation_gestionnaires,
                           formation_responsables)
from portal.models.tallies import dossier_total
from portal.policy.memo import remembered


REFERENCE_MODELS = (CodeReference, Smic, GrilleRemuneration, Opco, ConventionCollective,
                    AideEmployeur, NiveauPriseEnCharge, PlafondFraisAnnexes)


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


def _among(column, ids):
    """``column IN (ids)``, on PostgreSQL ``= ANY(ARRAY(ids))``: the ids computed once, then an
    index range of each (``IN``: a semi-join merged over the primary key, 5 000 rows read for
    an employer's page of 20 at 100 000 dossiers). The same rows."""
    if database_kind() == "postgresql":
        return column == any_(func.array(ids.scalar_subquery()))
    return column.in_(ids)


def _any(clauses):
    clauses = [c for c in clauses if c is not None]
    if not clauses:
        return false()
    return clauses[0] if len(clauses) == 1 else or_(*clauses)


def employer_dossier_select(user: User, *columns):
    """``columns`` of the dossiers a person sees as an employer: those naming them as the
    employer's contact, and those of the establishments of the structures they are référent
    of; one UNION, each branch an index search (the contact's index, the establishment's,
    both covering the dossier's id, training and CFA advisor)."""
    establishments = select(Etablissement.id).where(
        Etablissement.structure_id.in_(referent_structure_ids(user)))
    return union(
        select(*columns).where(Dossier.employer_contact_id == user.id),
        select(*columns).where(Dossier.etablissement_id.in_(establishments)))


def employer_dossier_ids(user: User):
    return employer_dossier_select(user, Dossier.id)


def employer_only(user: User) -> bool:
    """Whether the person sees dossiers as an employer and in no other way."""
    return (user.has_role(EMPLOYEUR) and not user.has_role(*CFA_ROLES, ALTERNANT)
            and managed_formation_ids(user) is None)


def employer_dossier_clauses(user: User) -> list:
    """The dossiers a person sees as an employer: those naming them as the employer's contact,
    and those of the establishments of the structures they are référent of.

    One ``id IN (… UNION …)`` (issue 16 §1): each branch is an index search (the contact's
    index, the establishment's), so the cost follows the person's dossiers, not the table.
    An OR of the two makes SQLite and PostgreSQL read the whole establishment index for every
    employer, even one with no dossier (tests/test_query_plans.py)."""
    return [_among(Dossier.id, employer_dossier_ids(user))]


# --- row filters per model ------------------------------------------------------------------------

def dossier_filter(user: User):
    if user.has_role(*CFA_ROLES):
        return true()
    clauses = []
    formations = managed_formation_ids(user)
    if formations is not None:
        clauses.append(_among(Dossier.formation_id, formations))
    if user.has_role(EMPLOYEUR):
        clauses.extend(employer_dossier_clauses(user))
    if user.has_role(ALTERNANT):
        clauses.append(Dossier.apprentice_user_id == user.id)
    return _any(clauses)


def sees_dossiers_beyond_trainings(user: User) -> bool:
    """Whether dossier_filter grants dossiers of trainings formation_filter does not (an
    employer's, an apprentice's): the list's training menu then names those trainings too."""
    return not user.has_role(*CFA_ROLES) and user.has_role(EMPLOYEUR, ALTERNANT)


def sees_every_dossier(user: User) -> bool:
    """Whether dossier_filter lets the person see every dossier (the CFA's staff); anyone else
    sees a part (their trainings', their company's, their own), on which a search is best
    tested dossier by dossier (portal/dossiers/listing.search_clause)."""
    return user.has_role(*CFA_ROLES)


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


def _register(filters: dict, view: dict, create: dict, edit: dict, delete: dict) -> None:
    """A capability's own rules (portal/policy/financing.py) join the tables above."""
    _FILTERS.update(filters)
    for table, extra in ((_VIEW_ROLES, view), (_CREATE_ROLES, create), (_EDIT_ROLES, edit),
                         (_DELETE_ROLES, delete)):
        table.update(extra)


def row_filter(model, user: User):
    """The SQL filter restricting ``model`` to what ``user`` may see. Unknown model: nothing."""
    if user is None or not getattr(user, "is_authenticated", False):
        return false()
    rule = _FILTERS.get(model)
    if rule is None:
        return false()
    return remembered(model, user, rule)


def _count_of(model, user: User):
    if model is Dossier and sees_every_dossier(user) \
            and database_kind() == "postgresql":
        return dossier_total()
    ids = employer_dossier_ids(user) if model is Dossier and employer_only(user) else None
    if ids is not None:
        return select(func.count()).select_from(ids.subquery())
    return scoped(select(func.count()).select_from(model), model, user)


def count_statement(model, user: User):
    """SELECT count(*) of the rows of ``model`` the person sees (no filter, no search added).
    An employer's: from the union of their dossiers' ids, each branch an index search (0.19 ms
    at 100 000 dossiers; dossiers ``IN`` that union: 0.70 ms). The CFA's, on PostgreSQL: the
    dossiers' tally (portal.models.tallies), a few rows, not an index of every dossier."""
    if user is None or not getattr(user, "is_authenticated", False) or model not in _FILTERS:
        return select(func.count()).select_from(model).where(false())
    return remembered(("count", model), user, lambda person: _count_of(model, person))


def scoped(query, model, user: User):
    clause = row_filter(model, user)
    # "Everything" adds no WHERE: SQLite renders true() as `1 = 1`, which turns its count of
    # a table (a walk of the smallest index's pages: 0.02 ms at 100 000 dossiers) into a row
    # by row scan (1.6 ms). tests/test_query_plans.py checks the statement.
    if isinstance(clause, True_):
        return query
    return query.where(clause)


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
