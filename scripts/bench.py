"""Benchmark of the dossier list: each demo role's scoped view against a plain Flask-Admin view.

    .venv/bin/python scripts/bench.py [--dossiers 100000] [--db sqlite|postgresql] [--rounds 15]

Builds the app on a fresh database (SQLite file under .bench/, or a throw-away PostgreSQL server
from tests/support/postgres.py), runs the Alembic migration, loads the reference and demo data
plus N synthetic dossiers, and registers on the same app a plain, unscoped
``flask_admin.contrib.sqla.ModelView`` of Dossier (second Admin at /bench-admin, endpoint
``plain_dossier``) with the same columns, default sort and filters as DossierView.

For each demo account (and the plain view, browsed as the admin) it times with the Flask test
client, in interleaved rounds (every URL once per round, so a slow moment of the machine falls
on all of them): the list page (20 rows, default sort), the list with one filter (state =
en_saisie), a search by last name, by SIRET and by OPCO number, and the list with 100 rows; it
counts the SQL statements and bytes of each page and this process's CPU per request (and the
requests a second two workers of that CPU would serve). It prints figures only: nothing here
asserts on times.
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

from scripts.bench_support import settle  # noqa: E402

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
    parser.add_argument("--demo-share", type=float, default=None,
                        help="share of the synthetic dossiers at the demo's nine "
                             "establishments (default seeds.synthetic_employers.DEMO_SHARE; "
                             "1.0: the few-employers worst case)")
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


def load_data(app, n: int, analyze: bool = True, demo_share: float | None = None):
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
                add_synthetic_dossiers(n, **({} if demo_share is None
                                             else {"demo_share": demo_share}))
        if analyze:
            with step("ANALYZE (planner statistics; PostgreSQL: VACUUM too)"):
                settle(db.engine)


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
    """(wall ms, CPU ms of this process, SQL statements, body, statements) of one request."""
    recorder.reset()
    start, cpu = time.perf_counter(), time.process_time()
    response = client.get(url)
    cpu_ms = (time.process_time() - cpu) * 1000
    elapsed = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        raise SystemExit(f"GET {url} answered HTTP {response.status_code}")
    return elapsed, cpu_ms, recorder.count, response.get_data(as_text=True), \
        list(recorder.statements)


class Measure:
    """One URL of one view, measured round after round (interleaved with the others)."""

    def __init__(self, client, url):
        self.client, self.url = client, url
        self.times, self.cpu, self.queries, self.sizes = [], [], set(), set()
        self.html, self.slowest = "", (0.0, "", None)

    def run(self, recorder, keep: bool):
        ms, cpu_ms, count, html, statements = fetch(self.client, recorder, self.url)
        if not keep:
            return
        self.times.append(ms)
        self.cpu.append(cpu_ms)
        self.queries.add(count)
        self.sizes.add(len(html.encode()))
        self.html = html
        for sql, params, seconds in statements:
            if seconds * 1000 > self.slowest[0]:
                self.slowest = (seconds * 1000, sql, params)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def p90(self) -> float:
        return p90(self.times)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)

    @property
    def kib(self) -> float:
        return max(self.sizes) / 1024


def timed(client, recorder, url, rounds) -> dict:
    """One URL alone, WARMUPS then ``rounds`` requests (for the other benchmarks' pages): its
    times, median, p90, statement counts, last body and slowest statement."""
    measure = Measure(client, url)
    for round_ in range(WARMUPS + rounds):
        measure.run(recorder, keep=round_ >= WARMUPS)
    return dict(times=measure.times, median=measure.median, p90=measure.p90,
                queries=sorted(measure.queries), html=measure.html, slowest=measure.slowest,
                cpu=measure.cpu_median)


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


def search_terms(app) -> dict[str, str]:
    """What people type: a last name (with its accent when it has one), a SIRET, an OPCO
    number, taken from the data."""
    from sqlalchemy import func, select

    from portal.extensions import db
    from portal.models import Dossier, PriseEnCharge
    with app.app_context():
        name = db.session.scalar(select(Dossier.apprenti_nom).order_by(
            func.length(Dossier.apprenti_nom).desc(), Dossier.id).limit(1))
        siret = db.session.scalar(select(Dossier.employeur_siret).where(
            Dossier.employeur_siret.is_not(None)).order_by(Dossier.id).limit(1))
        opco = db.session.scalar(select(PriseEnCharge.numero_opco).where(
            PriseEnCharge.numero_opco.is_not(None)).order_by(PriseEnCharge.id).limit(1))
    return {"nom": name or "Martin", "siret": siret or "73834085001141",
            "opco": opco or "OPCO"}


MEASURES = ("page20", "filtered", "search", "size100")


def run(args):
    total_start = time.perf_counter()
    url, stop = database(args.db)
    app = None
    try:
        app = build_app(url)
        print(f"database: {args.db} ({url})")
        load_data(app, args.dossiers, args.analyze, args.demo_share)

        from urllib.parse import quote

        from portal.extensions import db
        with app.app_context():
            recorder = SqlRecorder(db.engine)
        terms = search_terms(app)
        print("search terms: " + ", ".join(f"{k} = {v!r}" for k, v in terms.items()))

        targets = [(PLAIN, "admin@sillon.demo", PLAIN_URL, None)]
        targets += [(email, email, SCOPED_URL, email) for email in ACCOUNTS]
        results = []
        for label, account, base, scope_email in targets:
            client = login(app, account)
            results.append(dict(
                label=label, rows=scope_size(app, scope_email),
                filtered_rows=scope_size(app, scope_email, state="en_saisie"),
                page20=Measure(client, base), filtered=Measure(client, f"{base}?{FILTER_ARGS}"),
                search=Measure(client, f"{base}?search={quote(terms['nom'])}"),
                size100=Measure(client, f"{base}?page_size=100"),
                searches={k: Measure(client, f"{base}?search={quote(v)}")
                          for k, v in terms.items()}))
        total = len(targets) * (len(MEASURES) + len(terms))
        with step(f"timing {total} URLs x ({WARMUPS}+{args.rounds}) requests, interleaved"):
            for round_ in range(WARMUPS + args.rounds):
                for result in results:
                    for measure in [result[m] for m in MEASURES] + \
                            list(result["searches"].values()):
                        measure.run(recorder, keep=round_ >= WARMUPS)
        for result in results:
            for name, expected in (("page20", result["rows"]),
                                   ("filtered", result["filtered_rows"])):
                shown = listed_total(result[name].html) or 0  # no "(N)" when N is 0
                if shown != expected:
                    print(f"\n  ! {result['label']}: the list says {shown} rows, the scope has "
                          f"{expected}")
        if args.explain:
            for result in results:
                ms, sql, params = result["page20"].slowest
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
    plain = results[0]
    header = (f"{'view / role':<24} {'rows':>7} {'page ms':>8} {'p90':>6} {'ratio':>6} "
              f"{'filter':>7} {'ratio':>6} {'search':>7} {'ratio':>6} {'100/page':>8} "
              f"{'q@20':>4} {'q@100':>5} {'KiB@20':>6} {'KiB@100':>7} {'CPU ms':>6} "
              f"{'req/s x2':>8}")
    print(f"\nDossier list, {args.db}, {args.dossiers} synthetic dossiers, "
          f"{'with' if args.analyze else 'without'} ANALYZE, medians over {args.rounds} "
          f"interleaved rounds after {WARMUPS} warm-ups (ratio = median / plain view's "
          f"median; CPU ms = this process's CPU per page of 20; req/s x2 = what two workers "
          f"of that CPU would serve, 2 x 1000 / CPU ms)")
    print(header)
    print("-" * len(header))

    def queries(measure):
        return "/".join(str(q) for q in sorted(measure.queries))

    for r in results:
        cpu = r["page20"].cpu_median
        print(f"{r['label']:<24} {r['rows']:>7} {r['page20'].median:>8.1f} "
              f"{r['page20'].p90:>6.1f} {r['page20'].median / plain['page20'].median:>5.2f}x "
              f"{r['filtered'].median:>7.1f} "
              f"{r['filtered'].median / plain['filtered'].median:>5.2f}x "
              f"{r['search'].median:>7.1f} {r['search'].median / plain['search'].median:>5.2f}x "
              f"{r['size100'].median:>8.1f} {queries(r['page20']):>4} "
              f"{queries(r['size100']):>5} {r['page20'].kib:>6.1f} {r['size100'].kib:>7.1f} "
              f"{cpu:>6.1f} {2000 / cpu if cpu else 0:>8.0f}")
    print("\nsearch by what people type (median ms; ratio to the plain view's search of the "
          "same text)")
    for r in results:
        cells = [f"{k} {m.median:6.1f} ({m.median / plain['searches'][k].median:4.2f}x)"
                 for k, m in r["searches"].items()]
        print(f"{r['label']:<24} " + "   ".join(cells))
    slow = [r["label"] for r in results[1:] if r["page20"].median > 1.5 * plain["page20"].median]
    if slow:
        print(f"\nover 1.5x the plain view's median: {', '.join(slow)}")


if __name__ == "__main__":
    run(parse_args())
