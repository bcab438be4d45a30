"""Benchmark of the dossier list over HTTP: gunicorn with two sync workers, loaded by wrk.

    .venv/bin/python scripts/bench_http.py [--dossiers 100000] [--duration 10] [--db sqlite]

Builds a fresh database like scripts/bench.py (migration, reference and demo data, N synthetic
dossiers, ANALYZE), starts gunicorn on it (tests/support/gunicorn.py: the production command,
two workers, one thread each), logs in as each measured role and runs wrk (Debian's package)
on /admin/dossier/ with the session's cookie, at 10 and 50 connections. Prints wrk's requests
a second, its latency percentiles and errors (non-2xx answers count as errors), and the CPU
milliseconds per request of the gunicorn workers, of the PostgreSQL server (its processes)
and of wrk itself (from /proc and getrusage: user + system time over the run). wrk and the
database server run on the same two cores as the workers: the figures are a floor, and
2 × 1000 / (the three CPU figures added) is the rate the machine allows.
It measures; it asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import HTTPCookieProcessor

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ROLES = ["admin@sillon.demo", "resp.info@sillon.demo", "rh@acme.sillon.demo",
         "alice@etu.sillon.demo"]
URL = "/admin/dossier/"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=10, help="seconds of each wrk run")
    parser.add_argument("--connections", default="10,50")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--rounds", type=int, default=1,
                        help="wrk runs per role and connection count (the median is shown)")
    return parser.parse_args(argv)


def prepare(backend: str, dossiers: int) -> tuple[str, object]:
    """The database URL (loaded) and its stop callable."""
    from scripts.bench import load_data
    from scripts.bench_support import bare_app, fresh_database
    url, stop = fresh_database(backend, "http")
    app = bare_app(url, "instance-http")
    load_data(app, dossiers)
    from portal.extensions import db
    with app.app_context():
        db.engine.dispose()
    return url, stop


def cpu_seconds(pids) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (after the state field)
    return total / CLOCK_TICKS


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    return [int(p) for p in children.read_text().split()] if children.exists() else []


def database_pids(url: str) -> list[int]:
    """The PostgreSQL server of ``url`` (its postmaster, found by its port, and the processes
    it started: each connection's backend, the writers); none for SQLite (in the workers)."""
    port = re.search(r"@[^/:]+:(\d+)/", url)
    if not url.startswith("postgresql") or not port:
        return []
    wanted = f"-p\x00{port.group(1)}\x00"
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "postgres" in cmdline and wanted in cmdline + "\x00":
            return [int(proc.name), *worker_pids(int(proc.name))]
    return []


def wrk_cpu_seconds() -> float:
    """CPU seconds of this process's finished children (wrk)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
_LATENCY = re.compile(r"^\s+(50|90|99)%\s+([\d.]+)(us|ms|s)", re.M)
_ERRORS = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)|Socket errors:.*", re.M)
_TOTAL = re.compile(r"(\d+) requests in")


def wrk(base: str, cookie: str, connections: int, duration: int) -> dict:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s",
         "-H", f"Cookie: {cookie}", base + URL], capture_output=True, text=True, check=True
    ).stdout
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    latency = {p: float(v) * scale[u] for p, v, u in _LATENCY.findall(out)}
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", out))
    sockets = re.search(r"Socket errors:.*", out)
    return dict(rate=float(_RATE.search(out).group(1)), latency=latency, errors=errors,
                sockets=sockets.group(0) if sockets else "", total=int(_TOTAL.search(out)
                                                                         .group(1)))


def main(argv=None):
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: make system-deps installs it (Debian package wrk)")
    from tests.support.gunicorn import Client, GunicornServer
    started = time.perf_counter()
    url, stop = prepare(args.db, args.dossiers)
    server = GunicornServer(url, workers=2)
    try:
        server.start()
        pids = worker_pids(server.process.pid)
        print(f"\nDossier list over HTTP, {args.db}, {args.dossiers} synthetic dossiers, "
              f"gunicorn 2 sync workers (pids {pids}), wrk -t2, {args.duration} s per run")
        print("CPU ms/req: the gunicorn workers'; db: the PostgreSQL server's (its backends); "
              "wrk: the load generator's, on the same two cores")
        print(f"{'role':<24} {'conn':>4} {'req/s':>7} {'p50 ms':>7} {'p90 ms':>7} "
              f"{'p99 ms':>7} {'errors':>6} {'CPU ms/req':>10} {'db':>5} {'wrk':>5}")
        for email in ROLES:
            client = Client(server.url).login(email)
            jar = next(h.cookiejar for h in client.opener.handlers
                       if isinstance(h, HTTPCookieProcessor))
            cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
            for _ in range(20):
                assert client.get(URL).status == 200
            for connections in (int(c) for c in args.connections.split(",")):
                runs = []
                for _ in range(max(1, args.rounds)):
                    database = database_pids(url)
                    before = cpu_seconds(pids), cpu_seconds(database), wrk_cpu_seconds()
                    run = wrk(server.url, cookie, connections, args.duration)
                    total = max(run["total"], 1)
                    run["cpu"] = (cpu_seconds(pids) - before[0]) * 1000 / total
                    run["db"] = (cpu_seconds(database) - before[1]) * 1000 / total
                    run["wrk"] = (wrk_cpu_seconds() - before[2]) * 1000 / total
                    runs.append(run)
                result = sorted(runs, key=lambda r: r["rate"])[len(runs) // 2]
                cpu = result["cpu"]
                lat = result["latency"]
                print(f"{email:<24} {connections:>4} {result['rate']:>7.0f} "
                      f"{lat.get('50', 0):>7.1f} {lat.get('90', 0):>7.1f} "
                      f"{lat.get('99', 0):>7.1f} {result['errors']:>6} {cpu:>10.2f}"
                      f" {result['db']:>5.2f} {result['wrk']:>5.2f}"
                      + (f"  {result['sockets']}" if result["sockets"] else ""))
    finally:
        server.stop()
        stop()
    print(f"\ntotal run time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
