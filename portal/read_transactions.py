"""How a request's transaction ends on PostgreSQL: one that only read is committed, which for
PostgreSQL is the same as rolling it back, so that psycopg keeps the statements it prepared.

psycopg prepares a statement on the server once it has run it five times on a connection
(``prepare_threshold``), and forgets every one of them on a ROLLBACK (DEALLOCATE ALL).
Flask-SQLAlchemy ends each request by closing the session, a ROLLBACK: every page planned
its statements again (0.3 to 0.5 ms of the server's CPU each for a training staff's or an
employer's dossier list, on the workers' two cores: issue 16 §5).

"Only read": since its last COMMIT or ROLLBACK the connection ran nothing but SELECT
statements (a WITH … SELECT naming no INSERT, UPDATE or DELETE), the session holds no new,
changed or deleted object, and the request raised nothing. Anything else (a write left
uncommitted, a failed request, a statement this module cannot tell) ends with the ROLLBACK,
as before. SQLite keeps its own statement cache either way: nothing changes there."""
from __future__ import annotations

import re

from flask import Flask
from sqlalchemy import event

from portal.extensions import db

_WROTE = "sillon_wrote"  # Connection.info: False from BEGIN, True once a statement may write
_SELECT = re.compile(r"\s*SELECT\b", re.IGNORECASE)
_WITH = re.compile(r"\s*WITH\b", re.IGNORECASE)
_DML = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE)\b", re.IGNORECASE)


def reads_only(statement: str) -> bool:
    """Whether ``statement`` only reads: a SELECT, or a WITH … SELECT naming no write."""
    if _SELECT.match(statement):
        return True
    return bool(_WITH.match(statement)) and not _DML.search(statement)


def _note(conn, cursor, statement, parameters, context, executemany):
    if executemany or not reads_only(statement):
        conn.info[_WROTE] = True


def _began(conn):
    conn.info[_WROTE] = False


def _ended(conn):
    conn.info.pop(_WROTE, None)


def end_request_transaction(exc=None) -> bool:
    """Commit the request's transaction if it only read (see above); True when it did."""
    session = db.session()  # this request's Session (scoped)
    if exc is not None or not session.in_transaction():
        return False
    if session.new or session.dirty or session.deleted:
        return False
    if session.connection().info.get(_WROTE, True):
        return False
    # Nothing is expired: the objects read stay as loaded, as after the session's close (a
    # streamed body, the CSV export, still reads its rows after this teardown).
    expiring, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expiring
    return True


def init_app(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "postgresql":
        return
    event.listen(engine, "before_cursor_execute", _note)
    event.listen(engine, "begin", _began)
    event.listen(engine, "commit", _ended)
    event.listen(engine, "rollback", _ended)
    # Before Flask-SQLAlchemy's teardown (at the end of the app context), which rolls back.
    app.teardown_request(end_request_transaction)
