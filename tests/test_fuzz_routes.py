"""Fuzz (issue 12 §7): every route of the URL map, as every demo role, with hostile query
strings (page, page_size, sort, desc, search, filters, id, url, next… as huge, negative,
non-numeric, unicode, NUL and very long values) and every form posted back with hostile values
and a valid CSRF token: never a 500.

The fuzz runs on a database of its own (migrated and seeded here, SQLite or PostgreSQL like the
session): hostile posts that happen to be valid really change data, and must not change the
demo data the other test files read."""
from __future__ import annotations

import re
import uuid
from html.parser import HTMLParser
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.web import login as login_client

ROLES = ["admin@sillon.demo", "conseil@sillon.demo", "resp.info@sillon.demo",
         "resp.droit@sillon.demo", "gest.info@sillon.demo", "rh@acme.sillon.demo",
         "rh@globex.sillon.demo", "alice@etu.sillon.demo", "bruno@etu.sillon.demo", None]
SKIPPED = {"static", "admin.static", "auth.logout"}  # files; logging out ends the session
HUGE = "99999999999999999999"
HOSTILE = [HUGE, "-" + HUGE, str(2**31), str(2**63), "-1", "0", "-5", "1e999", "nan", "abc",
           "", " ", "\x00", "a\x00b", "\\", "=\\", "%", "_", "'", '"', "<script>", "١٢٣",
           "é" * 40, "x" * 5000, "2026-13-45", "31/02/2026", "1,2,3", "//evil.example",
           "/\\evil.example", "/%09/evil.example", "https:evil.example", "javascript:alert(1)",
           "\r\nSet-Cookie: x=1", "../../etc/passwd", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
           "\ud7ff\ufffe"]
QUERY_KEYS = ["page", "page_size", "sort", "desc", "search", "flt0_0", "flt1_1", "flt2_2",
              "flt3_3", "flt4_4", "flt5_5", "flt6_6", "id", "url", "next", "name", "query",
              "offset", "limit", "siret", "idcc", "start", "end", "smc", "email", "token"]
POST_KEYS = ["id", "rowid", "action", "decision", "membre", "motif", "comment", "rupture_date",
             "cfa_conseiller_id", "_version", "siret", "list_form_pk", "contact_employeur",
             "beneficiaire", "retour", "kind", "creer_quand_meme", "email", "password"]
INT_MODELS = {"dossier_id": "Dossier", "formation_id": "Formation", "batch_id": "ImportBatch",
              "membership_id": "StructureMembership", "structure_id": "Structure",
              "request_id": "StructureRequest"}
HOSTILE_INTS = ["0", str(2**31), str(2**63), HUGE, "9" * 400]

hostile_text = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=30),
                         st.integers(min_value=-10**25, max_value=10**25).map(str))
queries = st.dictionaries(st.sampled_from(QUERY_KEYS), hostile_text, max_size=6)


class FormDefaults(HTMLParser):
    """What a browser would post back from a page: every named input with its value (checked
    boxes only), the selected option of each select, the text of each textarea."""

    def __init__(self):
        super().__init__()
        self.values: dict[str, str] = {}
        self._select = self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.values.setdefault(name, a.get("value") or "")
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select:
            if "selected" in a or self._select not in self.values:
                self.values[self._select] = a.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data


def form_defaults(page: str) -> dict[str, str]:
    parser = FormDefaults()
    parser.feed(page)
    parser.values.pop("csrf_token", None)
    return parser.values


# --- a world of its own ---------------------------------------------------------------------

