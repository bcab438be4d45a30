"""Where a `next` or `url` parameter may send the browser: a path on Sillon, nothing else.

Browsers forgive a lot in a Location header: they drop tabs and newlines anywhere, read a
backslash as a slash and `//host` as another site. So a target is kept only when it is a plain
same-site path both as received (Werkzeug has already percent-decoded the query once) and once
more percent-decoded: one leading "/", never "//" at the start, no backslash, no control
character, no scheme and no host for urllib. Anything else means "the dashboard".
"""
from __future__ import annotations

from urllib.parse import unquote, urlsplit

from flask import request, url_for
from werkzeug.datastructures import CombinedMultiDict, MultiDict

MAX_LENGTH = 2048  # a return address longer than this is not one of ours


def _is_plain_path(text: str) -> bool:
    if not text.startswith("/") or text.startswith("//") or "\\" in text:
        return False
    # C0 controls (tab, newline, carriage return, NUL…), DEL and the C1 controls.
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in text):
        return False
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return not parts.scheme and not parts.netloc


def safe_target(value) -> str | None:
    """``value`` itself when it is a same-site relative path, else None."""
    if not isinstance(value, str) or not value or len(value) > MAX_LENGTH:
        return None
    if _is_plain_path(value) and _is_plain_path(unquote(value)):
        return value
    return None


def safe_next(value, default: str | None = None) -> str:
    """Where to go after a login, a first password, a consent…: ``value`` if safe, else
    ``default`` (the dashboard when not given)."""
    return safe_target(value) or default or url_for("admin.index")


def drop_unsafe_parameter(name: str) -> None:
    """Make every unsafe value of the request parameter ``name`` absent from
    ``request.values``, for code that reads its return address there (Flask-Admin's
    `get_redirect_target`, which then falls back to the list)."""
    if all(safe_target(value) for value in request.values.getlist(name)):
        return

    def without_unsafe(values: MultiDict) -> MultiDict:
        return MultiDict([(key, value) for key, value in values.items(multi=True)
                          if key != name or safe_target(value)])

    sources = [without_unsafe(request.args)]
    if request.method != "GET":
        sources.append(without_unsafe(request.form))
    # `values` is a cached property of Werkzeug's request: this replaces it for this request.
    request.values = CombinedMultiDict(sources)
