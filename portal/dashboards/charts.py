"""The charts' data, handed to portal/static/js/charts.js through a `data-chart` attribute
(the Content-Security-Policy allows no inline script). Each chart carries the URL of every bar,
so a click on a bar opens the list it counts; the same counts and links are also printed as
text next to the chart (for keyboards and screen readers)."""
from __future__ import annotations

import json

from portal.dossiers.workflow import STATES

# The states' colours (the former progress bars', portal/static/css/sillon.css).
STATE_COLOURS = {
    "initialise": "#c9d3e0", "en_saisie": "#9fb3cc", "saisie_complete": "#6f8fb8",
    "validation_demandee": "#e0b44c", "valide_formation": "#7fb77e",
    "economie_validee": "#5ba15a", "documents_retournes": "#3f8a4a",
    "documents_valides": "#2c6e3a", "envoye_opco": "#1d4f2a", "a_corriger": "#d9534f",
    "annule": "#777777", "rompu": "#777777",
}
BAR = "#0062cc"
LATE = "#c82333"


def _chart(kind: str, labels: list[str], datasets: list[dict], title: str, **options) -> str:
    return json.dumps({"type": kind, "labels": labels, "datasets": datasets, "title": title,
                       **options}, ensure_ascii=False)


def promotions_chart(trainings: list[dict]) -> str:
    """One horizontal bar per training, stacked by state: the promotion's progress."""
    used = [code for code in STATES if any(t["counts"].get(code) for t in trainings)]
    datasets = [{"label": STATES[code].label, "colour": STATE_COLOURS[code],
                 "data": [t["counts"].get(code, 0) for t in trainings],
                 "links": [next(s["url"] for s in t["states"] if s["code"] == code)
                           for t in trainings]}
                for code in used]
    return _chart("bar", [t["label"] for t in trainings], datasets,
                  "Avancement des promotions : dossiers par état", stacked=True,
                  horizontal=True)


def states_chart(rows: list[dict]) -> str:
    shown = [r for r in rows if r["count"]]
    return _chart("bar", [r["label"] for r in shown],
                  [{"label": "Dossiers", "data": [r["count"] for r in shown],
                    "colour": [STATE_COLOURS[r["code"]] for r in shown],
                    "links": [r["url"] for r in shown]}],
                  "Dossiers par état", horizontal=True)


def actors_chart(actors: list[dict]) -> str:
    return _chart("bar", [a["label"] for a in actors],
                  [{"label": "Dossiers en attente", "data": [a["count"] for a in actors],
                    "colour": BAR, "links": [a["url"] for a in actors]}],
                  "Qui doit agir : dossiers en attente de chacun")


def deadlines_chart(weeks: list[dict]) -> str:
    return _chart("bar", [w["short"] for w in weeks],
                  [{"label": "Dépôts à l'OPCO", "data": [w["count"] for w in weeks],
                    "colour": [LATE if w["late"] else BAR for w in weeks],
                    "links": [w["url"] for w in weeks]}],
                  "Dépôts à l'OPCO à faire, par semaine", x_title="Semaine du (lundi)")
