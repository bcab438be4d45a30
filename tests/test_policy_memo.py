"""A person's row filters are built once per (model, person, roles) and reused
(portal/policy/scope.row_filter): the same rows as a clause built afresh, a role gained or lost
changes the clause, a structure's référent named meanwhile sees its dossiers at once."""
from __future__ import annotations

import sqlalchemy as sa

from portal.extensions import db
from portal.models import CFA_CONSEILLER, Dossier, Structure, User, UserRole
from portal.policy import scope

ACME_REFERENT = "rh@acme.sillon.demo"


def _user(email: str) -> User:
    return db.session.scalar(sa.select(User).where(User.email == email))


def _visible(user) -> set[int]:
    return set(db.session.scalars(sa.select(Dossier.id).where(scope.row_filter(Dossier, user))))


def _fresh(user) -> set[int]:
    return set(db.session.scalars(sa.select(Dossier.id).where(scope.dossier_filter(user))))


def test_the_clause_is_built_once_and_selects_what_a_fresh_one_selects(app):
    with app.app_context():
        for email in ("admin@sillon.demo", "resp.info@sillon.demo", ACME_REFERENT,
                      "alice@etu.sillon.demo"):
            user = _user(email)
            assert scope.row_filter(Dossier, user) is scope.row_filter(Dossier, user)
            assert _visible(user) == _fresh(user), email


def test_a_role_gained_or_lost_changes_the_clause(app):
    with app.app_context():
        user = _user(ACME_REFERENT)
        before = _visible(user)
        everything = set(db.session.scalars(sa.select(Dossier.id)))
        assert before < everything
        user.roles.append(UserRole(role=CFA_CONSEILLER))  # in memory only: rolled back
        try:
            assert _visible(user) == everything
        finally:
            db.session.rollback()
        user = _user(ACME_REFERENT)
        assert _visible(user) == before


def test_a_referent_named_meanwhile_sees_the_structures_dossiers_at_once(app):
    with app.app_context():
        user = _user(ACME_REFERENT)
        mine = _visible(user)
        other = db.session.scalar(sa.select(Structure).where(Structure.referent_id != user.id,
                                                              Structure.referent_id.is_not(None)))
        previous = other.referent_id
        other.referent_id = user.id
        db.session.flush()
        try:
            now = _visible(user)
            assert mine < now and now == _fresh(user)
        finally:
            db.session.rollback()
        assert _visible(_user(ACME_REFERENT)) == mine
        assert db.session.get(Structure, other.id).referent_id == previous


def _counted(user) -> int:
    return db.session.scalar(scope.count_statement(Dossier, user))


def test_the_count_statement_counts_what_the_row_filter_selects(app):
    """The list's count with no search and no filter (an employer's from the union of their
    dossiers' ids): the number of rows the row filter selects, for every kind of person, and
    for an employer who also holds another role (then counted through the row filter)."""
    with app.app_context():
        for email in ("admin@sillon.demo", "resp.info@sillon.demo", "gest.info@sillon.demo",
                      ACME_REFERENT, "alice@etu.sillon.demo"):
            user = _user(email)
            assert _counted(user) == len(_fresh(user)) > 0, email
        employer = _user(ACME_REFERENT)
        assert "FROM (SELECT dossiers.id" in str(scope.count_statement(Dossier, employer))
        employer.roles.append(UserRole(role=CFA_CONSEILLER))  # in memory only: rolled back
        try:
            assert _counted(employer) == db.session.scalar(
                sa.select(sa.func.count()).select_from(Dossier))
        finally:
            db.session.rollback()
        outsider = User(email="personne@example.org")
        assert db.session.scalar(scope.count_statement(Dossier, outsider)) == 0


def test_an_employers_menus_read_from_their_dossiers_pairs_are_the_probes_menus(app):
    """An employer's filter menus come from the (training, advisor) pairs of their dossiers
    (two covering index ranges, portal/dossiers/list_menus._employer_pairs): the same options
    as one probe per training and advisor through their row filter."""
    from portal.dossiers import list_menus
    with app.app_context():
        employers = db.session.scalars(
            sa.select(User).join(UserRole).where(UserRole.role == "employeur")
            .order_by(User.id)).all()
        employers = [u for u in employers if scope.employer_only(u)]
        assert len(employers) >= 3
        compared = 0
        for user in employers:
            pairs = list_menus.load_menus(user)
            probes = list_menus.load_menus(
                user, list_menus.menus_statement(user, probes=list_menus._probes))
            assert pairs == probes, user.email
            compared += bool(pairs.trainings)
        assert compared >= 2
        assert "visible_pairs" in str(list_menus.menus_statement(_user(ACME_REFERENT)))
