"""Filters whose option lists are computed per request from the person's scope."""
from flask_admin.contrib.sqla.filters import FilterEqual

from .base import ScopedOptionsMixin


class ScopedFilterEqual(ScopedOptionsMixin, FilterEqual):
    """Equality filter whose options come from ``options(user)`` at each request."""
