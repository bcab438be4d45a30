"""What every admin page repeats and only the app decides: the navbar's menu and the URLs of
the static files, rendered once and kept (issue 16 §1: the chrome was a third of a list
request's CPU).

- The menu (Flask-Admin's ``layout.menu()`` / ``layout.menu_links()``) depends on which views
  the person may open and see, and on the page's own view (the active item). Every view's
  ``is_accessible`` / ``is_visible`` in Sillon is decided by the person's roles alone
  (portal.policy and admin_views/*), so the rendered menu is kept per (admin, roles, page's
  endpoint, script root). The doors still check access on every request: a menu only shows
  links. tests/test_page_chrome.py renders it afresh for every persona on every page and
  compares.
- A URL with no part of the request in it (a static file's, ``admin_static.url``, the account
  and logout pages') is the same for every request under one script root.
"""
from __future__ import annotations

from flask import request, url_for
from flask_login import current_user
from markupsafe import Markup

MAX_ENTRIES = 512  # distinct (roles, page) pairs kept; a full cache starts again

_menus: dict[tuple, Markup] = {}
_urls: dict[tuple, str] = {}


def menu_key(admin_view, part: str) -> tuple:
    roles = (tuple(sorted(current_user.role_codes))
             if current_user.is_authenticated else None)
    return (id(admin_view.admin), part, roles, admin_view.endpoint, request.script_root)


def cached_menu(key: tuple):
    """The menu kept for ``key``, or None."""
    return _menus.get(key)


def keep_menu(key: tuple, html) -> Markup:
    if len(_menus) >= MAX_ENTRIES:
        _menus.clear()
    _menus[key] = html = Markup(html)
    return html


def fixed_url(endpoint: str, **values) -> str:
    """url_for(endpoint, **values), computed once per script root: for endpoints whose URL
    depends on nothing but these values (static files, fixed pages)."""
    key = (request.script_root, endpoint, tuple(sorted(values.items())))
    url = _urls.get(key)
    if url is None:
        if len(_urls) >= MAX_ENTRIES:
            _urls.clear()
        url = _urls[key] = url_for(endpoint, **values)
    return url


def clear() -> None:
    """Forget what is kept (tests compare a fresh rendering with the kept one)."""
    _menus.clear()
    _urls.clear()


def install(app) -> None:
    app.jinja_env.globals.update(sillon_menu_key=menu_key, sillon_cached_menu=cached_menu,
                                 sillon_keep_menu=keep_menu, sillon_url=fixed_url)
