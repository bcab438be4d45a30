"""Marking the few pages reachable without logging in (every other page requires login)."""


def public(view):
    """Decorator: this view is open to anonymous visitors (login, password reset, access-code
    registration, structure access requests). Such views must not reveal whether an address
    or an account exists."""
    view.sillon_public = True
    return view


def is_public(view) -> bool:
    return bool(getattr(view, "sillon_public", False))
