"""Benchmark of the generated documents: median render time of the CERFA (FA13 and EJ20), the
convention and the quote, and of a second download of a locked dossier's CERFA (served from
storage, identical bytes).

    .venv/bin/python scripts/bench_documents.py [--rounds 15]

Fresh SQLite database under .bench/, migrated, reference and demo data. Prints figures only.
"""
from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH = ROOT / ".bench"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    from scripts.bench_support import demo_app
    app = demo_app("documents")
    from portal.dossiers.printing import render as render_pdf
    from portal.extensions import db
    from portal.models import Dossier

    def timed(fn):
        for _ in range(2):
            fn()
        samples = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - start) * 1000)
        ordered = sorted(samples)
        return statistics.median(samples), ordered[int(0.9 * (len(ordered) - 1))]

    print(f"Documents, SQLite, {args.rounds} renders after 2 warm-ups (median / p90, ms)")
    with app.test_request_context():
        dossier = db.session.query(Dossier).filter_by(state="documents_valides").first()
        for label, kind, dispositif in (("CERFA FA13", "cerfa", "apprentissage"),
                                        ("CERFA EJ20", "cerfa", "professionnalisation"),
                                        ("Convention", "convention", None),
                                        ("Devis", "devis", None)):
            if dispositif:
                dossier.dispositif = dispositif
            median, p90 = timed(lambda: render_pdf(kind, dossier))
            size = len(render_pdf(kind, dossier))
            print(f"  {label:<12} {median:7.1f} {p90:7.1f}   ({size // 1024} Ko)")
        db.session.rollback()
        pk = dossier.id

    client = app.test_client()
    page = client.get("/login")
    from tests.support.web import csrf_from
    client.post("/login", data={"email": "admin@sillon.demo", "password": "sillon-demo",
                                "csrf_token": csrf_from(page.get_data(as_text=True))})
    url = f"/admin/dossier/{pk}/documents/cerfa/"
    start = time.perf_counter()
    first = client.get(url).data
    first_ms = (time.perf_counter() - start) * 1000
    median, p90 = timed(lambda: client.get(url).data)
    same = hashlib.sha256(client.get(url).data).hexdigest() == hashlib.sha256(first).hexdigest()
    print(f"  locked dossier's CERFA download: first {first_ms:.1f} ms (render + store), "
          f"then median {median:.1f} / p90 {p90:.1f} ms, identical bytes: {same}")


if __name__ == "__main__":
    main()
