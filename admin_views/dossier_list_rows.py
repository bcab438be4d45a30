"""The dossier list's rows, lean (issue 16): each cell written from the row's own attributes,
the dossier's link built once per page and reused with each id, no per-row form.

Flask-Admin's generic row (`get_value` through formatters and type formatters, one `url_for`
per link, a delete form with its CSRF token per row) cost a third of a list request; deleting
stays possible as the confirmed bulk action « Supprimer » of the actions menu. The cells are
the same as the export's (admin_views/dossiers.py keeps the labels and the export formatters).
"""
from __future__ import annotations

from flask import g
from markupsafe import Markup, escape
from sqlalchemy import Integer, bindparam, select

from portal.extensions import db

from portal.dossiers.listing import next_actors_label
from portal.models import Dossier, Etablissement, Formation
from portal.dossiers.workflow import state_label
from portal.exports import moment_text

_LINK = "sillon_dossier_open_link"


def open_link(view, pk: int) -> str:
    """The dossier's first tab: url_for once a request, the id put in its place after."""
    parts = g.get(_LINK)
    if parts is None:
        parts = g.setdefault(_LINK, view.get_url(".tab_view", dossier_id=0,
                                                 tab_code="base").split("/0/", 1))
    return f"{parts[0]}/{int(pk)}/{parts[1]}"


# Each cell is escaped text (markupsafe's escape) joined by plain string operations:
# Markup.format goes through string.Formatter, ten times slower on a page of 20 rows.

def _apprentice(row, link):
    return f'<a href="{link}" class="sillon-open-dossier">{escape(row.apprenti_nom_complet)}</a>'


_STATE_CELLS: dict = {}


def _state(row, link):
    cell = _STATE_CELLS.get(row.state)
    if cell is None:  # one per state of the workflow table
        cell = _STATE_CELLS[row.state] = (
            f'<span class="badge badge-secondary sillon-state" data-state="{escape(row.state)}">'
            f'{escape(state_label(row.state))}</span>')
    return cell


def _day(value) -> str:
    """dd/mm/yyyy (portal.exports.day_text) without strftime's cost, twice a row."""
    return f"{value.day:02d}/{value.month:02d}/{value.year:04d}" if value else ""


def _text_of(value) -> str:
    return "" if value is None else str(value)


CELLS = {
    "apprenti": _apprentice,
    "id": lambda row, link: str(row.id),
    "state": _state,
    "next_actor": lambda row, link: escape(next_actors_label(row.state)),
    "etablissement": lambda row, link: escape(_text_of(row.etablissement)),
    "formation": lambda row, link: escape(_text_of(row.formation)),
    "date_debut_contrat": lambda row, link: _day(row.date_debut_contrat),
    "date_fin_contrat": lambda row, link: _day(row.date_fin_contrat),
    "updated_at": lambda row, link: moment_text(row.updated_at) if row.updated_at else "",
}


# --- the rows read as plain tuples ------------------------------------------------------------

class _Training:
    """A training as the list names it: its model's own __str__."""
    __slots__ = ("intitule", "annee_campagne")
    label_for = staticmethod(Formation.label_for)
    __str__ = Formation.__str__

    def __init__(self, intitule, annee_campagne):
        self.intitule, self.annee_campagne = intitule, annee_campagne


class _Site:
    """An establishment as the list names it: its model's own __str__."""
    __slots__ = ("denomination", "siret")
    __str__ = Etablissement.__str__

    def __init__(self, denomination, siret):
        self.denomination, self.siret = denomination, siret


class ListRow:
    """One dossier of the list page: the columns its cells read (CELLS), nothing loaded
    behind them. Its name is the model's own (Dossier.apprenti_nom_complet)."""
    __slots__ = ("id", "apprenti_nom", "apprenti_prenom", "apprenti_email", "state",
                 "date_debut_contrat", "date_fin_contrat", "updated_at", "formation",
                 "etablissement")
    apprenti_nom_complet = Dossier.apprenti_nom_complet

    def __init__(self, values):
        (self.id, self.apprenti_nom, self.apprenti_prenom, self.apprenti_email, self.state,
         self.date_debut_contrat, self.date_fin_contrat, self.updated_at, intitule, annee,
         denomination, siret, site_id) = values
        self.formation = _Training(intitule, annee)
        self.etablissement = _Site(denomination, siret) if site_id is not None else None


