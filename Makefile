# Sillon — two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi.py
SYSTEM_PACKAGES := chromium poppler-utils postgresql fonts-dejavu-core redis-server wrk

.PHONY: run test test-sqlite test-postgresql bench bench-postgresql bench-smoke install install-dev system-deps db clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt -c constraints.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt requirements.txt constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $(VENV)/.runtime $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

db: install
	$(BIN)/flask db upgrade
	$(BIN)/flask seed reference
	$(BIN)/flask seed demo --if-empty
	$(BIN)/flask seed snapshots

run: db
	@$(BIN)/flask seed accounts
	@echo "Sillon : http://127.0.0.1:5000 (e-mails envoyés par « flask worker », lancé avec lui)"
	@$(BIN)/flask worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/flask run --host 127.0.0.1 --port 5000

system-deps:
	@scripts/system-deps.sh $(SYSTEM_PACKAGES)

test: install-dev system-deps
	$(BIN)/python -m pytest -q tests --db=sqlite
	$(BIN)/python -m pytest -q tests --db=postgresql

test-sqlite: install-dev
	$(BIN)/python -m pytest -q tests --db=sqlite

test-postgresql: install-dev system-deps
	$(BIN)/python -m pytest -q tests --db=postgresql

bench: install-dev system-deps
	$(BIN)/python scripts/bench.py $(BENCH_ARGS)
	$(BIN)/python scripts/bench_financing.py $(BENCH_ARGS)
	$(BIN)/python scripts/bench_search.py $(BENCH_ARGS)
	$(BIN)/python scripts/bench_http.py $(BENCH_ARGS)
	$(BIN)/python scripts/bench_documents.py
	$(BIN)/python scripts/bench_import.py --rows 10000 --rounds 3 --confirm-rounds 1

# The database benchmarks on PostgreSQL (a throw-away server, as the tests start one).
bench-postgresql: install-dev system-deps
	$(BIN)/python scripts/bench.py --db postgresql --explain $(BENCH_ARGS)
	$(BIN)/python scripts/bench_financing.py --db postgresql $(BENCH_ARGS)
	$(BIN)/python scripts/bench_search.py --db postgresql $(BENCH_ARGS)
	$(BIN)/python scripts/bench_http.py --db postgresql $(BENCH_ARGS)
	$(BIN)/python scripts/bench_import.py --db postgresql --rows 10000 --rounds 3 --confirm-rounds 1

# The same benchmarks on small data (2 000 dossiers), in under two minutes: CI runs it so a
# benchmark can never stop running unnoticed. It measures; it asserts no time.
bench-smoke: install-dev system-deps
	$(BIN)/python scripts/bench.py --dossiers 2000 --rounds 3
	$(BIN)/python scripts/bench_search.py --dossiers 2000 --rounds 3
	$(BIN)/python scripts/bench_http.py --dossiers 2000 --duration 3 --connections 10
	$(BIN)/python scripts/bench_financing.py --dossiers 300 --contracts 200 --rounds 1
	$(BIN)/python scripts/bench_documents.py --rounds 1
	$(BIN)/python scripts/bench_import.py --rows 500 --rounds 1 --confirm-rounds 1

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
