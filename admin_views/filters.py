"""Filters whose option lists are computed per request from the person's scope, and the
dossier list's own filters (late, « qui doit agir », French dates)."""
import re
from datetime import date
from flask_admin.contrib.sqla.filters import BaseSQLAFilter, IntEqualFilter

from portal.dossiers.listing import ACTOR_LABELS, ACTOR_OPTIONS, states_awaiting

from .scoped_forms import ScopedOptionsMixin


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
            ("opco_a_faire", "Dépôt à l'OPCO à faire"),
        ])

    def apply(self, query, value, alias=None):
        from datetime import date, timedelta

        from portal.dossiers.deadlines import due_clause, late_clause
        today = date.today()
        if value == "opco_a_faire":  # not sent yet, still open (the dashboards' weeks)
            from portal.dossiers.deadlines import CLOSED, OPCO_SENT
            from portal.models import Dossier
            return query.filter(Dossier.state.notin_(CLOSED + OPCO_SENT))
        if value == "opco_jour":
            return query.filter(due_clause(today, today))
        if value == "opco_semaine":
            return query.filter(due_clause(today, today + timedelta(days=6 - today.weekday())))
        return query.filter(late_clause(value, today))

    def operation(self):
        return "est"

    def validate(self, value):
        return value in {"opco", "debut", "opco_jour", "opco_semaine", "opco_a_faire"}


class NextActorFilter(BaseSQLAFilter):
    """« Qui doit agir » : the dossiers whose state waits for one actor (the workflow table's
    ``State.actors``, portal.dossiers.listing)."""

    def __init__(self, column, name):
        super().__init__(column, name, options=ACTOR_OPTIONS)

    def apply(self, query, value, alias=None):
        return query.filter(self.column.in_(states_awaiting(value)))

    def operation(self):
        return "est"

    def validate(self, value):
        return value in ACTOR_LABELS


class FrenchDateRangeFilter(BaseSQLAFilter):
    """Dates typed as they are written in France: « 01/09/2026 au 30/09/2026 », or one date
    (that day onwards); a plain text box, not Flask-Admin's English date-range picker. The ISO
    form of older links (« 2026-09-01 to 2026-09-30 ») is still read."""

    _FRENCH = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
    _ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
    LAST = date(9999, 12, 31)

    def _dates(self, value: str) -> list[date]:
        found = [date(int(y), int(m), int(d)) for d, m, y in self._FRENCH.findall(value or "")]
        found += [date(int(y), int(m), int(d)) for y, m, d in self._ISO.findall(value or "")]
        if not 1 <= len(found) <= 2 or any(not 1900 <= d.year <= 2200 for d in found):
            raise ValueError(value)
        return found

    def validate(self, value):
        try:
            self._dates(value)
        except (ValueError, OverflowError):
            return False
        return True

    def clean(self, value):
        found = self._dates(value)
        return (found[0], found[1]) if len(found) == 2 else (found[0], self.LAST)

    def apply(self, query, value, alias=None):
        start, end = sorted(value)
        return query.filter(self.get_column(alias).between(start, end))

    def operation(self):
        return "du … au … (jj/mm/aaaa)"


class EmployerFilter(BaseSQLAFilter):
    """The employer by a typed name (the establishment's or its structure's) or SIRET / SIREN,
    accents and case ignored: a sub-select, so the list stays one row per dossier and no menu
    lists thousands of employers. The scope is the list's own (portal.policy)."""

    def apply(self, query, value, alias=None):
        from sqlalchemy import select

        from portal.models import Etablissement
        from portal.rules.search import fold
        # Etablissement.recherche: its name, SIRET and structure's name folded at write time
        # (lower case, no accents): « marche frais », « MARCHÉ » and « 848 422 069 » all match.
        term = fold(value)
        digits = re.sub(r"[\s.]", "", term)
        term = digits if digits.isdigit() else term
        pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace(
            "_", "\\_") + "%"
        employers = select(Etablissement.id).where(
            Etablissement.recherche.like(pattern, escape="\\"))
        return query.filter(self.column.in_(employers))

    def clean(self, value):
        return " ".join((value or "").split())[:120]

    def validate(self, value):
        return bool(" ".join((value or "").split()))

    def operation(self):
        return "contient"
