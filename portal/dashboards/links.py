"""Links from the dashboards to the dossier list, filtered.

Flask-Admin names a filter in the URL by its position in the view's `column_filters`
(`flt<n>_<index>=value`). The dashboards never hard-code that index: they look the filter up by
its French name in the dossier view itself (admin_views/dossiers.py), so a filter added to or
moved in the list keeps every dashboard link right."""
from __future__ import annotations

from flask import current_app, url_for

LIST_ENDPOINT = "dossier.index_view"

# The dossier list's filters the dashboards use, by their name in the list.
STATE = "État"
FORMATION = "Formation"
START = "Début du contrat"
DEADLINE = "Échéance"
NEXT_ACTOR = "Qui doit agir"


def _dossier_view():
    for admin in current_app.extensions.get("admin", []):
        for view in admin._views:
            if view.endpoint == "dossier":
                return view
    raise LookupError("the dossier list is not registered")


def filter_arg(name: str) -> str:
    """The URL index of the dossier list's filter called `name` (e.g. "5" for "Échéance")."""
    view = _dossier_view()
    for arg, (_, flt) in (view._filter_args or {}).items():
        if str(flt.name) == name:
            return arg
    raise LookupError(f"the dossier list has no filter {name!r}")


def dossier_list(*filters: tuple[str, object]) -> str:
    """The dossier list's URL with these (filter name, value) pairs, ANDed by the list."""
    args = {f"flt{pos}_{filter_arg(name)}": value for pos, (name, value) in enumerate(filters)}
    return url_for(LIST_ENDPOINT, **args)


def dossier_tab(dossier_id: int, tab_code: str = "suivi") -> str:
    return url_for("dossier.tab_view", dossier_id=dossier_id, tab_code=tab_code)
