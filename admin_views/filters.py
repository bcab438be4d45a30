"""Filters whose option lists are computed per request from the person's scope."""
from flask_admin.contrib.sqla.filters import BaseSQLAFilter, IntEqualFilter

from .base import ScopedOptionsMixin


class ScopedFilterEqual(ScopedOptionsMixin, IntEqualFilter):
    """Equality filter on an integer key whose options come from ``options(user)`` per request.

    The value is cleaned to an int (a malformed one is ignored, never sent to the database);
    a key outside the person's scope simply matches none of their rows."""


class LateFilter(BaseSQLAFilter):
    """Late dossiers of one kind (portal.dossiers.deadlines.late_clause): OPCO deposit, or started
    without validation. Also "due this week" for the OPCO deposit."""

    def __init__(self, column, name):
        super().__init__(column, name, options=[
            ("opco", "Dépôt à l'OPCO en retard"),
            ("debut", "Commencé sans dossier validé"),
            ("opco_jour", "Dépôt à l'OPCO à faire aujourd'hui"),
            ("opco_semaine", "Dépôt à l'OPCO à faire cette semaine"),
        ])

    def apply(self, query, value, alias=None):
        from datetime import date, timedelta

        from portal.dossiers.deadlines import due_clause, late_clause
        today = date.today()
        if value == "opco_jour":
            return query.filter(due_clause(today, today))
        if value == "opco_semaine":
            return query.filter(due_clause(today, today + timedelta(days=6 - today.weekday())))
        return query.filter(late_clause(value, today))

    def operation(self):
        return "est"

    def validate(self, value):
        return value in {"opco", "debut", "opco_jour", "opco_semaine"}
