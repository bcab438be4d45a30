"""Shared by the benchmarks: a fresh SQLite database in .bench/ with the migrated schema, the
reference data and the demo data."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / ".bench"


def demo_app(name: str):
    """The app on .bench/<name>.db, migrated and loaded (call within no app context)."""
    BENCH.mkdir(exist_ok=True)
    db_path = BENCH / f"{name}.db"
    db_path.unlink(missing_ok=True)
    instance = BENCH / f"instance-{name}"
    shutil.rmtree(instance, ignore_errors=True)
    instance.mkdir()
    os.environ["SILLON_INSTANCE_PATH"] = str(instance)
    from portal import create_app
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}",
                      "MAIL_SERVER": None})
    from flask_migrate import upgrade

    from seeds.demo import load_demo
    from seeds.reference import load_reference
    with app.app_context():
        upgrade()
        load_reference()
        load_demo()
    return app
