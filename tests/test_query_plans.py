"""The dossier list's statements keep their indexes (issue 16 §1): for each role, the list's
count, page and filter menus, plain, filtered by state and searched by a name, a SIRET and an
OPCO number, as the real requests send them (Flask-Admin's list with DossierView's
get_count_query, portal.policy's scope, portal.dossiers.listing's search and list_menus),
each put under the database's EXPLAIN.

No statement reads the dossiers table (or one of its indexes) from end to end when the person
sees part of it:

- SQLite: no ``SCAN dossiers`` line, except the search's scan of its narrow column index
  (``ix_dossiers_recherche``: a LIKE '%term%' has no other path on SQLite) and, for a page, the
  walk of the primary key in the page's order (no sort), which stops after a page;
- PostgreSQL (``pytest --db=postgresql``): with sequential scans switched off in the
  transaction (the demo's tables are small, PostgreSQL would read them whole), no
  ``Seq Scan on dossiers`` and no index scan of dossiers without an ``Index Cond``.

The CFA staff see every dossier: their count reads one index whole, by nature; the same rules
hold for their searches and filters. Anyone else's search is tested dossier by dossier of their
scope: on SQLite, a scope of a quarter of the table or more (the manager's training here, half
of it) may be read whole, the planner's right choice.

A planner chooses by the table's statistics: on SQLite the module runs on a database of its
own, the demo data plus SYNTHETIC dossiers and ANALYZE (on the demo's few rows and no
statistics SQLite searches every index and would hide a lost one); on PostgreSQL on the
session's database with sequential scans off. The figures at 100 000 dossiers:
scripts/bench_search.py --explain and scripts/bench.py --explain."""
from __future__ import annotations

import os
import re
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from portal import policy
from portal.extensions import db
from portal.models import Dossier, Etablissement, PriseEnCharge, User
from tests.conftest import make_app
from tests.support.web import login as log_in

LIST = "/admin/dossier/"
ADMIN = "admin@sillon.demo"
# The CFA admin, a training's manager and gestionnaire, an employer référent, an apprentice.
ROLES = [ADMIN, "resp.info@sillon.demo", "gest.info@sillon.demo", "rh@acme.sillon.demo",
         "alice@etu.sillon.demo"]
SEARCH_INDEX = "USING COVERING INDEX ix_dossiers_recherche"
# FilterEqual(Dossier.state) is DossierView.column_filters[0] (flt<position>_<index>).
STATE_FILTER = {"flt0_0": "en_saisie"}
SYNTHETIC = 20_000
BIG_SCOPE = 0.25  # of the table: the share of it past which a full read is the right plan


@pytest.fixture(scope="module")
def planned(app, db_backend, tmp_path_factory):
    """The app whose plans are read: its own SQLite database with SYNTHETIC dossiers and the
    planner's statistics, or the session's PostgreSQL one."""
    if db_backend != "sqlite":
        yield app
        return
    from flask_migrate import upgrade

    from seeds.demo import add_synthetic_dossiers, load_demo
    from seeds.reference import load_reference
    folder = tmp_path_factory.mktemp("plans")
    saved = os.environ.get("SILLON_INSTANCE_PATH")
    big = make_app("sqlite:///" + str(folder / "plans.db"), str(folder / "instance"))
    try:
        with big.app_context():
            upgrade()
            load_reference()
            load_demo()
            # Every synthetic dossier at the demo's nine establishments (2 000 each): the
            # planners' worst case for an employer's scope.
            add_synthetic_dossiers(SYNTHETIC, demo_share=1.0)
            with db.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
        yield big
        with big.app_context():
            db.engine.dispose()
    finally:
        if saved is not None:
            os.environ["SILLON_INSTANCE_PATH"] = saved


def _client(app, email):
    client = app.test_client()
    assert log_in(client, email).status_code == 302, email
    return client


@pytest.fixture(scope="module")
def searches(planned):
    """What people type, taken from the demo data: a last name, a SIRET, an OPCO number."""
    with planned.app_context():
        name = db.session.scalar(sa.select(Dossier.apprenti_nom).where(
            sa.func.length(Dossier.apprenti_nom) >= 3).order_by(Dossier.id).limit(1))
        siret = db.session.scalar(sa.select(Etablissement.siret).where(
            Etablissement.siret.is_not(None)).order_by(Etablissement.id).limit(1))
        number = db.session.scalar(sa.select(PriseEnCharge.numero_opco).where(
            PriseEnCharge.numero_opco.is_not(None)).order_by(PriseEnCharge.id).limit(1))
    return {"name": name or "Martin", "siret": siret or "73834085001141",
            "opco": number or "OPCO-2026"}


