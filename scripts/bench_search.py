"""Benchmark of the dossier list's search: the old way, the new way, Django admin's way.

    .venv/bin/python scripts/bench_search.py [--dossiers 100000] [--db sqlite|postgresql]
        [--rounds 15] [--repeat 10] [--person admin@sillon.demo,rh@acme.sillon.demo]
        [--explain]

Builds a fresh database as scripts/bench.py does (migration, reference and demo data, N
synthetic dossiers: seeds.demo.add_synthetic_dossiers), adds a prise en charge numbered
« BENCH-<dossier> » to every synthetic dossier sent to the OPCO (Core insert), runs ANALYZE,
then times for 3 terms (an apprentice's last name, an establishment's SIRET, an OPCO number)
the search's two statements — the count and the page (20 rows, newest first) — within each
person's scope (portal.policy; by default the CFA admin, a training's manager, an employer and
an apprentice), three ways:

- ``before``: the search before issue 16 §2, ``lower(CAST(col AS VARCHAR)) LIKE lower(?)`` on
  the dossier's four columns, the employer's three (``IN (sub-select)``) and the OPCO number;
- ``now``: portal.dossiers.listing.search_clause, ``recherche LIKE ?`` on the folded columns;
- ``django``: what Django admin's ``search_fields`` (``icontains``) sends for the same eight
  columns: LEFT JOINs and an OR of ``col LIKE '%x%'`` on SQLite, of
  ``UPPER(col::text) LIKE UPPER('%x%')`` on PostgreSQL.

Runs are interleaved (each round times every term and way once); a run times the count and
the page ``--repeat`` times and keeps their mean (an apprentice's search takes 0.3 ms, near the
timer's noise for one pair: the ratio of single pairs moved from 0.8 to 1.3 between runs). It
prints medians, p90 and the ratio to Django, and the rows each way finds. It measures: nothing
here asserts on times.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts.bench import p90, step  # noqa: E402  (the list bench's timing helpers)
from scripts.bench_support import settle  # noqa: E402

WARMUPS = 2
WAYS = ("before", "now", "django")


PEOPLE = ("admin@sillon.demo", "resp.info@sillon.demo", "rh@acme.sillon.demo",
          "alice@etu.sillon.demo")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=100_000,
                        help="synthetic dossiers added to the demo data (default 100000)")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--rounds", type=int, default=15,
                        help="timed runs of each term and way, after %d warm-ups" % WARMUPS)
    parser.add_argument("--repeat", type=int, default=10,
                        help="count + page pairs timed together in each run (their mean)")
    parser.add_argument("--person", default=",".join(PEOPLE),
                        help="whose scopes the search runs in, comma-separated (default: the "
                             "CFA admin, a training's manager, an employer, an apprentice)")
    parser.add_argument("--explain", action="store_true",
                        help="print the query plan of each way's count for each term")
    return parser.parse_args(argv)


def load(app, n: int) -> None:
    from flask_migrate import upgrade

    from portal.extensions import db
    from seeds.demo import add_synthetic_dossiers, load_demo
    from seeds.reference import load_reference
    with app.app_context():
        with step("migration (alembic upgrade)"):
            upgrade()
        with step("reference and demo data"):
            load_reference()
            load_demo()
        if n:
            with step(f"{n} synthetic dossiers"):
                add_synthetic_dossiers(n)
        with step("prises en charge of the dossiers sent to the OPCO"):
            add_prises_en_charge()
        with step("ANALYZE (planner statistics; PostgreSQL: VACUUM too)"):
            settle(db.engine)


def add_prises_en_charge() -> int:
    """One prise en charge « BENCH-<dossier> » per dossier sent to the OPCO that has none."""
    from sqlalchemy import insert, select

    from portal.extensions import db
    from portal.models import Dossier, PriseEnCharge
    rows = db.session.execute(select(Dossier.id, Dossier.date_debut_contrat,
                                     Dossier.date_fin_contrat).where(
        Dossier.state == "envoye_opco",
        ~select(PriseEnCharge.id).where(PriseEnCharge.dossier_id == Dossier.id).exists())).all()
    today = date.today()
    values = [dict(dossier_id=pk, numero_opco=f"BENCH-{pk:07d}", date_depot=today,
                   date_complet=today, state="recu", state_date=today,
                   date_debut=start or today, date_fin=end or today) for pk, start, end in rows]
    for k in range(0, len(values), 5000):
        db.session.execute(insert(PriseEnCharge.__table__), values[k:k + 5000])
    db.session.commit()
    return len(values)


# --- the three ways -------------------------------------------------------------------------------

def before_clause(pattern: str, user):
    """portal.dossiers.listing.search_clause as it was before issue 16 §2."""
    from sqlalchemy import Unicode, cast, or_, select

    from portal import policy
    from portal.models import Dossier, Etablissement, PriseEnCharge, Structure

    def like(column):
        return cast(column, Unicode).ilike(pattern)

    employers = select(Etablissement.id).join(
        Structure, Structure.id == Etablissement.structure_id).where(
        or_(like(Etablissement.denomination), like(Etablissement.siret),
            like(Structure.raison_sociale)))
    opco = select(PriseEnCharge.dossier_id).where(
        like(PriseEnCharge.numero_opco), policy.row_filter(PriseEnCharge, user))
    return or_(like(Dossier.apprenti_nom), like(Dossier.apprenti_prenom),
               like(Dossier.apprenti_email), like(Dossier.employeur_siret),
               Dossier.etablissement_id.in_(employers), Dossier.id.in_(opco))


def django_parts(pattern: str, dialect: str):
    """(FROM clause, WHERE clause) of Django admin's search on the same columns."""
    from sqlalchemy import Text, cast, func, literal, or_
    from sqlalchemy.orm import aliased

    from portal.models import Dossier, Etablissement, PriseEnCharge, Structure
    etab, structure, pec = aliased(Etablissement), aliased(Structure), aliased(PriseEnCharge)
    columns = [Dossier.apprenti_nom, Dossier.apprenti_prenom, Dossier.apprenti_email,
               Dossier.employeur_siret, etab.denomination, etab.siret,
               structure.raison_sociale, pec.numero_opco]
    if dialect == "postgresql":  # django.db.backends.postgresql: icontains
        terms = [func.upper(cast(c, Text)).like(func.upper(literal(pattern))) for c in columns]
    else:  # django.db.backends.sqlite3: icontains is LIKE (case-blind for ASCII)
        terms = [c.like(pattern, escape="\\") for c in columns]
    joined = (Dossier.__table__
              .outerjoin(etab, etab.id == Dossier.etablissement_id)
              .outerjoin(structure, structure.id == etab.structure_id)
              .outerjoin(pec, pec.dossier_id == Dossier.id))
    return joined, or_(*terms)


