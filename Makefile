# The two commands (see README.md): `make run` starts the whole product, `make test` runs the whole suite.
# Both bootstrap from a clean clone: a .venv with Python >= 3.11, uv inside it, the project and its dev tools.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
# Re-installed when pyproject.toml changes.
STAMP := $(VENV)/.installed-from-pyproject
PORT ?= 8000
# e.g. make test PYTEST_ARGS="-k mailbox -n 0"
PYTEST_ARGS ?=

.PHONY: help run test install lint format check compose-check clean-demo bench

help:
	@echo "make run    start the registry with demo data on http://127.0.0.1:$(PORT)/ (Ctrl-C stops it)"
	@echo "make test   run the whole test suite"
	@echo "make lint   ruff check + ruff format --check;  make format  ruff format"
	@echo "make check  migrations up to date, Django system checks"
	@echo "make compose-check  validate docker-compose.yml (and the staging override) against the Compose schema (offline)"
	@echo "make clean-demo     empty the demo database and mailbox, then seed again"
	@echo "make bench  benchmarks against local PostgreSQL + Redis (drops and recreates database 'bench'); see README"

$(PY):
	@python=""; \
	for candidate in python3.11 python3.12 python3.13 python3; do \
	  if command -v $$candidate >/dev/null && $$candidate -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then \
	    python=$$candidate; break; \
	  fi; \
	done; \
	if [ -z "$$python" ]; then echo "Python 3.11 or newer is needed (python3.11 or python3 on PATH)." >&2; exit 1; fi; \
	echo "Creating $(VENV) with $$($$python --version)"; \
	$$python -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	@if [ ! -x $(UV) ]; then $(PY) -m pip install --quiet --disable-pip-version-check uv; fi
	$(UV) pip install --quiet --python $(PY) -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# whitenoise warns on every request while the static folder does not exist (it is filled by collectstatic).
STATIC_DIR = "$${VAR_DIR:-var}/static"

# Links in the demo's emails point at the port it serves, unless SITE_URL is set (e.g. behind a proxy).
DEMO_SITE_URL = SITE_URL="$${SITE_URL:-http://127.0.0.1:$(PORT)}"

run: $(STAMP)
	@mkdir -p $(STATIC_DIR)
	$(PY) manage.py migrate --noinput
	$(DEMO_SITE_URL) $(PY) manage.py seed_demo
	$(DEMO_SITE_URL) $(PY) manage.py rundemo --port $(PORT)

# -n auto: one xdist worker per core, each with its own test database and Celery queue. On PostgreSQL worksteal lets
# an idle worker take queued tests from a busy one (the longest tests start first: tests/conftest.py).
test: $(STAMP)
	@mkdir -p $(STATIC_DIR)
	$(PY) -m pytest -n auto $(if $(findstring postgres,$(DATABASE_URL)),--dist worksteal,) $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .

check: $(STAMP)
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py check

# check-jsonschema is a one-off validation tool, not a project dependency.
compose-check: $(STAMP)
	@if [ ! -x $(VENV)/bin/check-jsonschema ]; then $(UV) pip install --quiet --python $(PY) check-jsonschema; fi
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml docker-compose.staging.yml

clean-demo: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --reset

# Needs PostgreSQL (127.0.0.1:5432, trust auth) and Redis (127.0.0.1:6379); installs wrk with apt-get if missing.
# Writes bench/results.json. e.g. make bench BENCH_ARGS="--injections 20000 --skip export"
BENCH_ARGS ?=
bench: $(STAMP)
	$(PY) -m bench.run $(BENCH_ARGS)
