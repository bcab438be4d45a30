"""The CFA's list counts every dossier exactly (issue 16 §5), whatever wrote them.

On PostgreSQL that count is the dossiers' tally (portal/models/tallies.py, migration 0014):
statement triggers add a row per INSERT or DELETE of dossiers, a TRUNCATE empties it, the
worker and an hourly task fold its rows into one. On SQLite the count is count(*) (the same
tests then check the list's figure against the table through the same doors).

Each way of writing dossiers is taken here: the import's COPY (PostgreSQL) or bulk insert
(SQLite) in the worker, a creation by the service, the bulk delete action, a rolled back
creation, a fold while another transaction adds a dossier, a TRUNCATE."""
from __future__ import annotations

import re
from datetime import date

import sqlalchemy as sa

from portal.extensions import db
from portal.models import Dossier, DossierTally, Formation, User
from portal.models.tallies import dossier_total, fold_dossier_tally
from tests.support.web import csrf
from tests.test_import import (DOMAIN, _csv, _dossiers, _preview, run_worker,  # noqa: F401
                               training)
from tests.test_import_background import _post_confirm, _rows

ADMIN = "admin@sillon.demo"
LIST = "/admin/dossier/"


def _listed(client) -> int:
    page = client.get(LIST)
    assert page.status_code == 200
    match = re.search(r'class="nav-link active">Liste(?: \((\d+)\))?</a>',
                      page.get_data(as_text=True))
    assert match, "not the dossier list"
    return int(match.group(1) or 0)


def _counted(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Dossier))


def _tally(app) -> tuple[int, int]:
    """(rows, sum) of the tally."""
    with app.app_context():
        rows, total = db.session.execute(sa.select(
            sa.func.count(), sa.func.coalesce(sa.func.sum(DossierTally.delta), 0))).one()
        return rows, int(total)


def _is_postgresql(app) -> bool:
    with app.app_context():
        return db.engine.dialect.name == "postgresql"


def test_the_cfa_list_counts_every_dossier_through_each_way_of_writing_them(
        app, login, training, clean_outbox):
    admin = login(ADMIN)
    postgresql = _is_postgresql(app)
    start = _counted(app)
    assert _listed(admin) == start
    if postgresql:
        assert _tally(app)[1] == start

    # 25 rows imported by the worker (one COPY of dossiers per batch on PostgreSQL).
    manager = login(f"resp.info@{DOMAIN}")
    url, _ = _preview(manager, training, _csv(_rows(training, 25)), "tally.csv")
    assert _post_confirm(manager, url).status_code == 302
    run_worker(app, url)
    assert len(_dossiers(app, training)) == 25
    assert _listed(admin) == _counted(app) == start + 25
    if postgresql:
        assert _tally(app) == (1, start + 25)  # the worker folded its rows

    # One created by the service, one whose creation is rolled back.
    from portal.dossiers import service
    with app.app_context():
        formation = db.session.get(Formation, training["id"])
        by = db.session.execute(sa.select(User).where(User.email == ADMIN)).scalar_one()
        fields = {"apprenti_nom": "Décompte", "apprenti_prenom": "Zoé",
                  "employeur_siret": training["siret"], "date_debut_contrat": date(2026, 9, 1),
                  "date_fin_contrat": date(2028, 8, 31)}
        service.create_dossier(formation, {**fields, "apprenti_email": f"tally.kept@{DOMAIN}"},
                               by=by, source="create_form", invite=False)
        db.session.commit()
        service.create_dossier(formation, {**fields, "apprenti_email": f"tally.gone@{DOMAIN}"},
                               by=by, source="create_form", invite=False)
        db.session.rollback()
    assert _listed(admin) == _counted(app) == start + 26

    # Three deleted by the CFA's bulk action.
    gone = [str(d.id) for d in _dossiers(app, training)[:3]]
    response = admin.post(LIST + "action/", data={"action": "delete", "rowid": gone,
                                                  "csrf_token": csrf(admin)})
    assert response.status_code == 302
    assert _listed(admin) == _counted(app) == start + 23
    if postgresql:
        rows, total = _tally(app)
        assert rows > 1 and total == start + 23
        with app.app_context():
            fold_dossier_tally(db.session)
            db.session.commit()
        assert _tally(app) == (1, start + 23)
    assert _listed(admin) == start + 23