def _of(model, column, key):
    """The scalar sub-select of one column of the row ``key`` points at (a primary key
    lookup per row of the page)."""
    return select(column).where(model.id == key).correlate(Dossier).scalar_subquery()


def fetch(query) -> list[ListRow]:
    """The page of Flask-Admin's list query (its filters, search, order, offset and limit
    kept) as ListRows: one statement, no ORM instance built (a fifth of a list request)."""
    page = query.enable_eagerloads(False).with_entities(*_columns())
    return [ListRow(values) for values in page]


OFFSET = "list_offset"


def page_statement(query):
    """The statement of a page of Flask-Admin's list query (its order and limit kept), its
    offset a parameter (fetch_page's): one statement serves every page of the list."""
    return (query.enable_eagerloads(False).with_entities(*_columns())
            .offset(bindparam(OFFSET, type_=Integer)).statement)


def fetch_page(statement, offset: int) -> list[ListRow]:
    """The rows of page_statement's ``statement`` from ``offset``. The same statement object
    each time: SQLAlchemy finds its compiled form by a cache key it keeps on the object, where
    a statement built for the request is walked whole to make that key (0.2 ms, a fifth of the
    CPU of a list request). Core's execute: the rows are tuples, no ORM result is built."""
    return [ListRow(values) for values in db.session.connection().execute(
        statement, {OFFSET: offset})]


_COLUMNS: list = []


def _columns() -> list:
    """ListRow's columns, in its order: built once (SQL expressions are immutable)."""
    if not _COLUMNS:
        _COLUMNS.extend((
            Dossier.id, Dossier.apprenti_nom, Dossier.apprenti_prenom, Dossier.apprenti_email,
            Dossier.state, Dossier.date_debut_contrat, Dossier.date_fin_contrat,
            Dossier.updated_at,
            _of(Formation, Formation.intitule, Dossier.formation_id),
            _of(Formation, Formation.annee_campagne, Dossier.formation_id),
            _of(Etablissement, Etablissement.denomination, Dossier.etablissement_id),
            _of(Etablissement, Etablissement.siret, Dossier.etablissement_id),
            Dossier.etablissement_id))
    return _COLUMNS


def rows_html(view, rows, columns, with_check_box: bool, fallback) -> Markup:
    """The page's rows, each ``<tr>`` with: the check box (when the list has actions), the
    pencil, then each of ``columns`` by CELLS, or by ``fallback(row, name)`` (Flask-Admin's
    get_value, escaped by Markup's rules) for a column CELLS does not know."""
    openings = [(column, CELLS.get(column), _opening(column)) for column in columns]
    return Markup("".join(f"\n<tr>{_row(view, row, openings, with_check_box, fallback)}</tr>"
                          for row in rows))


def _row(view, row, openings, with_check_box, fallback) -> str:
    link = open_link(view, row.id)   # digits and slashes only
    name = escape(row.apprenti_nom_complet)
    parts = []
    if with_check_box:
        parts.append(f'<td class="list-checkbox-column"><input type="checkbox" name="rowid" '
                     f'class="action-checkbox" value="{int(row.id)}" '
                     f'aria-label="Sélectionner le dossier de {name}"></td>')
    parts.append(f'<td class="list-buttons-column"><a class="icon sillon-open-row" '
                 f'href="{link}" title="Ouvrir le dossier" aria-label="Ouvrir le dossier de '
                 f'{name}"><span class="fa fa-pencil" aria-hidden="true"></span></a></td>')
    for column, cell, opening in openings:
        value = cell(row, link) if cell else escape(fallback(row, column))
        parts.append(f"{opening}{value}</td>")
    return "".join(parts)


_OPENINGS: dict[str, str] = {}


def _opening(column: str) -> str:
    """A column's cell opening, escaped once per column name."""
    opening = _OPENINGS.get(column)
    if opening is None:
        opening = _OPENINGS[column] = f'<td class="col-{escape(column)}">'
    return opening
