"""Benchmark of the OPCO financing: the payment schedule, and the CFA's finance dashboard at volume.

    .venv/bin/python scripts/bench_financing.py [--contracts 10000] [--dossiers 100000]
        [--db sqlite|postgresql] [--rounds 15] [--no-analyze] [--explain]

1. portal.rules.financing.payment_schedule over N generated contracts (both regimes of décret
   2025-585, 6 months to 3 years 11 months, a quarter of them broken off, some at distance,
   some with the employer's 750 € participation): median total time of 3 passes and time per
   contract.
2. The finance dashboard: a fresh database built as scripts/bench.py builds it (migration,
   reference and demo data, N synthetic dossiers), then, with Core bulk inserts, a prise en
   charge for every dossier sent to the OPCO and for a third of the broken-off ones (every OPCO
   state), its schedule from payment_schedule (plus the instalments a rupture put out of it),
   the claims of the instalments due (draft, deposited, paid, rejected then deposited again),
   their invoices and payments. Contracts start over the last three years so that every block
   of the dashboard has rows. Then it times portal.financing.dashboard.dashboard(admin) and the
   page /admin/financement/tableau-de-bord/ (median and p90 over --rounds after 2 warm-ups) and
   counts their SQL statements.

Prints figures only: nothing here asserts on times.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts.bench_support import settle  # noqa: E402
from scripts.bench import (SqlRecorder, explain, load_data, login,  # noqa: E402
                           p90, step, timed)

URL = "/admin/financement/tableau-de-bord/"
ADMIN = "admin@sillon.demo"
SCHEDULE_PASSES = 3
BATCH = 5000
PEC_STATES = (("accorde", 70), ("recu", 6), ("en_instruction", 6), ("en_attente", 6),
              ("refuse", 6), ("annule", 6))
# What became of a due instalment of an agreed prise en charge (weights).
CLAIM_FATES = (("payee", 55), ("deposee", 18), ("partielle", 4), ("brouillon", 5),
               ("rejetee", 3), ("rejetee_puis_deposee", 3), (None, 12))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=10_000,
                        help="generated contracts for payment_schedule (default 10000)")
    parser.add_argument("--dossiers", type=int, default=100_000,
                        help="synthetic dossiers added to the demo data (default 100000)")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--rounds", type=int, default=15,
                        help="timed calls per measure, after 2 warm-ups")
    parser.add_argument("--no-analyze", dest="analyze", action="store_false",
                        help="skip ANALYZE after loading (as scripts/bench.py)")
    parser.add_argument("--explain", action="store_true",
                        help="print the query plan of the dashboard's slowest statement")
    return parser.parse_args(argv)


# --- contracts ----------------------------------------------------------------------------------

def contract(rng: random.Random, today: date) -> dict:
    """A contract as payment_schedule takes it, started within the last three years."""
    from portal.rules.dates import add_months
    start = today - timedelta(days=rng.randrange(1100))
    end = add_months(start, rng.choice((6, 10, 12, 12, 24, 24, 24, 36, 47))) - timedelta(days=1)
    concluded = start - timedelta(days=rng.randrange(45))
    new_regime = concluded >= date(2025, 7, 1)
    rupture = None
    if rng.random() < 0.25:
        rupture = start + timedelta(days=rng.randrange(15, max(16, (end - start).days)))
    return dict(concluded=concluded, start=start, end=end,
                npec=Decimal(rng.randrange(5000, 13000)),
                distance_share=Decimal("0.85") if rng.random() < 0.1 else Decimal("0"),
                participation=Decimal("750") if new_regime and rng.random() < 0.3
                else Decimal("0"), rupture=rupture)


def bench_schedule(n: int) -> dict:
    from portal.rules.financing import payment_schedule
    rng = random.Random(2027)
    contracts = [contract(rng, date(2026, 12, 1)) for _ in range(n)]
    for c in contracts[:200]:  # warm-up
        payment_schedule(**c)
    totals, instalments = [], 0
    for _ in range(SCHEDULE_PASSES):
        start = time.perf_counter()
        instalments = sum(len(payment_schedule(**c)) for c in contracts)
        totals.append(time.perf_counter() - start)
    return dict(contracts=n, instalments=instalments, total=statistics.median(totals),
                best=min(totals), ruptures=sum(1 for c in contracts if c["rupture"]))


# --- the database -------------------------------------------------------------------------------

def database(backend: str):
    """(url, stop) of a fresh database of its own (bench.py's is .bench/bench.db)."""
    from scripts.bench_support import fresh_database
    return fresh_database(backend, "bench_financing")


def build_app(url: str):
    from scripts.bench_support import bare_app
    return bare_app(url, "instance-financing")


class Rows:
    """Rows for the financing tables with ids given here (Core executemany, no RETURNING)."""

    def __init__(self):
        from sqlalchemy import func, select

        from portal.extensions import db
        from portal.models import (DemandeRemboursement, Echeance, Facture, Paiement,
                                   PriseEnCharge)
        self.models = (PriseEnCharge, Echeance, Facture, DemandeRemboursement, Paiement)
        self.rows = {m: [] for m in self.models}
        self.next = {m: (db.session.execute(select(func.max(m.id))).scalar() or 0) + 1
                     for m in self.models}
        self.sequences: dict[int, int] = {}

    def add(self, model, **values) -> int:
        values["id"] = self.next[model]
        self.next[model] += 1
        self.rows[model].append(values)
        return values["id"]

    def invoice_number(self, year: int) -> tuple[int, str]:
        """The next (sequence, number) of ``year``, after the invoices already there."""
        if year not in self.sequences:
            from sqlalchemy import func, select

            from portal.extensions import db
            from portal.models import Facture
            self.sequences[year] = db.session.execute(
                select(func.max(Facture.sequence)).where(Facture.annee == year)).scalar() or 0
        seq = self.sequences[year] = self.sequences[year] + 1
        return seq, f"BENCH-{year}-{seq:06d}"

    def write(self) -> dict:
        from sqlalchemy import insert

        from portal.extensions import db
        for model in self.models:  # parents first
            rows = self.rows[model]
            for k in range(0, len(rows), BATCH):
                db.session.execute(insert(model.__table__), rows[k:k + BATCH])
        db.session.commit()
        return {m.__tablename__: len(self.rows[m]) for m in self.models}


def _weighted(rng, table):
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


def add_financing(today: date) -> dict:
    """The prises en charge, schedules, claims, invoices and payments of the synthetic data."""
    from sqlalchemy import select

    from portal.extensions import db
    from portal.models import Dossier, Opco, PriseEnCharge
    from portal.rules.financing import payment_schedule
    rng = random.Random(2028)
    opcos = db.session.execute(select(Opco.code)).scalars().all() or [None]
    dossiers = db.session.execute(select(Dossier.id, Dossier.state).where(
        Dossier.state.in_(("envoye_opco", "rompu")),
        ~select(PriseEnCharge.id).where(PriseEnCharge.dossier_id == Dossier.id).exists())
        .order_by(Dossier.id)).all()  # the demo data's own prises en charge stay
    out = Rows()
    for dossier_id, dossier_state in dossiers:
        if dossier_state == "rompu" and rng.random() > 1 / 3:
            continue
        c = contract(rng, today)
        if dossier_state == "rompu" and c["rupture"] is None:
            c["rupture"] = c["start"] + timedelta(days=rng.randrange(15, 300))
            c["rupture"] = min(c["rupture"], c["end"])
        _add_pec(out, rng, today, dossier_id, c, rng.choice(opcos), payment_schedule)
    return out.write()


def _add_pec(out, rng, today, dossier_id, c, opco, payment_schedule):
    from portal.models import Echeance, PriseEnCharge
    state = _weighted(rng, PEC_STATES)
    if state in ("recu", "en_instruction", "en_attente"):
        complete = today - timedelta(days=rng.randrange(60))  # late or not (20 days)
    else:
        complete = c["start"] - timedelta(days=rng.randrange(5, 40))
    last = min(c["end"], c["rupture"] or c["end"])
    schedule = payment_schedule(**c)
    pec_id = out.add(PriseEnCharge, dossier_id=dossier_id, opco_code=opco,
                     numero_opco=f"BENCH-{dossier_id:07d}", date_depot=complete,
                     date_complet=complete, state=state, state_date=complete,
                     date_decision=complete + timedelta(days=10)
                     if state in ("accorde", "refuse") else None,
                     date_conclusion=c["concluded"], date_debut=c["start"], date_fin=last,
                     npec=c["npec"], part_distance=c["distance_share"],
                     montant_opco=sum((i.amount for i in schedule), Decimal(0)),
                     participation_employeur=c["participation"], version=1)
    kept = {(i.contract_year, i.kind) for i in schedule}
    rows = [(i, False) for i in schedule]
    if c["rupture"]:  # what the planned schedule had and the rupture took out
        planned = payment_schedule(**dict(c, rupture=None))
        rows += [(i, True) for i in planned if (i.contract_year, i.kind) not in kept]
    for rank, (inst, hors) in enumerate(rows, 1):
        echeance_id = out.add(Echeance, prise_en_charge_id=pec_id, rang=rank,
                              annee_contrat=inst.contract_year, nature=inst.kind,
                              pourcentage=inst.percent, montant=inst.amount,
                              date_prevue=inst.due, hors_echeancier=hors)
        if state == "accorde" and not hors and inst.due <= today and inst.amount > 0:
            _add_claims(out, rng, today, pec_id, echeance_id, inst)


def _add_claims(out, rng, today, pec_id, echeance_id, inst):
    fate = _weighted(rng, CLAIM_FATES)
    if fate is None:
        return
    deposit = min(inst.due + timedelta(days=rng.randrange(60)), today)
    if fate.startswith("rejetee"):
        rejected = min(deposit + timedelta(days=rng.randrange(5, 30)), today)
        _claim(out, pec_id, echeance_id, inst.amount, "rejetee", deposit, rejetee_le=rejected)
        if fate == "rejetee":
            return
        fate, deposit = "deposee", rejected
    if fate == "brouillon":
        _claim(out, pec_id, echeance_id, inst.amount, "brouillon", None)
    elif fate == "payee":
        paid_on = min(deposit + timedelta(days=rng.randrange(10, 45)), today)
        claim_id = _claim(out, pec_id, echeance_id, inst.amount, "payee", deposit,
                          montant_paye=inst.amount, payee_le=paid_on)
        _payment(out, claim_id, paid_on, inst.amount)
    else:
        paid = (inst.amount / 2).quantize(Decimal("0.01")) if fate == "partielle" else 0
        claim_id = _claim(out, pec_id, echeance_id, inst.amount, "deposee", deposit,
                          montant_paye=paid)
        if paid:
            _payment(out, claim_id, min(deposit + timedelta(days=20), today), paid)


def _claim(out, pec_id, echeance_id, amount, state, deposit, **extra) -> int:
    from portal.models import DemandeRemboursement, Facture
    issued = deposit or date.today()
    seq, numero = out.invoice_number(issued.year)
    invoice_id = out.add(Facture, numero=numero, annee=issued.year, sequence=seq,
                         destinataire="opco", prise_en_charge_id=pec_id, montant=amount,
                         date_emission=issued, date_echeance=issued + timedelta(days=30))
    values = dict(prise_en_charge_id=pec_id, echeance_id=echeance_id, montant=amount,
                  montant_frais=Decimal(0), state=state, facture_id=invoice_id,
                  deposee_le=deposit, montant_paye=Decimal(0), payee_le=None, rejetee_le=None,
                  motif_rejet="Pièce illisible" if state == "rejetee" else None, version=1)
    values.update(extra)
    return out.add(DemandeRemboursement, **values)


def _payment(out, claim_id, on, amount):
    from portal.models import Paiement
    out.add(Paiement, demande_id=claim_id, date=on, montant=amount, reference=None)


# --- measuring ----------------------------------------------------------------------------------

def time_function(app, recorder, rounds: int) -> dict:
    from sqlalchemy import select

    from portal.extensions import db
    from portal.financing.dashboard import dashboard
    from portal.models import User
    with app.app_context():
        admin = db.session.execute(select(User).where(User.email == ADMIN)).scalar_one()
        for _ in range(2):
            figures = dashboard(admin)
        times, counts, slowest = [], set(), (0.0, "", None)
        for _ in range(rounds):
            recorder.reset()
            start = time.perf_counter()
            figures = dashboard(admin)
            times.append((time.perf_counter() - start) * 1000)
            counts.add(recorder.count)
            for sql, params, seconds in recorder.statements:
                if seconds * 1000 > slowest[0]:
                    slowest = (seconds * 1000, sql, params)
        db.session.rollback()
    return dict(median=statistics.median(times), p90=p90(times), queries=sorted(counts),
                figures=figures, slowest=slowest)


def run(args):
    total_start = time.perf_counter()
    with step(f"payment_schedule × {args.contracts} contracts × {SCHEDULE_PASSES} passes"):
        schedule = bench_schedule(args.contracts)
    url, stop = database(args.db)
    app = None
    try:
        app = build_app(url)
        print(f"database: {args.db} ({url})")
        load_data(app, args.dossiers, analyze=False)
        from portal.extensions import db
        with app.app_context():
            with step("prises en charge, schedules, claims, invoices, payments"):
                inserted = add_financing(date.today())
            if args.analyze:
                with step("ANALYZE (planner statistics; PostgreSQL: VACUUM too)"):
                    settle(db.engine)
            recorder = SqlRecorder(db.engine)
        with step(f"timing dashboard() and the page × (2+{args.rounds})"):
            function = time_function(app, recorder, args.rounds)
            page = timed(login(app, ADMIN), recorder, URL, args.rounds)
        if args.explain:
            ms, sql, params = function["slowest"]
            print(f"\n--- slowest statement of dashboard() ({ms:.1f} ms)\n{sql}\nparams: {params}")
            for line in explain(app, sql, params):
                print("    " + line)
    finally:
        if app is not None:
            from portal.extensions import db
            with app.app_context():
                db.engine.dispose()
        stop()
    report(args, schedule, inserted, function, page)
    print(f"\ntotal run time: {time.perf_counter() - total_start:.0f} s")


def report(args, schedule, inserted, function, page):
    per = schedule["total"] / max(schedule["contracts"], 1) * 1e6
    print(f"\n1. payment_schedule: {schedule['contracts']} contracts "
          f"({schedule['ruptures']} broken off), {schedule['instalments']} instalments: "
          f"median {schedule['total'] * 1000:.1f} ms per pass (best "
          f"{schedule['best'] * 1000:.1f} ms), {per:.1f} µs per contract")
    print(f"\n2. finance dashboard, {args.db}, {args.dossiers} synthetic dossiers + demo data; "
          "rows inserted: " + ", ".join(f"{k} {v}" for k, v in inserted.items()))
    f = function["figures"]
    print("   figures: " + "; ".join(
        f"{label} {f[key]['count']}" for key, label in (
            ("dues", "dues non déposées"), ("unpaid", "impayées > 30 j"),
            ("decisions", "décisions en retard"), ("balances", "soldes à risque")))
        + f"; 12 months expected {f['cash']['totals']['total']:.2f} €, received "
          f"{f['received']['total']:.2f} €")
    print(f"   {'measure':<42} {'median ms':>9} {'p90 ms':>7} {'SQL statements':>15}")
    for label, m in (("dashboard(admin)", function), (f"GET {URL}", page)):
        queries = "/".join(str(q) for q in m["queries"])
        print(f"   {label:<42} {m['median']:>9.1f} {m['p90']:>7.1f} {queries:>15}")
    print(f"   slowest statement of dashboard(): {function['slowest'][0]:.1f} ms; "
          f"of the page: {page['slowest'][0]:.1f} ms")


if __name__ == "__main__":
    run(parse_args())