def statements(way: str, term: str, user, dialect: str):
    """(count statement, page statement) of ``way`` for ``term`` in ``user``'s scope."""
    from sqlalchemy import func, select

    from portal import policy
    from portal.dossiers.listing import normalise_search, search_clause, search_sources
    from portal.models import Dossier
    term = normalise_search(term)
    pattern = f"%{term}%"
    scope = policy.row_filter(Dossier, user)
    table = Dossier.__table__
    sources = None
    if way == "django":
        source, clause = django_parts(pattern, dialect)
    elif way == "before":
        source, clause = table, before_clause(pattern, user)
    else:  # the list's own search (admin_views/dossiers.DossierView._apply_search)
        source, sources = table, search_sources(user)
        clause = search_clause(pattern, user, sources)
    count = select(func.count()).select_from(source).where(scope, clause)
    page = (select(*table.c).select_from(source).where(scope, clause)
            .order_by(table.c.id.desc()).limit(20))
    if sources is not None:
        count, page = sources.join(count), sources.join(page)
    return count, page


# --- measuring ------------------------------------------------------------------------------------

def run_once(conn, count, page, repeat: int = 1) -> tuple[float, int]:
    """The mean milliseconds of ``repeat`` counts and pages, and the count."""
    started = time.perf_counter()
    for _ in range(max(1, repeat)):
        total = conn.execute(count).scalar()
        conn.execute(page).all()
    return (time.perf_counter() - started) * 1000 / max(1, repeat), total


