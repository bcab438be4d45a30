"""Shared fixtures: the app on a migrated database (SQLite or a real PostgreSQL), demo data.

`pytest --db=sqlite` (default) or `pytest --db=postgresql` (starts a PostgreSQL server on
127.0.0.1 for the session). The schema is created by the Alembic migration, never create_all.
"""
import os
from pathlib import Path

import pytest

from tests.support.web import login as _login

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def pytest_addoption(parser):
    parser.addoption("--db", action="store", default="sqlite", choices=("sqlite", "postgresql"),
                     help="database backend for the test session")


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives a real chromium through Playwright")


@pytest.fixture(scope="session")
def db_backend(request):
    return request.config.getoption("--db")


@pytest.fixture(scope="session")
def database_url(db_backend, tmp_path_factory):
    if db_backend == "sqlite":
        yield "sqlite:///" + str(tmp_path_factory.mktemp("db") / "sillon.db")
        return
    from tests.support.postgres import PostgresServer
    server = PostgresServer()
    url = server.start()
    try:
        yield url
    finally:
        server.stop()


def make_app(database_url: str, instance_path: str, **overrides):
    os.environ["SILLON_INSTANCE_PATH"] = instance_path
    from portal import create_app
    config = {"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url,
              "SERVER_NAME": None, "MAIL_SERVER": None}
    config.update(overrides)
    return create_app(config)


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    """The app on the migrated schema with reference and demo data loaded once."""
    app = make_app(database_url, str(tmp_path_factory.mktemp("instance")))
    with app.app_context():
        from flask_migrate import upgrade
        upgrade()
        from seeds.demo import load_demo
        from seeds.reference import load_reference
        load_reference()
        load_demo()
    return app


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def login(app):
    """login(email) -> a test client logged in as that demo account."""
    def _client_for(email, password="sillon-demo"):
        client = app.test_client()
        response = _login(client, email, password)
        assert response.status_code == 302, f"login failed for {email}"
        return client
    return _client_for


@pytest.fixture()
def db_session(app):
    from portal.extensions import db
    with app.app_context():
        yield db.session
        db.session.rollback()


@pytest.fixture(scope="session")
def artifacts_dir():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


# --- e-mail: a real SMTP server on 127.0.0.1, a real worker and an empty outbox -----------------

@pytest.fixture()
def smtp(app, clean_outbox):
    """A real SMTP server and a real Huey consumer of the app's queue (threads in this process):
    requests only enqueue, the worker sends. Reading `smtp.messages` first lets the worker
    finish every task enqueued so far; `smtp.stop()` stops the worker with the server."""
    from tests.support.smtp import SmtpServer
    from tests.support.worker import RunningWorker
    server = SmtpServer().start()
    saved = {k: app.config.get(k) for k in ("MAIL_SERVER", "MAIL_PORT", "MAIL_SUPPRESS_SEND")}
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port, MAIL_SUPPRESS_SEND=False)
    app.extensions["mail"].server = "127.0.0.1"
    app.extensions["mail"].port = server.port
    app.extensions["mail"].suppress = False
    server.worker = RunningWorker.of(app).start()
    try:
        yield server
    finally:
        server.stop()
        app.config.update(saved)
        app.extensions["mail"].server = saved["MAIL_SERVER"]
        app.extensions["mail"].port = saved["MAIL_PORT"]


@pytest.fixture()
def clean_outbox(app):
    """An empty outbox for the test (other tests leave unsent e-mails: no MAIL_SERVER)."""
    def empty():
        with app.app_context():
            from portal.extensions import db
            from portal.models import OutboxEmail
            import sqlalchemy as sa
            db.session.execute(sa.delete(OutboxEmail))
            db.session.commit()
    empty()
    yield
    empty()
