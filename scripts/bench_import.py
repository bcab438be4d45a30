"""Benchmark of the import by the formation: the preview of a file of --rows apprentices (every
row valid, new e-mails, a valid employer SIRET on half of them and a new employer contact on a
tenth) and its confirmation by the background worker (the Huey task run_import, taken from the
queue and executed as the consumer does), through the service and through HTTP: seconds,
rows per second, SQL statements and the time spent hashing the temporary passwords.

    .venv/bin/python scripts/bench_import.py [--rows 10000] [--rounds 3] [--confirm-rounds 1]
        [--lower-email-index] [--db sqlite|postgresql]

--lower-email-index adds an index on lower(users.email) to the bench database (what the
accounts lookup filters on) to show what such a migration would save.

A fresh database (SQLite under .bench/, or a throw-away PostgreSQL server), migrated, reference
and demo data. Prints figures only.
"""
from __future__ import annotations

import argparse
import codecs
import csv
import io
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH = ROOT / ".bench"


def make_file(rows: int, siret: str, tag: str) -> bytes:
    from portal.rules.imports import COLUMNS
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([label for _, label, _ in COLUMNS])
    for i in range(rows):
        writer.writerow([f"Nom{i}", f"Prénom{i}", f"alt{i}@{tag}.exemple.fr", "14/03/2004",
                         siret if i % 2 == 0 else "",
                         f"rh{i}@{tag}.exemple.fr" if i % 10 == 0 else "",
                         "01/09/2026", "31/08/2028"])
    return codecs.BOM_UTF8 + out.getvalue().encode("utf-8")


class Counters:
    """SQL statements and password-hashing time, while installed."""

    def __init__(self, engine):
        from sqlalchemy import event
        import portal.models.people as people
        self.statements = 0
        self.hashes = 0
        self.hash_seconds = 0.0
        self._original = people.generate_password_hash

        def count(*_args, **_kwargs):
            self.statements += 1

        def timed_hash(*args, **kwargs):
            start = time.perf_counter()
            try:
                return self._original(*args, **kwargs)
            finally:
                self.hashes += 1
                self.hash_seconds += time.perf_counter() - start

        event.listen(engine, "before_cursor_execute", count)
        people.generate_password_hash = timed_hash
        self._remove = lambda: (event.remove(engine, "before_cursor_execute", count),
                                setattr(people, "generate_password_hash", self._original))

    def reset(self):
        self.statements, self.hashes, self.hash_seconds = 0, 0, 0.0

    def close(self):
        self._remove()


def run_queued(app, counters):
    """Execute the queued tasks as the consumer does; the seconds, statements and hashes of the
    run_import tasks."""
    huey = app.extensions["sillon_tasks"].huey
    seconds = cpu = 0.0
    counters.reset()
    while (task := huey.dequeue()) is not None:
        start, start_cpu = time.perf_counter(), time.process_time()
        huey.execute(task)
        if task.name.endswith("run_import"):
            seconds += time.perf_counter() - start
            cpu += time.process_time() - start_cpu
    CPU.append(cpu)
    return seconds


