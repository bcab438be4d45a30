"""Benchmark of the dossier list: each demo role's scoped view against a plain Flask-Admin view.

    .venv/bin/python scripts/bench.py [--dossiers 100000] [--db sqlite|postgresql] [--rounds 15]

Builds the app on a fresh database (SQLite file under .bench/, or a throw-away PostgreSQL server
from tests/support/postgres.py), runs the Alembic migration, loads the reference and demo data
plus N synthetic dossiers, and registers on the same app a plain, unscoped
``flask_admin.contrib.sqla.ModelView`` of Dossier (second Admin at /bench-admin, endpoint
``plain_dossier``) with the same columns, default sort and filters as DossierView.

For each demo account (and the plain view, browsed as the admin) it times with the Flask test
client the list page (20 rows, default sort), the list with one filter (state = en_saisie) and
the list with 100 rows, and counts the SQL statements of each request. It prints figures only:
nothing here asserts on times.
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BENCH_DIR = ROOT / ".bench"
PASSWORD = "sillon-demo"
ACCOUNTS = [
    "admin@sillon.demo",
    "conseil@sillon.demo",
    "resp.info@sillon.demo",
    "resp.droit@sillon.demo",
    "gest.info@sillon.demo",
    "rh@acme.sillon.demo",
    "rh@globex.sillon.demo",
    "alice@etu.sillon.demo",
    "bruno@etu.sillon.demo",
]
PLAIN = "plain (unscoped)"
SCOPED_URL = "/admin/dossier/"
PLAIN_URL = "/bench-admin/plain_dossier/"
# DossierView.column_filters[0] is FilterEqual(Dossier.state): Flask-Admin's URL argument is
# flt<position>_<filter index>=<value> (named_filter_urls is off).
FILTER_ARGS = "flt0_0=en_saisie"
WARMUPS = 2


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=100_000,
                        help="synthetic dossiers added to the demo data (default 100000)")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--rounds", type=int, default=15,
                        help="timed requests per measure, after %d warm-ups" % WARMUPS)
    parser.add_argument("--no-analyze", dest="analyze", action="store_false",
                        help="skip ANALYZE after loading (SQLite then plans without "
                             "statistics, as a database nobody ran ANALYZE on)")
    parser.add_argument("--explain", action="store_true",
                        help="print the slowest SQL statement of each role's list page "
                             "with its query plan")
    return parser.parse_args(argv)


@contextmanager
def step(label: str):
    print(f"{label} …", end=" ", flush=True)
    start = time.perf_counter()
    yield
    print(f"{time.perf_counter() - start:.1f} s", flush=True)


# --- the app ----------------------------------------------------------------------------------------

def database(backend: str):
    """(url, stop callable) of a fresh database."""
    from scripts.bench_support import fresh_database
    return fresh_database(backend, "bench")


def build_app(url: str):
    from scripts.bench_support import bare_app
    app = bare_app(url, "instance")
    add_plain_view(app)
    return app


def add_plain_view(app):
    """The reference: stock Flask-Admin ModelView, no scoping, same list settings."""
    from flask_admin import Admin
    from flask import redirect
    from flask_admin import expose
    from flask_admin.contrib.sqla import ModelView
    from flask_admin.theme import Bootstrap4Theme

    from admin_views.dossiers import DossierView
    from portal.extensions import db
    from portal.models import Dossier

    class PlainDossierView(ModelView):
        column_list = DossierView.column_list
        column_default_sort = DossierView.column_default_sort
        column_filters = DossierView.column_filters
        # Same rendering work as the scoped list (labels, badges, sortable headers, search box).
        column_labels = DossierView.column_labels
        column_formatters = DossierView.column_formatters
        column_sortable_list = DossierView.column_sortable_list
        column_searchable_list = DossierView.column_searchable_list
        column_choices = DossierView.column_choices
        page_size = 20
        can_set_page_size = True
        page_size_options = (20, 50, 100)
        can_view_details = True
        can_export = True
        export_types = ["csv"]

        def is_accessible(self):
            return True

        # The copied formatters link each row to its tabs: the plain view answers that URL
        # too (to its details page), so both lists build the same links.
        @expose("/<int:dossier_id>/<tab_code>/")
        def tab_view(self, dossier_id, tab_code):
            return redirect(self.get_url(".details_view", id=dossier_id))

    admin = Admin(app, name="Bench", url="/bench-admin", endpoint="benchadmin",
                  theme=Bootstrap4Theme(base_template="admin/sillon_base.html",
                                        swatch="default"))
    admin.add_view(PlainDossierView(Dossier, db, name="Dossiers (plain)",
                                    endpoint="plain_dossier"))


def load_data(app, n: int, analyze: bool = True):
    from flask_migrate import upgrade

    from portal.extensions import db
    from seeds.demo import add_synthetic_dossiers, load_demo
    from seeds.reference import load_reference
    with app.app_context():
        with step("migration (alembic upgrade)"):
            upgrade()
        with step("reference data"):
            load_reference()
        with step("demo data"):
            load_demo()
        if n:
            with step(f"{n} synthetic dossiers"):
                add_synthetic_dossiers(n)
        if analyze:
            with step("ANALYZE (planner statistics)"):
                with db.engine.begin() as conn:
                    conn.exec_driver_sql("ANALYZE")


# --- measuring ---------------------------------------------------------------------------------

class SqlRecorder:
    """Counts (and times) the SQL statements sent through db.engine."""

    def __init__(self, engine):
        from sqlalchemy import event
        self.statements: list[tuple[str, object, float]] = []
        self._started: list[float] = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        self._started.append(time.perf_counter())

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        started = self._started.pop() if self._started else time.perf_counter()
        self.statements.append((statement, parameters, time.perf_counter() - started))

    def reset(self):
        self.statements.clear()
        self._started.clear()

    @property
    def count(self) -> int:
        return len(self.statements)


def login(app, email: str):
    from tests.support.web import login as http_login
    client = app.test_client()
    response = http_login(client, email, PASSWORD)
    if response.status_code != 302:
        raise SystemExit(f"login failed for {email}: HTTP {response.status_code}")
    return client


_COUNT = re.compile(r'class="nav-link active">[^<(]*\((\d+)\)')


def listed_total(html: str) -> int | None:
    match = _COUNT.search(html)
    return int(match.group(1)) if match else None


def fetch(client, recorder, url):
    recorder.reset()
    start = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        raise SystemExit(f"GET {url} answered HTTP {response.status_code}")
    return elapsed, recorder.count, response.get_data(as_text=True), list(recorder.statements)


def timed(client, recorder, url, rounds):
    for _ in range(WARMUPS):
        fetch(client, recorder, url)
    times, queries = [], set()
    slowest = (0.0, "", None)
    html = ""
    for _ in range(rounds):
        ms, count, html, statements = fetch(client, recorder, url)
        times.append(ms)
        queries.add(count)
        for sql, params, seconds in statements:
            if seconds * 1000 > slowest[0]:
                slowest = (seconds * 1000, sql, params)
    return dict(times=times, median=statistics.median(times), p90=p90(times),
                queries=sorted(queries), html=html, slowest=slowest)


def p90(values):
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=10, method="inclusive")[-1]


def scope_size(app, email: str | None, state: str | None = None) -> int:
    from sqlalchemy import func, select

    from portal import policy
    from portal.extensions import db
    from portal.models import Dossier, User
    with app.app_context():
        stmt = select(func.count()).select_from(Dossier)
        if email is not None:
            user = db.session.execute(select(User).where(User.email == email)).scalar_one()
            stmt = stmt.where(policy.row_filter(Dossier, user))
        if state is not None:
            stmt = stmt.where(Dossier.state == state)
        return db.session.execute(stmt).scalar_one()


def explain(app, sql: str, params) -> list[str]:
    from portal.extensions import db
    with app.app_context():
        with db.engine.connect() as conn:
            if db.engine.dialect.name == "sqlite":
                rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all()
                return [f"{row[0]:>3} {row[1]:>3}  {row[3]}" for row in rows]
            rows = conn.exec_driver_sql("EXPLAIN ANALYZE " + sql, params).all()
            return [row[0] for row in rows]


def run(args):
    total_start = time.perf_counter()
    url, stop = database(args.db)
    app = None
    try:
        app = build_app(url)
        print(f"database: {args.db} ({url})")
        load_data(app, args.dossiers, args.analyze)

        from portal.extensions import db
        with app.app_context():
            recorder = SqlRecorder(db.engine)

        targets = [(PLAIN, "admin@sillon.demo", PLAIN_URL, None)]
        targets += [(email, email, SCOPED_URL, email) for email in ACCOUNTS]
        results = []
        with step(f"timing {len(targets)} views x 4 measures x ({WARMUPS}+{args.rounds}) "
                  "requests"):
            for label, account, base, scope_email in targets:
                client = login(app, account)
                rows = scope_size(app, scope_email)
                page20 = timed(client, recorder, base, args.rounds)
                filtered = timed(client, recorder, f"{base}?{FILTER_ARGS}", args.rounds)
                size20 = timed(client, recorder, f"{base}?page_size=20", args.rounds)
                size100 = timed(client, recorder, f"{base}?page_size=100", args.rounds)
                filtered_rows = scope_size(app, scope_email, state="en_saisie")
                for measure, expected in ((page20, rows), (filtered, filtered_rows)):
                    shown = listed_total(measure["html"]) or 0  # no "(N)" when N is 0
                    if shown != expected:
                        print(f"\n  ! {label}: the list says {shown} rows, the scope has "
                              f"{expected}")
                results.append(dict(label=label, rows=rows, page20=page20, filtered=filtered,
                                    size20=size20, size100=size100,
                                    filtered_rows=filtered_rows))
        if args.explain:
            for result in results:
                ms, sql, params = result["page20"]["slowest"]
                print(f"\n--- {result['label']}: slowest statement of the list page "
                      f"({ms:.1f} ms)\n{sql}\nparams: {params}")
                for line in explain(app, sql, params):
                    print("    " + line)
    finally:
        if app is not None:
            # release the pool (and the SQLite file / PostgreSQL connections) before stopping
            from portal.extensions import db
            with app.app_context():
                db.engine.dispose()
        stop()

    print_table(results, args)
    print(f"\ntotal run time: {time.perf_counter() - total_start:.0f} s")
    return results


def print_table(results, args):
    plain = results[0]["page20"]["median"]
    plain_f = results[0]["filtered"]["median"]
    header = (f"{'view / role':<24} {'rows in scope':>13} {'median ms':>9} {'p90 ms':>7} "
              f"{'ratio':>6} {'filtered ms':>11} {'f.ratio':>7} {'f.rows':>7} "
              f"{'100/page ms':>11} {'q@20':>5} {'q@100':>5} {'slowest SQL ms':>14}")
    print(f"\nDossier list, {args.db}, {args.dossiers} synthetic dossiers, "
          f"{'with' if args.analyze else 'without'} ANALYZE, "
          f"median / p90 over {args.rounds} requests after {WARMUPS} warm-ups "
          f"(ratio = median / plain view's median)")
    print(header)
    print("-" * len(header))

    def queries(measure):
        return "/".join(str(q) for q in measure["queries"])

    for r in results:
        print(f"{r['label']:<24} {r['rows']:>13} {r['page20']['median']:>9.1f} "
              f"{r['page20']['p90']:>7.1f} {r['page20']['median'] / plain:>5.2f}x "
              f"{r['filtered']['median']:>11.1f} {r['filtered']['median'] / plain_f:>6.2f}x "
              f"{r['filtered_rows']:>7} "
              f"{r['size100']['median']:>11.1f} {queries(r['size20']):>5} "
              f"{queries(r['size100']):>5} {r['page20']['slowest'][0]:>14.1f}")
    slow = [r["label"] for r in results[1:] if r["page20"]["median"] > 1.5 * plain]
    if slow:
        print(f"\nover 1.5x the plain view's median: {', '.join(slow)}")


if __name__ == "__main__":
    run(parse_args())