def _own_database(database_url: str, tmp_path_factory):
    if database_url.startswith("sqlite"):
        return "sqlite:///" + str(tmp_path_factory.mktemp("fuzz-db") / "fuzz.db"), None
    name = f"sillon_fuzz_{uuid.uuid4().hex[:8]}"
    server = sa.create_engine(database_url.rsplit("/", 1)[0] + "/postgres",
                              isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return database_url.rsplit("/", 1)[0] + "/" + name, (server, name)


class World:
    """The fuzz app, a logged-in client per role (logged in again if the session ended), the
    ids each role may reach and the values path parameters take."""

    def __init__(self, app):
        from admin_views.dossier_uploads import SIGNED_KINDS
        from admin_views.dossier_workflow import MISSION_DONE
        from portal import models, policy
        from portal.dossiers.tabs import TAB_BY_CODE
        from portal.dossiers.workflow import TRANSITIONS
        from portal.extensions import db
        from portal.models.documents import DOCUMENT_KINDS
        self.app, self.clients, self.tokens, self.forms = app, {}, {}, {}
        self.names = set(POST_KEYS)  # every input name seen on a page, for POST-only routes
        self.words = {"tab_code": sorted(TAB_BY_CODE), "kind": sorted(DOCUMENT_KINDS)
                      + sorted(SIGNED_KINDS), "code": sorted(TRANSITIONS),
                      "action_code": sorted(MISSION_DONE), "export_type": ["csv", "xlsx"],
                      "ext": ["csv", "xlsx"], "token": ["x"], "filename": ["x"]}
        self.ids = {}
        with app.app_context():
            for email in ROLES:
                user = (db.session.execute(sa.select(models.User).filter_by(email=email))
                        .scalar_one() if email else None)
                for arg, model_name in INT_MODELS.items():
                    model = getattr(models, model_name)
                    query = db.session.query(model.id)
                    if user is not None:
                        query = policy.scoped(query, model, user)
                    self.ids[email, arg] = [str(i) for (i,) in query.order_by(model.id)
                                            .limit(5)] or ["1"]
        self.rules = [r for r in app.url_map.iter_rules() if r.endpoint not in SKIPPED]

    def client(self, email):
        if email not in self.clients:
            client = self.app.test_client()
            if email is not None:
                login_client(client, email)
            self.clients[email] = client
        return self.clients[email]

    def answered(self, email, response):
        """Forget a client whose session ended (a fuzzed post may deactivate an account)."""
        location = response.headers.get("Location", "")
        if email is not None and response.status_code == 302 and location.startswith("/login"):
            self.clients.pop(email, None)
            self.tokens.pop(email, None)

    def token(self, email) -> str:
        if email not in self.tokens:
            page = self.client(email).get("/login" if email is None else "/admin/")
            found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(True))
            self.tokens[email] = found.group(1) if found else ""
        return self.tokens[email]

    def fill(self, rule, email, draw) -> str:
        path = str(rule)
        for name, converter in rule._converters.items():
            kind = type(converter).__name__
            if kind == "IntegerConverter":
                value = draw(st.sampled_from(self.ids[email, name]) if name in INT_MODELS
                             and draw(st.booleans()) else st.sampled_from(HOSTILE_INTS))
            elif kind == "AnyConverter":
                value = draw(st.sampled_from(sorted(converter.items)))
            else:
                real = self.words.get(name, ["x"])
                value = draw(st.one_of(st.sampled_from(real), hostile_text.filter(bool)))
                value = quote(value, safe="")
            path = re.sub(r"<(?:[^:<>]+:)?%s(?:\([^)]*\))?>" % re.escape(name), value, path)
        return path

    def seen(self, response) -> dict[str, str]:
        if not response.mimetype == "text/html":  # the favicon, a PDF, a CSV: no form
            return {}
        values = form_defaults(response.get_data(as_text=True))
        self.names |= set(values)
        return values

    def defaults(self, email, rule, path) -> dict[str, str]:
        """What the form a GET of the same page shows would post; for a POST-only route, every
        input name seen so far, empty."""
        if "GET" in rule.methods:
            if (email, path) not in self.forms:
                self.forms[email, path] = self.seen(self.client(email).get(path))
            if self.forms[email, path]:
                return dict(self.forms[email, path])
        return dict.fromkeys(sorted(self.names), "")

    def first_path(self, rule, email) -> str:
        """The rule with its parameters filled with a real value the role may reach."""
        path = str(rule)
        for name, converter in rule._converters.items():
            kind = type(converter).__name__
            value = (self.ids[email, name][0] if name in INT_MODELS
                     else sorted(converter.items)[0] if kind == "AnyConverter"
                     else self.words.get(name, ["x"])[0])
            path = re.sub(r"<(?:[^:<>]+:)?%s(?:\([^)]*\))?>" % re.escape(name), value, path)
        return path


