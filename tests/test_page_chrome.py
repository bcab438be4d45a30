"""What every page repeats, rendered once and kept (admin_views/page_chrome, issue 16 §1): the
menu kept for a person's roles and page is the one rendered afresh, for every persona on every
kind of page; the list's URLs built without url_for are url_for's."""
from __future__ import annotations

import html
import json
import re

import pytest
from flask import url_for

from admin_views import page_chrome
from admin_views.list_door import list_query_string

PERSONAS = ["admin@sillon.demo", "conseil@sillon.demo", "resp.info@sillon.demo",
            "gest.info@sillon.demo", "rh@acme.sillon.demo", "rh@globex.sillon.demo",
            "alice@etu.sillon.demo"]
PAGES = ["/admin/", "/admin/dossier/", "/admin/formation/", "/admin/structure/",
         "/admin/etablissement/", "/admin/ma-structure/", "/admin/action-formation/",
         "/admin/inscription/", "/admin/financement/", "/admin/user/", "/admin/smic/"]


def _navbar(response) -> str | None:
    if response.status_code != 200:
        return None
    match = re.search(r'<nav class="navbar.*?</nav>', response.get_data(as_text=True), re.S)
    assert match, "every admin page has its navbar"
    # The logout form's CSRF token is signed with the time: not part of the menu.
    return re.sub(r'name="csrf_token" value="[^"]+"', 'name="csrf_token"', match.group(0))


@pytest.mark.parametrize("email", PERSONAS)
def test_the_kept_menu_is_the_one_rendered_afresh(app, login, email):
    client = login(email)
    page_chrome.clear()
    kept = {}
    for _ in range(2):  # the second round is served from what the first one kept
        for page in PAGES:
            kept[page] = _navbar(client.get(page))
    assert sum(nav is not None for nav in kept.values()) >= 2, "pages the persona opens"
    for page in PAGES:
        page_chrome.clear()
        assert _navbar(client.get(page)) == kept[page], page
    # The menu names the page the person is on.
    assert re.search(r'<li class="active">\s*<a class="nav-link[^"]*" href="/admin/dossier/"',
                     kept["/admin/dossier/"])


def test_what_one_role_kept_is_never_shown_to_another(app, login):
    page_chrome.clear()
    for email in PERSONAS:  # each one fills the menus of their own roles
        client = login(email)
        for page in PAGES:
            client.get(page)
    for email in reversed(PERSONAS):
        client = login(email)
        kept = {page: _navbar(client.get(page)) for page in ("/admin/", "/admin/dossier/")}
        page_chrome.clear()
        fresh = {page: _navbar(client.get(page)) for page in ("/admin/", "/admin/dossier/")}
        assert kept == fresh, email


def test_two_people_with_the_same_roles_share_the_menu_not_their_name(app, login):
    page_chrome.clear()
    acme = _navbar(login("rh@acme.sillon.demo").get("/admin/dossier/"))
    globex = _navbar(login("rh@globex.sillon.demo").get("/admin/dossier/"))
    assert acme != globex  # each one's own name
    strip = re.compile(r'<ul class="nav navbar-nav navbar-right sillon-account">.*', re.S)
    assert strip.sub("", acme) == strip.sub("", globex)


@pytest.mark.parametrize("values", [
    {},
    {"page": None, "sort": None, "desc": None, "search": None, "page_size": 20},
    {"page": 3, "sort": 2, "desc": 1, "search": "Élodie & fils/2 ; 100%", "page_size": 50},
    {"search": "a b+c", "flt0_0": "en_saisie", "flt1_7": "ACME, Nîmes", "x": "?@!$'()*,:;"},
    {"page": 0, "search": "a-b_c.d~e f", "flt2_3": "01/02/2026 au 03/02/2026", "y": "%2F&=#"},
])
def test_the_list_urls_are_url_fors(app, values):
    with app.test_request_context("/admin/dossier/"):
        path = url_for("dossier.index_view")
        assert path + list_query_string(values) == url_for("dossier.index_view", **values)


def test_a_fixed_url_is_url_for(app):
    with app.test_request_context("/admin/dossier/"):
        for endpoint, values in [("static", {"filename": "css/lists.css"}),
                                 ("admin.static", {"filename": "admin/js/form.js", "v": "1.0.1"}),
                                 ("auth.account", {}), ("favicon", {})]:
            assert page_chrome.fixed_url(endpoint, **values) == url_for(endpoint, **values)
            assert page_chrome.fixed_url(endpoint, **values) == url_for(endpoint, **values)


def _filter_groups(client) -> dict:
    page = client.get("/admin/dossier/").get_data(as_text=True)
    return json.loads(html.unescape(re.search(
        r'<div id="filter-groups-data" class="d-none">(.*?)</div>', page, re.S).group(1)))


def test_the_filter_menus_kept_are_flask_admins_with_each_persons_options(app, login):
    """The filter groups are made once (admin_views/base); each scoped menu is read for the
    person asking (portal/dossiers/list_menus)."""
    view = next(v for v in app.extensions["admin"][0]._views if v.endpoint == "dossier")
    seen = {}
    for email in ("admin@sillon.demo", "rh@acme.sillon.demo", "resp.droit@sillon.demo"):
        client = login(email)
        kept = _filter_groups(client)
        view.__dict__.pop("_sillon_filter_groups", None)
        view.__dict__.pop("_sillon_groups_by_options", None)
        assert _filter_groups(client) == kept, email
        seen[email] = {label: [item["options"] for item in items]
                       for label, items in kept.items()}
    assert seen["admin@sillon.demo"]["Formation"] != seen["resp.droit@sillon.demo"]["Formation"]
    assert seen["admin@sillon.demo"]["État"] == seen["rh@acme.sillon.demo"]["État"]


@pytest.mark.parametrize("url, rows", [("/admin/dossier/", "les dossiers sélectionnés"),
                                        ("/admin/structure/", "les structures sélectionnées"),
                                        ("/admin/etablissement/",
                                         "les établissements sélectionnés"),
                                        ("/admin/formation/", "les formations sélectionnées"),
                                        ("/admin/opco/", "les lignes sélectionnées")])
def test_the_bulk_delete_asks_in_french_and_names_the_rows(login, url, rows):
    page = login("admin@sillon.demo").get(url).get_data(as_text=True)
    data = re.search(r'<div id="actions-confirmation-data" class="d-none">(.*?)</div>', page)
    assert json.loads(html.unescape(data.group(1)))["delete"] == \
        f"Supprimer définitivement {rows} ? Cette suppression est irréversible."
    assert re.search(r'data-model-action="?delete"?[^>]*>\s*Supprimer\s*<', page)
    assert "objets" not in page