CPU: list[float] = []  # CPU seconds of the last measures (the machine may be shared)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--confirm-rounds", type=int, default=1)
    parser.add_argument("--fast-hash", action="store_true",
                        help="(kept for compatibility: temporary passwords are hashed once)")
    parser.add_argument("--lower-email-index", action="store_true")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args(argv)
    from scripts.bench_support import demo_app
    app = demo_app("import", args.db)
    from sqlalchemy import select, text
    from portal.dossiers import imports
    from portal.extensions import db
    from portal.models import Etablissement, Formation, ImportBatch, User
    from tests.support.web import csrf_from
    with app.app_context():
        formation = db.session.execute(select(Formation).order_by(Formation.id)).scalars().first()
        formation_id = formation.id
        siret = db.session.execute(select(Etablissement.siret)).scalars().first()
        if args.lower_email_index:
            db.session.execute(text("CREATE INDEX IF NOT EXISTS ix_bench_users_email_lower "
                                    "ON users (lower(email))"))
            db.session.commit()
        counters = Counters(db.engine)
    app.extensions["sillon_tasks"].huey.flush()

    def summary(samples):
        return statistics.median(samples) * 1000, max(samples) * 1000

    print(f"Import of {args.rows} rows, {args.db}, load average {os.getloadavg()[0]:.1f}, preview {args.rounds} rounds, confirm "
          f"{args.confirm_rounds} rounds (median / max, ms)"
          + (", with an index on lower(users.email)" if args.lower_email_index else ""))

    # 1. Service: preview (read + check + one query per 500 e-mails).
    data = make_file(args.rows, siret, uuid.uuid4().hex[:10])
    with app.app_context():
        formation = db.session.get(Formation, formation_id)
        imports.preview(formation, data, "bench.csv")  # warm-up
        samples, cpu = [], []
        for _ in range(args.rounds):
            counters.reset()
            start, start_cpu = time.perf_counter(), time.process_time()
            rows = imports.preview(db.session.get(Formation, formation_id), data, "bench.csv")
            samples.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        assert all(r.ok for r in rows), [r.findings for r in rows if not r.ok][:3]
        median, worst = summary(samples)
        print(f"  preview (service)          {median:8.1f} {worst:8.1f}   "
              f"{counters.statements} SQL statements, {args.rows / (median / 1000):,.0f} rows/s"
              f", CPU {statistics.median(cpu) * 1000:.0f} ms")

    # 2. Confirm: the request's claim, then the worker's task (dossiers + accounts +
    #    invitations, one transaction per 500 rows), a new file each round.
    with app.test_request_context():
        user = db.session.execute(
            select(User).filter_by(email="resp.info@sillon.demo")).scalar_one()
        samples, details = [], []
        for _ in range(args.confirm_rounds):
            data = make_file(args.rows, siret, uuid.uuid4().hex[:10])
            formation = db.session.get(Formation, formation_id)
            batch = imports.create_batch(formation, user, data, "bench.csv")
            db.session.commit()
            batch_id = batch.id
            imports.confirm(batch, user)
            db.session.commit()  # enqueues run_import
            seconds = run_queued(app, counters)
            samples.append(seconds)
            batch = db.session.get(ImportBatch, batch_id, populate_existing=True)
            assert batch.status == ImportBatch.CONFIRMED, (batch.status, batch.error_message)
            details.append((batch.created_count, counters.statements, counters.hashes,
                            counters.hash_seconds))
        median, worst = summary(samples)
        created, statements, hashes, hash_seconds = details[-1]
        print(f"  confirm (worker)           {median:8.1f} {worst:8.1f}   "
              f"{created} dossiers, {created / (median / 1000):,.0f} rows/s, "
              f"{statements} SQL statements, {hashes} password hashes "
              f"= {hash_seconds * 1000:.0f} ms, CPU {statistics.median(CPU) * 1000:.0f} ms")
        CPU.clear()

    # 3. HTTP, as the training's manager: upload + preview page, then the confirm POST (which
    #    only claims the batch), then the worker.
    client = app.test_client()
    page = client.get("/login")
    client.post("/login", data={"email": "resp.info@sillon.demo", "password": "sillon-demo",
                                "csrf_token": csrf_from(page.get_data(as_text=True))})
    url = f"/admin/formation/{formation_id}/import/"
    upload_samples, page_samples, confirm_samples, worker_samples = [], [], [], []
    for _ in range(args.confirm_rounds):
        data = make_file(args.rows, siret, uuid.uuid4().hex[:10])
        token = csrf_from(client.get(url).get_data(as_text=True))
        start = time.perf_counter()
        response = client.post(url, data={"csrf_token": token,
                                          "fichier": (io.BytesIO(data), "bench.csv")},
                               content_type="multipart/form-data")
        preview_url = response.headers["Location"]
        shown = time.perf_counter()
        html = client.get(preview_url).get_data(as_text=True)
        page_samples.append(time.perf_counter() - shown)
        upload_samples.append(time.perf_counter() - start)
        assert f"Confirmer l&#39;import de {args.rows} dossiers" in html or \
            f"Confirmer l'import de {args.rows} dossiers" in html
        start = time.perf_counter()
        client.post(preview_url + "confirmer/", data={"csrf_token": csrf_from(html)})
        confirm_samples.append(time.perf_counter() - start)
        worker_samples.append(run_queued(app, counters))
        progress = client.get(preview_url + "progression").get_json()
        assert progress["status"] == "confirme" and progress["created"] == args.rows, progress
    median, worst = summary(upload_samples)
    print(f"  upload + preview page (HTTP) {median:6.1f} {worst:8.1f}   "
          f"({len(html) // 1024} Ko of HTML)")
    median, worst = summary(page_samples)
    print(f"    of which the preview page  {median:6.1f} {worst:8.1f}   "
          "(the GET the upload redirects to: where the rows are checked, once)")
    median, worst = summary(confirm_samples)
    print(f"  confirm POST (HTTP)        {median:8.1f} {worst:8.1f}")
    median, worst = summary(worker_samples)
    print(f"  its worker task            {median:8.1f} {worst:8.1f}   "
          f"{args.rows / (median / 1000):,.0f} rows/s, CPU {statistics.median(CPU) * 1000:.0f} ms")
    counters.close()


if __name__ == "__main__":
    main()
