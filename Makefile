# ChatConnect: `make run` serves the app, `make test` runs the whole suite.
# Both set everything up on a fresh machine: virtualenv, pinned dependencies, bun.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BUN_VERSION := 1.4.5
BUN_MIN := 1.4.4
# Reflex 0.10 wants Node >= 22.22 (older ones print a warning and run the build under bun).
NODE_VERSION := 22.23.3
NODE_MIN := 22.22.0
TOOLS := $(CURDIR)/.tools
AXE_VERSION := 4.14.1
AXE_JS := $(TOOLS)/node_modules/axe-core/axe.min.js

# Reflex must use our bun (its own download cannot work offline); models load offline.
export PATH := $(TOOLS)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
export REFLEX_USE_SYSTEM_BUN := 1
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run worker test setup setup-dev bun node chromium axe migrate lint format bench bench-ingest bench-chat bench-embed bench-answers bench-intents bench-handoff bench-crawl bench-catalogue bench-load bench-query-embedding bench-quick reset clean help

help:
	@echo "make run     serve ChatConnect on http://127.0.0.1:$${PORT:-3000} (embedded defaults)"
	@echo "make test    run the whole test suite (2 parallel workers; PYTEST_WORKERS=0: serially)"
	@echo "make worker  run a job worker process (needs QDRANT_URL; see README, Scale-out)"
	@echo "make bench   run the benchmarks (writes bench/results/)"
	@echo "make bench-quick  the benchmarks in quick mode (what CI runs)"
	@echo "make lint    ruff"
	@echo "make reset   delete local data (data/)"

$(VENV)/.runtime: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

setup: $(VENV)/.runtime bun node
setup-dev: $(VENV)/.dev bun node

# Use a bun >= $(BUN_MIN) from PATH, else install one from the npm registry into .tools/.
bun:
	@if command -v bun >/dev/null 2>&1 && [ "$$(printf '%s\n' $(BUN_MIN) $$(bun --version) | sort -V | head -1)" = "$(BUN_MIN)" ]; then \
		echo "bun $$(bun --version) ($$(command -v bun))"; \
	else \
		echo "installing bun $(BUN_VERSION) from the npm registry into .tools/"; \
		mkdir -p $(TOOLS) && npm install --silent --no-audit --no-fund --prefix $(TOOLS) bun@$(BUN_VERSION) && \
		$(TOOLS)/node_modules/.bin/bun --version; \
	fi

# Use a Node >= $(NODE_MIN) from PATH, else install one from the npm registry into .tools/.
node:
	@if command -v node >/dev/null 2>&1 && [ "$$(printf '%s\n' $(NODE_MIN) $$(node --version | tr -d v) | sort -V | head -1)" = "$(NODE_MIN)" ]; then \
		echo "node $$(node --version) ($$(command -v node))"; \
	else \
		echo "installing node $(NODE_VERSION) from the npm registry into .tools/"; \
		mkdir -p $(TOOLS) && npm install --silent --no-audit --no-fund --prefix $(TOOLS) node@$(NODE_VERSION) && \
		$(TOOLS)/node_modules/.bin/node --version; \
	fi

# Browser tests use Debian's chromium; the README's curl examples (run by a test) need curl
# and jq. Installed once when missing.
chromium:
	@command -v chromium >/dev/null 2>&1 && command -v jq >/dev/null 2>&1 && command -v curl >/dev/null 2>&1 || { \
		echo "installing Debian's chromium, curl and jq for the browser and README tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium curl jq >/dev/null; }

# axe-core (accessibility checks run inside the browser tests, tests/e2e/helpers.py): one
# file from the npm registry into .tools/, installed once.
axe: $(AXE_JS)
$(AXE_JS):
	@echo "installing axe-core $(AXE_VERSION) from the npm registry into .tools/"
	@mkdir -p $(TOOLS) && npm install --silent --no-audit --no-fund --save-exact --prefix $(TOOLS) axe-core@$(AXE_VERSION)

migrate: setup
	$(PY) -m app.manage migrate

# The app prints a short banner (URL, demo URL, data, answers) once it is ready.
run: setup migrate
	@$(VENV)/bin/reflex run --env prod --loglevel warning

# A process that only runs durable jobs (ingestion). Needs QDRANT_URL (the embedded Edge
# shard belongs to the app process); start the app with INGEST_WORKERS=0 next to it.
worker: setup
	$(PY) -m app.worker $(WORKER_ARGS)

# The suite runs in PYTEST_WORKERS pytest-xdist processes (0 = serially, in this process).
# --dist loadfile keeps a module on one worker, so its module-scoped servers start once;
# the heavy modules are collected first (tests/conftest.py) so none is left to run alone at
# the end; --no-loadscope-reorder keeps that order (xdist would sort by test count).
PYTEST_WORKERS ?= 2
test: setup-dev chromium axe
	$(PY) -m pytest -q -ra --durations=20 -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

lint: setup-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check app tests bench

format: setup-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format app tests bench

bench: bench-ingest bench-chat bench-embed bench-answers bench-intents bench-handoff bench-crawl bench-catalogue bench-query-embedding

bench-ingest: setup-dev
	$(PY) -m bench.ingest

bench-chat: setup-dev
	$(PY) -m bench.chat

bench-embed: setup-dev chromium
	$(PY) -m bench.embed

# Staff message -> visitor's widget delivery latency (BENCH_ARGS=--quick: 10 messages).
bench-handoff: setup-dev chromium
	$(PY) -m bench.handoff $(BENCH_ARGS)

# The offline answerer on bench/answer_set (BENCH_ARGS=--quick: a third of the questions).
bench-answers: setup-dev
	$(PY) -m bench.answers $(BENCH_ARGS)

bench-intents: setup-dev
	$(PY) -m bench.intents $(BENCH_ARGS)

# Website crawl on a loopback site: pages/s and a no-change re-sync (BENCH_ARGS=--quick: 60 pages).
bench-crawl: setup-dev
	$(PY) -m bench.crawl $(BENCH_ARGS)

# Catalogue sync throughput and the no-change re-sync cost (BENCH_ARGS=--quick: 200 products).
bench-catalogue: setup-dev
	$(PY) -m bench.catalogue $(BENCH_ARGS)

# Locust load: 200 live visitors (websocket + REST) for 5 min, then a step ramp to saturation,
# on the embedded shape and on PostgreSQL + Redis (BENCH_ARGS=--shape embedded for one).
# Chat query embedding: eager vs traced forward pass, alone and beside a busy GIL.
bench-query-embedding: setup-dev
	$(PY) -m bench.query_embedding $(BENCH_ARGS)

bench-load: setup-dev
	$(PY) -m bench.load --shape both $(BENCH_ARGS)

# CI runs the benchmarks in their quick mode (small sizes, results in bench/results/*_quick.json,
# not tracked) so that none can rot unnoticed.
bench-quick: setup-dev chromium
	$(PY) -m bench.ingest --quick
	$(PY) -m bench.chat --quick
	$(PY) -m bench.answers --quick
	$(PY) -m bench.intents --quick
	$(PY) -m bench.embed --quick
	$(PY) -m bench.handoff --quick
	$(PY) -m bench.crawl --quick
	$(PY) -m bench.catalogue --quick
	$(PY) -m bench.query_embedding --quick
	$(PY) -m bench.load --quick

migration: setup
	$(VENV)/bin/alembic revision --autogenerate -m "$(m)"

reset:
	rm -rf data
	@echo "local data deleted (data/)"

clean:
	rm -rf .web .states $(VENV) $(TOOLS)
