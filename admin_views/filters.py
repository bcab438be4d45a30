"""Filters whose option lists are computed per request from the person's scope."""
from flask_admin.contrib.sqla.filters import IntEqualFilter

from .base import ScopedOptionsMixin


class ScopedFilterEqual(ScopedOptionsMixin, IntEqualFilter):
    """Equality filter on an integer key whose options come from ``options(user)`` per request.

    The value is cleaned to an int (a malformed one is ignored, never sent to the database);
    a key outside the person's scope simply matches none of their rows."""