@pytest.fixture(scope="module")
def world(database_url, tmp_path_factory):
    from tests.conftest import make_app
    url, cleanup = _own_database(database_url, tmp_path_factory)
    fuzz_app = make_app(url, str(tmp_path_factory.mktemp("fuzz-instance")))
    fuzz_app.config["PROPAGATE_EXCEPTIONS"] = False  # a 500 is an answer the test can see
    with fuzz_app.app_context():
        from flask_migrate import upgrade

        from seeds.demo import load_demo
        from seeds.reference import load_reference
        upgrade()
        load_reference()
        load_demo()
    yield World(fuzz_app)
    if cleanup:
        from portal.extensions import db
        with fuzz_app.app_context():
            db.engine.dispose()
        server, name = cleanup
        with server.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        server.dispose()


def _assert_answered(response, what):
    assert response.status_code < 500, (what, response.status_code,
                                        response.get_data(as_text=True)[-800:])


FUZZ = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])


# --- every route once, every role, one hostile query ----------------------------------------------

SWEEP_QUERY = {"page": HUGE, "page_size": HUGE, "sort": HUGE, "desc": HUGE,
               "search": "a\x00\\", "flt0_0": HUGE, "flt1_1": "\x00", "flt2_2": "=\\",
               "id": HUGE, "url": "//evil.example", "next": "/%09/evil.example",
               "name": "referent", "query": "\x00\\", "offset": HUGE, "limit": "-5",
               "start": HUGE, "end": "2026-13-45", "smc": "1e999", "siret": "\x00" * 20,
               "idcc": HUGE, "email": "a\x00@b"}


def test_every_get_route_as_every_role_with_a_hostile_query(world):
    rules = [r for r in world.rules if "GET" in r.methods]
    assert len(rules) > 60
    for email in ROLES:
        for rule in rules:
            path = world.first_path(rule, email)
            response = world.client(email).get(path, query_string=SWEEP_QUERY)
            _assert_answered(response, (email, path))
            world.seen(response)
            world.answered(email, response)


def test_every_form_posted_with_hostile_values(world):
    """Every POST route as the CFA admin and as an apprentice, every input of its form (every
    input name seen, for a route without a page) set to a hostile value, valid CSRF token."""
    rules = [r for r in world.rules if "POST" in r.methods]
    assert len(rules) > 40
    for email in ("admin@sillon.demo", "alice@etu.sillon.demo"):
        for rule in rules:
            path = world.first_path(rule, email)
            body = dict.fromkeys(world.defaults(email, rule, path), HUGE + "\x00é")
            body["csrf_token"] = world.token(email)
            response = world.client(email).post(path, data=body)
            _assert_answered(response, (email, path))
            world.answered(email, response)


# --- hypothesis: any route, any role, any query; any form, hostile values ------------------------

@FUZZ
@given(data=st.data())
def test_hostile_query_strings_never_answer_500(world, data):
    email = data.draw(st.sampled_from(ROLES))
    rule = data.draw(st.sampled_from([r for r in world.rules if "GET" in r.methods]))
    path = world.fill(rule, email, data.draw)
    response = world.client(email).get(path, query_string=data.draw(queries))
    _assert_answered(response, (email, path))
    world.answered(email, response)


@FUZZ
@given(data=st.data())
def test_hostile_posts_with_a_valid_csrf_token_never_answer_500(world, data):
    email = data.draw(st.sampled_from(ROLES))
    rule = data.draw(st.sampled_from([r for r in world.rules if "POST" in r.methods]))
    path = world.fill(rule, email, data.draw)
    query = data.draw(st.fixed_dictionaries({}, optional={
        "id": st.one_of(st.sampled_from(world.ids[email, "dossier_id"]), hostile_text),
        "url": hostile_text}))
    body = world.defaults(email, rule, path)  # the form as shown, then a few fields changed
    names = sorted(set(body) | set(POST_KEYS))
    for key in data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True)):
        body[key] = data.draw(st.one_of(hostile_text, st.lists(hostile_text, max_size=3)))
    body["csrf_token"] = world.token(email)
    response = world.client(email).post(path, query_string=query, data=body)
    _assert_answered(response, (email, path, sorted(body)))
    world.answered(email, response)
