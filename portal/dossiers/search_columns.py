"""What fills the search columns (issue 16 §2): each searched table keeps its searched values
folded (portal.rules.search.search_text) in its ``recherche`` column (declared in
portal/models/search_columns.py), written with the row whatever the door — the dossier
service, the import, the seeds, the financing service, an admin form:

- an ORM insert or update: mapper events (before_insert / before_update), recomputed when one
  of the source columns changed;
- a Core ``insert(table)`` naming no search column (the synthetic bench data, bulk inserts):
  the column's context-sensitive default, computed from the row's parameters;
- a value of another table (an establishment's structure name) is read on the flush's
  connection, and a structure renamed rewrites its establishments' columns after its UPDATE.

A Core ``update()`` of a source column bypasses all of this: none exists in the code base.
Registered once, when this module is first imported (portal.dossiers.listing imports it, and
create_app imports the admin views that import listing).
"""
from __future__ import annotations

from typing import Callable, Iterable

from sqlalchemy import bindparam, event, inspect, select
from sqlalchemy.orm import attributes, object_session
from sqlalchemy.schema import ColumnDefault

from portal.models import Dossier, Etablissement, PriseEnCharge, Structure
from portal.models.search_columns import COLUMN
from portal.rules.search import search_text


class SearchText:
    """How one table's search column is computed: search_text(the row's ``sources`` columns,
    then the values ``extra`` reads: (connection, the row's values) -> values). ``watched``:
    other columns whose change calls for a recomputation (a foreign key ``extra`` follows)."""

    def __init__(self, *sources: str, extra: Callable[[object, dict], Iterable] | None = None,
                 watched: tuple[str, ...] = ()):
        self.sources, self.extra, self.watched = sources, extra, watched

    def compute(self, connection, values: dict) -> str:
        own = [values.get(name) for name in self.sources]
        return search_text(*own, *(self.extra(connection, values) if self.extra else ()))

    def _from_parameters(self, context) -> str:
        return self.compute(context.connection, context.get_current_parameters())

    def register(self, model) -> None:
        """Fill ``model``'s column on the ORM's inserts and updates, and on a Core insert
        that does not name it (the column's default)."""
        ColumnDefault(self._from_parameters)._set_parent(model.__table__.c[COLUMN])
        names = self.sources + self.watched

        def values_of(target) -> dict:
            return {name: getattr(target, name) for name in names}

        @event.listens_for(model, "before_insert")
        def _on_insert(mapper, connection, target):
            setattr(target, COLUMN, self.compute(connection, values_of(target)))

        @event.listens_for(model, "before_update")
        def _on_update(mapper, connection, target):
            attrs = inspect(target).attrs
            if any(attrs[name].history.has_changes() for name in names):
                setattr(target, COLUMN, self.compute(connection, values_of(target)))


def _structure_name(connection, values: dict) -> tuple[str | None]:
    """The raison sociale of the establishment's structure, read on the flush's connection."""
    structure_id = values.get("structure_id")
    if structure_id is None:
        return (None,)
    table = Structure.__table__
    return (connection.execute(select(table.c.raison_sociale).where(
        table.c.id == structure_id)).scalar(),)


DOSSIER = SearchText("apprenti_nom", "apprenti_prenom", "apprenti_email", "employeur_siret")
ETABLISSEMENT = SearchText("denomination", "siret", extra=_structure_name,
                           watched=("structure_id",))
PRISE_EN_CHARGE = SearchText("numero_opco")


def _renamed_structure(mapper, connection, target):
    """A structure renamed: its establishments' search columns name it anew."""
    if not inspect(target).attrs.raison_sociale.history.has_changes():
        return
    table = Etablissement.__table__
    rows = connection.execute(select(table.c.id, table.c.denomination, table.c.siret).where(
        table.c.structure_id == target.id)).all()
    texts = {pk: search_text(name, siret, target.raison_sociale) for pk, name, siret in rows}
    if not texts:
        return
    connection.execute(table.update().where(table.c.id == bindparam("pk")).values(
        {COLUMN: bindparam("text")}), [{"pk": pk, "text": t} for pk, t in texts.items()])
    session = object_session(target)
    for obj in (list(session.identity_map.values()) if session is not None else ()):
        if isinstance(obj, Etablissement) and obj.id in texts:
            attributes.set_committed_value(obj, COLUMN, texts[obj.id])


def _register() -> None:
    if event.contains(Structure, "after_update", _renamed_structure):
        return
    DOSSIER.register(Dossier)
    ETABLISSEMENT.register(Etablissement)
    PRISE_EN_CHARGE.register(PriseEnCharge)
    event.listen(Structure, "after_update", _renamed_structure)


_register()