def _list_count(user_email: str):
    """The statement the list counts the person's dossiers with (no filter, no search)."""
    from portal import policy
    user = db.session.execute(sa.select(User).where(User.email == user_email)).scalar_one()
    return policy.count_statement(Dossier, user)


def test_a_fold_keeps_what_another_transaction_adds_meanwhile(app, training):
    """The fold's DELETE … RETURNING and INSERT are one statement: a tally row committed by
    another transaction after it started is not in its snapshot, so it is kept, not lost."""
    with app.app_context():
        other = db.engine.connect()
        try:
            transaction = other.begin()
            other.execute(sa.insert(Dossier).values(
                formation_id=training["id"], apprenti_nom="Pendant", apprenti_prenom="Lé",
                apprenti_email=f"tally.meanwhile@{DOMAIN}", state="initialise"))
            fold_dossier_tally(db.session)  # the other's row is not committed yet
            transaction.commit()
            db.session.commit()
        finally:
            other.close()
        assert db.session.scalar(_list_count(ADMIN)) == db.session.scalar(
            sa.select(sa.func.count()).select_from(Dossier))
        if db.engine.dialect.name == "postgresql":
            assert db.session.scalar(dossier_total()) == db.session.scalar(
                sa.select(sa.func.count()).select_from(Dossier))


def test_a_truncate_empties_the_tally(app):
    """TRUNCATE (never run by the portal, possible by hand) resets the tally with the table;
    rolled back, both come back."""
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.count()).select_from(Dossier))
        counting = _list_count(ADMIN)
        db.session.commit()  # no lock of this session left on dossiers
        with db.engine.connect() as conn:
            with conn.begin() as transaction:
                conn.exec_driver_sql("TRUNCATE dossiers CASCADE"
                                     if conn.dialect.name == "postgresql"
                                     else "DELETE FROM dossiers")  # SQLite has no TRUNCATE
                assert conn.scalar(counting) == 0
                transaction.rollback()
        assert db.session.scalar(counting) == before


def test_the_hourly_task_folds_the_tally(app, training):
    """The worker's periodic task (portal.tasks: every hour at :17) folds the rows that the
    day's creations and deletions added into one, the total unchanged."""
    from datetime import datetime
    tasks = app.extensions["sillon_tasks"]
    task = tasks.fold_tally
    due = {at: {t.name for t in tasks.huey.read_periodic(datetime(2026, 12, 4, 10, at))}
           for at in (17, 18)}
    assert "fold_dossier_tally" in due[17] and "fold_dossier_tally" not in due[18], due
    with app.app_context():
        for n in range(3):
            db.session.execute(sa.insert(Dossier).values(
                formation_id=training["id"], apprenti_nom=f"Heure{n}", apprenti_prenom="Lé",
                apprenti_email=f"tally.hour{n}@{DOMAIN}", state="initialise"))
            db.session.commit()
        postgresql = db.engine.dialect.name == "postgresql"
    if postgresql:
        assert _tally(app)[0] >= 3
    task.call_local()
    assert _tally(app) == ((1, _counted(app)) if postgresql else (0, 0))


def test_each_database_gets_its_own_form_of_the_count(app, tmp_path):
    """portal.policy builds a person's scope and count once per process (policy.remembered),
    keyed by the kind of database too: the CFA's count made first for a SQLite app (count(*))
    is not the one a PostgreSQL app of the same process uses (the tally), and back."""
    from portal import policy
    from portal.models import CFA_ADMIN, UserRole
    from tests.conftest import make_app
    with app.app_context():
        admin = db.session.execute(sa.select(User).where(User.email == ADMIN)).scalar_one()
        pk, here = admin.id, db.engine.dialect.name
        db.session.rollback()
    other = make_app(f"sqlite:///{tmp_path / 'other.db'}", str(tmp_path / "instance"))
    with other.app_context():
        twin = User(id=pk, email=ADMIN, active=True)
        twin.roles = [UserRole(role=CFA_ADMIN)]
        elsewhere = str(policy.count_statement(Dossier, twin))
        assert "count(*)" in elsewhere and "dossier_tally" not in elsewhere
    with app.app_context():
        admin = db.session.get(User, pk)
        statement = str(policy.count_statement(Dossier, admin))
    assert ("dossier_tally" in statement) is (here == "postgresql"), statement
