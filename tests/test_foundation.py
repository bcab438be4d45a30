"""Set-up: the Alembic migration builds the whole model; configuration from the environment."""
import os

import sqlalchemy as sa

from portal.extensions import SQLITE_CACHE_KIB, db
from tests.conftest import make_app


def test_migration_upgrades_an_empty_database_to_the_models(tmp_path):
    app = make_app("sqlite:///" + str(tmp_path / "empty.db"), str(tmp_path / "instance"))
    with app.app_context():
        from flask_migrate import upgrade
        upgrade()
        inspector = sa.inspect(db.engine)
        tables = set(inspector.get_table_names()) - {"alembic_version"}
        assert tables == set(db.metadata.tables)
        for name, table in db.metadata.tables.items():
            columns = {c["name"] for c in inspector.get_columns(name)}
            assert columns == {c.name for c in table.columns}, name
        # Autogenerate finds nothing left to migrate.
        from alembic.autogenerate import compare_metadata
        from alembic.migration import MigrationContext
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        assert diff == []


def test_whole_domain_model_exists(app):
    expected = {
        "users", "user_roles", "structures", "etablissements", "structure_memberships",
        "structure_requests", "cfas", "etablissements_formation", "formations",
        "formation_responsables", "formation_gestionnaires", "dossiers", "apprentis",
        "representants_legaux", "maitres_apprentissage", "contrats", "periodes_remuneration",
        "missions", "dossier_history", "documents", "outbox_emails", "codes_reference", "smic",
        "grilles_remuneration", "opcos", "conventions_collectives", "aides_employeur",
        "prises_en_charge", "echeances", "demandes_remboursement", "organismes_delegants",
        "actions_formation", "sessions_formation", "inscriptions", "throttle_events",
        "auth_tokens"}
    assert expected <= set(db.metadata.tables)


def test_secret_key_generated_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    instance = tmp_path / "inst"
    first = make_app("sqlite://", str(instance)).config["SECRET_KEY"]
    second = make_app("sqlite://", str(instance)).config["SECRET_KEY"]
    assert first == second and len(first) >= 32
    assert (instance / "secret_key").read_text().strip() == first
    other = make_app("sqlite://", str(tmp_path / "other")).config["SECRET_KEY"]
    assert other != first


def test_configuration_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "cle-de-test")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db.example:5432/sillon")
    monkeypatch.setenv("MAIL_SERVER", "smtp.example")
    monkeypatch.setenv("MAIL_PORT", "2525")
    os.environ["SILLON_INSTANCE_PATH"] = str(tmp_path)
    from portal.config import load_config
    cfg = load_config(str(tmp_path))
    assert cfg["SECRET_KEY"] == "cle-de-test"
    assert cfg["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@db.example:5432/sillon"
    assert cfg["MAIL_SERVER"] == "smtp.example" and cfg["MAIL_PORT"] == 2525
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.delenv("MAIL_SERVER")
    cfg = load_config(str(tmp_path))
    assert cfg["SQLALCHEMY_DATABASE_URI"] == "sqlite:///" + str(tmp_path / "sillon.db")
    assert cfg["MAIL_SERVER"] is None


def test_admin_is_french(login):
    client = login("admin@sillon.demo")
    page = client.get("/admin/dossier/").get_data(as_text=True)
    assert "Liste" in page and "Ajouter un filtre" in page and "Chercher" in page
    assert "Dossiers" in page and "Se déconnecter" in page


def test_postgresql_runs_the_portals_statements_without_jit(app, db_backend, tmp_path):
    """PostgreSQL's JIT compiles a statement whose estimate passes jit_above_cost: 15 ms of
    compiling for a training staff's search of 2 ms (portal.config.database_options)."""
    elsewhere = make_app("postgresql+psycopg://sillon@127.0.0.1:9/sillon",
                         str(tmp_path / "pg")).config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert elsewhere["connect_args"]["options"] == "-c jit=off"
    assert elsewhere["pool_pre_ping"] is True
    local = make_app("sqlite://", str(tmp_path / "sqlite")).config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert "connect_args" not in local
    with app.app_context():
        if db_backend == "postgresql":
            assert db.session.scalar(sa.text("SHOW jit")) == "off"
        else:
            assert db.engine.dialect.name == "sqlite"


def test_sqlite_connections_enforce_foreign_keys_and_cache_an_index_of_every_dossier(
        tmp_path):
    """Each SQLite connection (portal.extensions): foreign keys on, a page cache of 64 MiB,
    where the default 2 MiB cannot hold the index the CFA's count of 100 000 dossiers walks
    (0.8 ms a list page instead of 0.04 ms, scripts/bench_http.py)."""
    local = make_app(f"sqlite:///{tmp_path / 'pragmas.db'}", str(tmp_path / "sqlite"))
    with local.app_context():
        assert db.session.scalar(sa.text("PRAGMA foreign_keys")) == 1
        assert db.session.scalar(sa.text("PRAGMA cache_size")) == -SQLITE_CACHE_KIB
        assert SQLITE_CACHE_KIB * 1024 >= 16 * 2**20
        db.session.remove()
