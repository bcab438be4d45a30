"""The dossier list's filter menus (training, promotion, CFA advisor) read in one statement per
page (issue 16: at most 4 statements a list page: the person with their roles, the count, the
page, these menus; with no search and no filter, the count is these menus' first row: 3).

Both option lists come from the person's own scope (portal.policy): the trainings they may see
and those of the dossiers they see, the CFA's advisors named on the dossiers they see; never
another owner's names. The employer is filtered by a typed name or SIRET (admin_views/filters.py), not
by a menu: a CFA works with thousands of employers.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from flask import g, has_request_context
from sqlalchemy import Integer, String, literal, null, or_, select, union_all
from sqlalchemy.sql.elements import True_

from portal import policy
from portal.extensions import db
from portal.models import CFA_ROLES, Dossier, Formation, User, UserRole

_TRAINING, _ADVISOR, _COUNT = "f", "a", "n"
_CACHE = "sillon_dossier_list_menus"


@dataclass(frozen=True)
class Menus:
    trainings: tuple[tuple[int, str, int | None], ...]   # (id, title, campaign year)
    advisors: tuple[tuple[int, str], ...]                # (id, « NOM Prénom »)

    # The options of equal menus are equal: each is written once per distinct menus.
    def training_options(self) -> tuple[tuple[int, str], ...]:
        return _training_options(self.trainings)

    def promotion_options(self) -> tuple[tuple[int, str], ...]:
        return _promotion_options(self.trainings)

    def advisor_options(self) -> tuple[tuple[int, str], ...]:
        return self.advisors


@lru_cache(maxsize=256)
def _training_options(trainings) -> tuple[tuple[int, str], ...]:
    return tuple((pk, Formation.label_for(title, year)) for pk, title, year in trainings)


@lru_cache(maxsize=256)
def _promotion_options(trainings) -> tuple[tuple[int, str], ...]:
    years = sorted({year for _, _, year in trainings if year is not None}, reverse=True)
    return tuple((year, str(year)) for year in years)


def _named_on_a_visible_dossier(column, key, scope):
    """EXISTS (a dossier the person sees whose ``column`` is ``key``): an index search per
    training or advisor of the menu (there are a few), where the list of every visible
    dossier's value read a whole index range (50 000 entries for a training's manager)."""
    probe = select(Dossier.id).where(column == key)
    return (probe if isinstance(scope, True_) else probe.where(scope)).exists()


def _probes(user):
    """(the trainings named on a dossier the person sees, the advisors named on one)."""
    scope = policy.row_filter(Dossier, user)
    return (_named_on_a_visible_dossier(Dossier.formation_id, Formation.id, scope),
            _named_on_a_visible_dossier(Dossier.cfa_conseiller_id, User.id, scope))


def _employer_pairs(user):
    """The same for a person who sees dossiers as an employer only: the (training, advisor)
    pairs of their dossiers, read once from the two covering indexes of their scope (a probe
    per training went through every one of their dossiers for each of the CFA's trainings)."""
    pairs = policy.employer_dossier_select(
        user, Dossier.formation_id, Dossier.cfa_conseiller_id).cte("visible_pairs")
    return (Formation.id.in_(select(pairs.c.formation_id)),
            User.id.in_(select(pairs.c.cfa_conseiller_id)))


def menus_statement(user, probes=None):
    """One UNION ALL: (kind, id, text, second text, year) rows, trainings then advisors."""
    return union_all(*_menu_selects(user, probes))


def counted_menus_statement(user, count_statement):
    """The menus' statement with a first row ("n", the count of ``count_statement``): the
    list's count with no search and no filter and its menus in one statement, one round trip
    fewer a page (issue 16 §5: on PostgreSQL, whose server shares the workers' cores, each
    statement costs 0.3 to 0.5 ms of CPU on either side)."""
    count = select(literal(_COUNT).label("kind"), count_statement.scalar_subquery().label("id"),
                   null().cast(String).label("text"), null().cast(String).label("other"),
                   null().cast(Integer).label("year"))
    return union_all(count, *_menu_selects(user))


def _menu_selects(user, probes=None) -> list:
    trainings = select(literal(_TRAINING).label("kind"), Formation.id.label("id"),
                       Formation.intitule.label("text"),
                       null().cast(String).label("other"),
                       Formation.annee_campagne.label("year"))
    scope = policy.row_filter(Dossier, user)
    named_training, named_advisor = (probes or (
        _employer_pairs if policy.employer_only(user) else _probes))(user)
    if policy.sees_dossiers_beyond_trainings(user):  # the trainings of their dossiers too
        trainings = trainings.where(or_(policy.row_filter(Formation, user), named_training))
    elif not isinstance(scope, True_):
        trainings = trainings.where(policy.row_filter(Formation, user))
    # The CFA's staff (a few accounts), each with one dossier of the person naming them.
    staff = select(UserRole.user_id).where(UserRole.role.in_(sorted(CFA_ROLES)))
    advisors = select(literal(_ADVISOR), User.id, User.last_name, User.first_name,
                      null().cast(Integer)).where(User.id.in_(staff), named_advisor)
    return [trainings, advisors]


def _read(statement) -> tuple[Menus, int | None]:
    trainings, advisors, count = [], [], None
    for kind, pk, text, other, year in db.session.execute(statement):
        if kind == _TRAINING:
            trainings.append((pk, text, year))
        elif kind == _COUNT:
            count = int(pk)
        else:
            advisors.append((pk, f"{(text or '').upper()} {other or ''}".strip()))
    trainings.sort(key=lambda row: (-(row[2] or 0), row[1] or ""))
    advisors.sort(key=lambda row: row[1])
    return Menus(tuple(trainings), tuple(advisors)), count


def load_menus(user, statement=None) -> Menus:
    # Built of the person's row filters alone: once per (person, roles) (policy.remembered).
    if statement is None:
        statement = policy.remembered("dossier_list_menus", user, menus_statement)
    return _read(statement)[0]


def count_with_menus(user, count_statement) -> int:
    """The count of ``count_statement`` (policy.count_statement: the list with no search and
    no filter), read with the person's menus, which this request's menus() then returns."""
    statement = policy.remembered("dossier_list_counted_menus", user,
                                  lambda person: counted_menus_statement(person,
                                                                         count_statement))
    found, count = _read(statement)
    if has_request_context():
        g.setdefault(_CACHE, {})[user.id] = found
    return count


def menus(user) -> Menus:
    """The menus of this request (read once, whichever filter asks first)."""
    if not has_request_context():
        return load_menus(user)
    cache = g.setdefault(_CACHE, {})
    if user.id not in cache:
        cache[user.id] = load_menus(user)
    return cache[user.id]
