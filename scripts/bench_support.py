"""Shared by the benchmarks: a fresh database (SQLite in .bench/, or a throw-away PostgreSQL
server) with the migrated schema, the reference data and the demo data."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / ".bench"


def demo_app(name: str, backend: str = "sqlite"):
    """The app on a fresh database (.bench/<name>.db, or a throw-away PostgreSQL server
    stopped at exit), migrated and loaded (call within no app context)."""
    import atexit
    url, stop = fresh_database(backend, name)
    atexit.register(stop)
    instance = BENCH / f"instance-{name}"
    shutil.rmtree(instance, ignore_errors=True)
    instance.mkdir()
    os.environ["SILLON_INSTANCE_PATH"] = str(instance)
    from portal import create_app
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "MAIL_SERVER": None})
    from flask_migrate import upgrade

    from seeds.demo import load_demo
    from seeds.reference import load_reference
    with app.app_context():
        upgrade()
        load_reference()
        load_demo()
        settle(app.extensions["sqlalchemy"].engine)
    return app


def settle(engine) -> None:
    """The planner's statistics and, on PostgreSQL, the visibility map, as a running database
    has them: autovacuum analyses a table a minute after it changed this much, and vacuums it
    after as many inserts (PostgreSQL 13's insert threshold), which lets an index-only scan
    skip the table. The measures start at once, so they are gathered here."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(
            "VACUUM ANALYZE" if connection.dialect.name == "postgresql" else "ANALYZE")


def fresh_database(backend: str, name: str = "bench"):
    """(url, stop callable) of a fresh database: .bench/<name>.db, or a throw-away PostgreSQL
    server (tests/support/postgres.py)."""
    BENCH.mkdir(exist_ok=True)
    if backend == "sqlite":
        path = BENCH / f"{name}.db"
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return f"sqlite:///{path}", lambda: None
    from tests.support.postgres import PostgresServer
    server = PostgresServer()
    return server.start(), server.stop


def bare_app(url: str, instance: str = "instance"):
    """The app on ``url`` with an instance folder of its own (not migrated, nothing loaded)."""
    folder = BENCH / instance
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ["SILLON_INSTANCE_PATH"] = str(folder)
    from portal import create_app
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SERVER_NAME": None,
                       "MAIL_SERVER": None})
