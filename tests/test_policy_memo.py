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
