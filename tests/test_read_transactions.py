"""A request that only read commits its transaction on PostgreSQL (portal/read_transactions.py),
so that psycopg keeps the statements it prepared from one request to the next (its ROLLBACK
forgets them all); anything that wrote, or failed, is rolled back as before. On SQLite nothing
changes: every request ends with the session's ROLLBACK."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import Formation
from portal.read_transactions import reads_only
from tests.conftest import make_app
from tests.support.web import login as log_in


@pytest.mark.parametrize("statement,reading", [
    ("SELECT 1", True),
    ("  select dossiers.id FROM dossiers", True),
    ("WITH pairs AS (SELECT 1 AS x) SELECT x FROM pairs", True),
    ("WITH gone AS (DELETE FROM dossier_tally RETURNING delta) INSERT INTO dossier_tally "
     "(delta) SELECT sum(delta) FROM gone", False),
    ("WITH moved AS (UPDATE dossiers SET state = 'x' RETURNING id) SELECT id FROM moved", False),
    ("UPDATE dossiers SET state = 'x'", False),
    ("INSERT INTO dossiers (id) VALUES (1)", False),
    ("DELETE FROM dossiers", False),
    ("CREATE TABLE t (x int)", False),
    ("SET LOCAL statement_timeout = 1000", False),
])
def test_what_counts_as_a_read(statement, reading):
    assert reads_only(statement) is reading


@pytest.fixture()
def ends(app):
    """Counts of the engine's COMMITs and ROLLBACKs (SQLAlchemy's connection events) from
    now on."""
    seen = {"commit": 0, "rollback": 0}
    with app.app_context():
        engine = db.engine
    listeners = {name: (lambda conn, name=name: seen.__setitem__(name, seen[name] + 1))
                 for name in seen}
    for name, listener in listeners.items():
        sa.event.listen(engine, name, listener)
    yield seen
    for name, listener in listeners.items():
        sa.event.remove(engine, name, listener)


def _title(app, pk):
    with app.app_context():
        return db.session.get(Formation, pk).intitule


@pytest.fixture()
def training_id(app):
    with app.app_context():
        return db.session.scalar(sa.select(Formation.id).order_by(Formation.id).limit(1))


def test_a_request_that_only_read_commits_on_postgresql(app, db_backend, training_id, ends):
    pk = training_id
    with app.test_request_context("/"):
        db.session.execute(sa.select(Formation.intitule).where(Formation.id == pk)).all()
    postgresql = db_backend == "postgresql"
    assert ends == ({"commit": 1, "rollback": 0} if postgresql else {"commit": 0, "rollback": 1})


@pytest.mark.parametrize("write", ["core", "orm_flushed", "orm_pending", "failed"])
def test_a_request_that_wrote_without_committing_is_rolled_back(app, write, training_id,
                                                                ends):
    pk = training_id
    before = _title(app, pk)
    ends.update(commit=0, rollback=0)
    context = app.test_request_context("/")
    context.push()
    error = None
    try:
        if write == "core":
            db.session.execute(sa.update(Formation).where(Formation.id == pk)
                               .values(intitule="Jamais enregistré"))
        else:
            formation = db.session.get(Formation, pk)
            formation.intitule = "Jamais enregistré"
            if write == "orm_flushed":
                db.session.flush()
            elif write == "failed":
                db.session.flush()
                error = RuntimeError("the request failed")
    finally:
        context.pop(error)
    assert _title(app, pk) == before
    assert ends["commit"] == 0 and ends["rollback"] >= 1, ends


def test_the_list_keeps_its_prepared_statements_from_a_page_to_the_next(app, db_backend,
                                                                          tmp_path):
    """An app of its own (one pooled connection): after ten pages, the list's statements are
    prepared on the server (PostgreSQL's pg_prepared_statements), each executed with a plan
    kept; on SQLite, the list still answers (nothing is prepared on a server)."""
    own = make_app(app.config["SQLALCHEMY_DATABASE_URI"], str(tmp_path))
    client = own.test_client()
    assert log_in(client, "rh@acme.sillon.demo").status_code == 302
    for _ in range(10):
        assert client.get("/admin/dossier/").status_code == 200
    if db_backend != "postgresql":
        return
    with own.app_context():
        prepared = db.session.execute(sa.text(
            "SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements"
        )).all()
        db.engine.dispose()
    listed = [uses for statement, uses in prepared if "FROM dossiers" in statement]
    assert len(listed) >= 2 and all(uses >= 4 for uses in listed), prepared