def _queries(searches):
    yield "list", {}
    yield "state", STATE_FILTER
    for kind, term in searches.items():
        yield f"search {kind}", {"search": term}


def _statements(app, client, query: dict, table: str = "dossiers") -> list[tuple[str, object]]:
    """The statements on ``table`` of one list request (the session already warm)."""
    url = LIST + ("?" + urlencode(query) if query else "")
    assert client.get(url).status_code == 200
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))
    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get(url).status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    return [(sql, params) for sql, params in seen if re.search(rf"\b{table}\b", sql)]


def _kind(sql: str) -> str:
    # The count alone (searched or filtered), or as the first row of the filter menus'
    # statement (the list with neither: portal.dossiers.list_menus.count_with_menus).
    if re.match(r"\s*SELECT count\(\*\)", sql) or re.search(
            r"\bSELECT \S+ AS kind, \(SELECT count\(\*\)", sql):
        return "count"
    return "page" if re.search(r"ORDER BY dossiers\.id DESC\s+LIMIT", sql) else "menus"


def plan_of(app, sql: str, params) -> list[str]:
    """The statement's plan, one line a node (PostgreSQL: sequential scans switched off)."""
    with app.app_context():
        with db.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                return [str(row[-1]) for row in conn.exec_driver_sql(
                    "EXPLAIN QUERY PLAN " + sql, params)]
            with conn.begin():
                conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
                return [row[0] for row in conn.exec_driver_sql("EXPLAIN " + sql, params)]


_PG_SCAN = re.compile(r"(Seq Scan|Index Scan Backward|Index Scan|Index Only Scan)"
                      r"(?: using (\S+))? on dossiers\b")


def full_scans(plan: list[str], kind: str, dialect: str) -> list[str]:
    """The plan's lines that read dossiers (table or index) from end to end."""
    if dialect == "sqlite":
        walks_in_order = kind == "page" and not any(
            "USE TEMP B-TREE FOR ORDER BY" in line for line in plan)
        return [line for line in plan if re.match(r"SCAN dossiers\b", line)
                and SEARCH_INDEX not in line
                and not (walks_in_order and line.strip() == "SCAN dossiers")]
    found = []
    for k, line in enumerate(plan):
        match = _PG_SCAN.search(line)
        if not match:
            continue
        if match.group(1) == "Seq Scan":
            found.append(line)
            continue
        # The node's own properties: the lines below it up to its first child or sibling.
        props = []
        for below in plan[k + 1:]:
            if "->" in below or re.match(r"\s*(SubPlan|InitPlan)\b", below):
                break
            props.append(below)
        if any("Index Cond" in p for p in props):
            continue
        in_order = kind == "page" and match.group(2) == "pk_dossiers"
        if not in_order:
            found.append(line)
    return found


@pytest.mark.parametrize("email", ROLES)
def test_the_list_reads_dossiers_through_indexes(planned, searches, email):
    app = planned
    client = _client(app, email)
    with app.app_context():
        dialect = db.engine.dialect.name
        user = db.session.execute(sa.select(User).where(User.email == email)).scalar_one()
        share = db.session.scalar(sa.select(sa.func.count()).select_from(Dossier).where(
            policy.row_filter(Dossier, user))) / db.session.scalar(
            sa.select(sa.func.count()).select_from(Dossier))
    checked = []
    for label, query in _queries(searches):
        statements = _statements(app, client, query)
        kinds = {_kind(sql) for sql, _ in statements}
        # The CFA's unfiltered count on PostgreSQL reads the tally, not dossiers (below).
        tallied = email == ADMIN and label == "list" and dialect == "postgresql"
        assert ({"page"} if tallied else {"count", "page"}) <= kinds, (label, statements)
        assert not (tallied and "count" in kinds), (label, statements)
        for sql, params in statements:
            kind = _kind(sql)
            if email == ADMIN and label in ("list", "state") and kind in ("count", "menus"):
                # Every dossier: the count (and the advisors' menu) read an index whole.
                continue
            plan = plan_of(app, sql, params)
            scans = full_scans(plan, kind, dialect)
            if share > BIG_SCOPE and label.startswith("search") and dialect == "sqlite":
                # Searched dossier by dossier (portal/dossiers/listing.search_clause), a scope
                # of a quarter of the table or more is best read whole: SQLite's choice.
                scans = [line for line in scans if line.strip() != "SCAN dossiers"]
            assert not scans, f"{email}, {label}, {kind}: {scans}\n{sql}\n" + "\n".join(plan)
            checked.append((label, kind))
    assert len(checked) >= 10, checked