def pick_terms(app) -> dict[str, str]:
    from sqlalchemy import func, select

    from portal.extensions import db
    from portal.models import Dossier, Etablissement, PriseEnCharge
    with app.app_context():
        siret = db.session.execute(
            select(Etablissement.siret).join(Dossier, Dossier.etablissement_id == Etablissement.id)
            .group_by(Etablissement.siret).order_by(func.count().desc())).scalars().first()
        number = db.session.execute(
            select(PriseEnCharge.numero_opco).where(PriseEnCharge.numero_opco.like("BENCH-%"))
            .order_by(PriseEnCharge.id.desc())).scalars().first()
    return {"nom « Rivière »": "Rivière",
            "SIRET " + siret: " ".join([siret[:3], siret[3:6], siret[6:9], siret[9:]]),
            "n° OPCO " + (number or "?"): number or "BENCH-"}


def measure(app, args, person: str) -> dict:
    from sqlalchemy import select

    from portal.extensions import db
    from portal.models import User
    terms = pick_terms(app)
    results = {(label, way): [] for label in terms for way in WAYS}
    found = {}
    with app.app_context():
        user = db.session.execute(select(User).where(User.email == person)).scalar_one()
        dialect = db.engine.dialect.name
        built = {(label, way): statements(way, term, user, dialect)
                 for label, term in terms.items() for way in WAYS}
        with db.engine.connect() as conn:
            for round_no in range(WARMUPS + args.rounds):
                for key, (count, page) in built.items():
                    ms, total = run_once(conn, count, page, args.repeat)
                    found[key] = total
                    if round_no >= WARMUPS:
                        results[key].append(ms)
            if args.explain:
                for key, (count, _) in built.items():
                    print(f"\n--- {key[0]} / {key[1]}")
                    print(explain(conn, count))
    return dict(terms=terms, times=results, found=found, person=person)


def explain(conn, statement) -> str:
    sql = str(statement.compile(conn, compile_kwargs={"literal_binds": True}))
    if conn.dialect.name == "sqlite":
        return "\n".join(f"  {row[-1]}" for row in conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + sql))
    return "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN ANALYZE " + sql))


def report(data, args) -> None:
    print(f"\nSearch as {data['person']}, {args.dossiers} synthetic dossiers, {args.db}, "
          f"median (p90) of {args.rounds} interleaved runs of {args.repeat} × (count + page), "
          "ms per count + page")
    print(f"{'term':<30} {'way':<8} {'median':>9} {'p90':>9} {'× django':>9} {'rows':>7}")
    for label in data["terms"]:
        django = statistics.median(data["times"][(label, "django")])
        for way in WAYS:
            times = data["times"][(label, way)]
            median = statistics.median(times)
            print(f"{label[:30]:<30} {way:<8} {median:9.2f} {p90(times):9.2f} "
                  f"{median / django:9.2f} {data['found'][(label, way)]:7d}")


def main(argv=None) -> None:
    args = parse_args(argv)
    from scripts.bench_support import bare_app, fresh_database
    url, stop = fresh_database(args.db, "bench_search")
    try:
        app = bare_app(url, "instance-search")
        load(app, args.dossiers)
        for person in args.person.split(","):
            report(measure(app, args, person.strip()), args)
        from portal.extensions import db
        with app.app_context():
            db.engine.dispose()
    finally:
        stop()


if __name__ == "__main__":
    main()
