"""The SQL a person's scope is made of, built once per process (portal.policy.scope).

Each rule of scope.py reads nothing of the person but their id and roles (and no date, no
setting): the clause it builds for (model, id, roles) is built once and reused. An SQL
expression is immutable, and the rows it selects are read when a statement runs: a person
made référent of a structure meanwhile sees its dossiers at once (tests/test_policy_memo.py).
The kind of database is part of the key: some clauses take the form it reads best
(scope._among, the CFA's count)."""
from __future__ import annotations

from portal.extensions import database_kind

_CLAUSES: dict[tuple, object] = {}
MAX_CLAUSES = 4096  # (kind, person, roles, database) kept; a full table starts again


def remembered(kind, user, build):
    """``build(user)``, built once per (kind, person, roles, database kind) — for SQL built
    from the person's id and roles alone (row filters, list_menus' statements)."""
    if user.id is None:
        return build(user)
    key = (kind, user.id, user.role_codes, database_kind())
    found = _CLAUSES.get(key)
    if found is None:
        if len(_CLAUSES) >= MAX_CLAUSES:
            _CLAUSES.clear()
        found = _CLAUSES[key] = build(user)
    return found
