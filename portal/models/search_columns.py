"""The search columns' declaration (issue 16 §2): one ``recherche`` column per searched table
and its index. What fills them (the folded values, on every write) is
portal/dossiers/search_columns.py: models import no capability."""
from __future__ import annotations

from ..extensions import db

COLUMN = "recherche"


def search_column() -> db.Column:
    """The searched values of the row, folded (portal.rules.search.search_text)."""
    return db.Column(COLUMN, db.Text)


def trigram_index(name: str) -> db.Index:
    """The index of a table's search column: GIN with pg_trgm's operator class on PostgreSQL
    (it serves LIKE '%term%'), a plain B-tree on SQLite (narrow and covering: the search's
    sub-select scans it instead of the table)."""
    return db.Index(name, COLUMN, postgresql_using="gin",
                    postgresql_ops={COLUMN: "gin_trgm_ops"})
