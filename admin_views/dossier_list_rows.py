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

from portal.dossiers.listing import next_actors_label
from portal.dossiers.workflow import state_label
from portal.exports import day_text, moment_text

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


def _state(row, link):
    return (f'<span class="badge badge-secondary sillon-state" data-state="{escape(row.state)}">'
            f'{escape(state_label(row.state))}</span>')


def _text_of(value) -> str:
    return "" if value is None else str(value)


CELLS = {
    "apprenti": _apprentice,
    "id": lambda row, link: str(row.id),
    "state": _state,
    "next_actor": lambda row, link: escape(next_actors_label(row.state)),
    "etablissement": lambda row, link: escape(_text_of(row.etablissement)),
    "formation": lambda row, link: escape(_text_of(row.formation)),
    "date_debut_contrat": lambda row, link: (day_text(row.date_debut_contrat)
                                             if row.date_debut_contrat else ""),
    "date_fin_contrat": lambda row, link: (day_text(row.date_fin_contrat)
                                           if row.date_fin_contrat else ""),
    "updated_at": lambda row, link: moment_text(row.updated_at) if row.updated_at else "",
}


def row_html(view, row, columns, with_check_box: bool, fallback) -> Markup:
    """One row's cells: the check box (when the list has actions), the pencil, then each of
    ``columns`` by CELLS, or by ``fallback(row, name)`` (Flask-Admin's get_value, escaped by
    Markup's rules) for a column CELLS does not know."""
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
    for column in columns:
        cell = CELLS.get(column)
        value = cell(row, link) if cell else escape(fallback(row, column))
        parts.append(f'<td class="col-{escape(column)}">{value}</td>')
    return Markup("".join(parts))