def test_the_employer_scope_is_index_searches(planned):
    """The employer's scope (portal.policy) alone: each branch an index search, never a scan
    of the whole establishment index (an OR of the two was, for every employer)."""
    from portal import policy
    app = planned
    with app.app_context():
        user = db.session.execute(sa.select(User).where(
            User.email == "rh@acme.sillon.demo")).scalar_one()
        statement = sa.select(sa.func.count()).select_from(Dossier).where(
            policy.row_filter(Dossier, user))
        compiled = statement.compile(db.engine)
        dialect = db.engine.dialect.name
        sql, params = str(compiled), compiled.params
        if dialect == "sqlite":
            params = tuple(compiled.params[name] for name in compiled.positiontup)
    plan = plan_of(app, sql, params)
    assert not full_scans(plan, "count", dialect), "\n".join(plan)
    text = "\n".join(plan)
    if dialect == "sqlite":
        assert "ix_dossiers_employer_contact_id (employer_contact_id=?)" in text, text
        assert re.search(r"SEARCH dossiers USING (COVERING )?INDEX \S+ \(etablissement_id=\?",
                         text), text
    else:
        assert re.search(r"(Index|Bitmap Index) Scan on ix_dossiers_employer_contact_id", text) \
            or "using ix_dossiers_employer_contact_id" in text, text


def test_the_cfa_count_of_every_dossier_has_no_where(planned, searches):
    """The CFA sees every dossier: its count carries no WHERE (SQLite's `1 = 1` would turn the
    count of a table's pages into a scan of each of its rows: 0.02 ms against 1.6 ms at
    100 000 dossiers), and the filtered count keeps its filter. On PostgreSQL, whose count of
    a table reads an index of every row (8 ms at 100 000 dossiers), it is the sum of the
    dossiers' tally (portal/models/tallies.py; tests/test_dossier_tally.py: its exactness)."""
    app = planned
    client = _client(app, ADMIN)
    counts = {label: [sql for sql, _ in _statements(app, client, query) if _kind(sql) == "count"]
              for label, query in _queries(searches) if label in ("list", "state")}
    with app.app_context():
        dialect = db.engine.dialect.name
    if dialect == "postgresql":
        assert counts["list"] == [], counts
        tally = _statements(app, client, {}, table="dossier_tally")
        assert len(tally) == 1 and re.search(
            r"\(SELECT CAST\(coalesce\(sum\(dossier_tally\.delta\), \S+\) AS BIGINT\) AS \w+\s+"
            r"FROM dossier_tally\) AS id", tally[0][0]), tally
        # The count itself (the menus' first row) reads no dossier.
        with app.app_context():
            admin = db.session.execute(sa.select(User).where(User.email == ADMIN)).scalar_one()
            compiled = policy.count_statement(Dossier, admin).compile(db.engine)
        plan = plan_of(app, str(compiled), compiled.params)
        assert not [line for line in plan if " on dossiers" in line], plan
        assert str(compiled).strip() in tally[0][0], (str(compiled), tally[0][0])
    else:
        assert len(counts["list"]) == 1, counts
        assert re.search(r"\(SELECT count\(\*\) AS \w+\s+FROM dossiers\) AS id",
                         counts["list"][0]), counts
    assert "WHERE dossiers.state" in counts["state"][0], counts


@pytest.mark.parametrize("email", ["resp.info@sillon.demo", "gest.info@sillon.demo"])
def test_a_training_staffs_search_reads_only_their_trainings_dossiers(planned, searches, email):
    """A search by a training's staff reads the index ranges of their trainings (their ids
    computed once: ``= ANY(ARRAY(…))`` on PostgreSQL, which planned the scope's semi-join as a
    merge over every dossier at 100 000 of them), whatever is searched."""
    app = planned
    client = _client(app, email)
    for kind, term in searches.items():
        statements = [(sql, params) for sql, params in _statements(app, client,
                                                                    {"search": term})
                      if _kind(sql) == "count"]
        assert statements, kind
        for sql, params in statements:
            plan = "\n".join(plan_of(app, sql, params))
            with app.app_context():
                dialect = db.engine.dialect.name
            if dialect == "postgresql":
                # on its own or with the semi-join's key: « ((formation_id = …) AND
                # (formation_id = ANY ($0))) »
                assert re.search(r"Index Cond: .*\(?formation_id = ANY \(\$\d+\)\)", plan), plan
            elif not re.search(r"SEARCH dossiers USING (COVERING )?INDEX \S+ "
                               r"\(formation_id=\?", plan):
                # SQLite reads a scope of a quarter of the table or more whole (its right
                # choice: this module's manager has half of it).
                assert re.search(r"^SCAN dossiers$", plan, re.M) and \
                    _share(app, email) > BIG_SCOPE, plan


def _share(app, email) -> float:
    with app.app_context():
        user = db.session.execute(sa.select(User).where(User.email == email)).scalar_one()
        return db.session.scalar(sa.select(sa.func.count()).select_from(Dossier).where(
            policy.row_filter(Dossier, user))) / db.session.scalar(
            sa.select(sa.func.count()).select_from(Dossier))


def test_the_imports_lookup_of_known_addresses_reads_them_through_indexes(planned):
    """The import's lookup of the file's addresses among the dossiers (by the dossier's e-mail
    or its apprentice account's, portal.dossiers.imports.known_dossiers) is index searches:
    an OR of the two addresses read every dossier, and so did an ``IN (…)`` of 500 addresses
    on PostgreSQL whose statistics were stale just after an import. PostgreSQL looks each
    address up on its own (a LATERAL join over the list)."""
    from portal.dossiers import imports
    from portal.models import Formation
    app = planned
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if re.search(r"\bdossiers\b", statement):
            seen.append((statement, parameters))
    with app.app_context():
        engine = db.engine
        dialect = engine.dialect.name
        formation = db.session.execute(sa.select(Formation).order_by(Formation.id)).scalars().first()
        known = db.session.scalars(sa.select(Dossier.apprenti_email).order_by(Dossier.id)
                                   .limit(3)).all()
        addresses = [a.upper() for a in known] + [f"nouveau{i}@exemple.fr" for i in range(600)]
        sa.event.listen(engine, "before_cursor_execute", record)
        try:
            in_training, elsewhere = imports.known_dossiers(formation, addresses)
        finally:
            sa.event.remove(engine, "before_cursor_execute", record)
    assert {a.lower() for a in known} <= set(in_training) | set(elsewhere)
    assert len(seen) == 2, seen  # 603 addresses: two chunks of at most 500
    for sql, params in seen:
        plan = plan_of(app, sql, params)
        text = "\n".join(plan)
        assert not full_scans(plan, "menus", dialect), text
        if dialect == "postgresql":
            assert re.search(r"Index Cond: \(lower\(\(apprenti_email\)::text\) = "
                             r"\(listed\.address\)::text\)", text), text
            # An index scan of the address, or a bitmap of it (as the accounts grow).
            assert re.search(r"(Index Scan using uq_users_email_lower on users|Bitmap Index "
                             r"Scan on uq_users_email_lower).*\n\s+Index Cond: \(lower\(\(email\)"
                             r"::text\) = \(listed\.address\)", text), text
        else:
            # (this module's accounts are the demo's few: SQLite reads them whole, then
            # each one's dossiers through their index)
            assert "SEARCH dossiers USING INDEX ix_dossiers_apprenti_email_lower" in text, text
            assert "SEARCH dossiers USING INDEX ix_dossiers_apprentice_user_id" in text, text


@pytest.mark.parametrize("email,column", [("resp.info@sillon.demo", "formation_id"),
                                          ("rh@acme.sillon.demo", "id")])
def test_a_partial_scope_is_computed_once_for_the_page(planned, email, column):
    """The scope of a training's staff (their trainings) and an employer's (their dossiers'
    ids) is, on PostgreSQL, ``= ANY(ARRAY(…))``: computed once (an InitPlan), then matched by
    the page's index. As ``IN (…)`` it planned a semi-join merged over the whole primary key
    (an employer's page of 20 read 5 000 dossiers at 100 000: 2.4 ms against 0.5 ms). SQLite
    keeps ``IN``, which it plans as a list searched per row."""
    app = planned
    client = _client(app, email)
    pages = [(sql, params) for sql, params in _statements(app, client, {})
             if _kind(sql) == "page"]
    assert len(pages) == 1, pages
    sql, params = pages[0]
    with app.app_context():
        dialect = db.engine.dialect.name
    if dialect == "postgresql":
        text = "\n".join(plan_of(app, sql, params))
        assert re.search(r"InitPlan \d+ \(returns \$\d+\)", text), text
        assert re.search(rf"(Index Cond|Filter): \({column} = ANY \(\$\d+\)\)", text), text
        assert "Merge Join" not in text and "Semi Join" not in text, text
    else:
        assert re.search(rf"dossiers\.{column} IN \(SELECT", sql), sql
