# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)

.PHONY: run test lint format migrate install check check-deploy bench clean-venv

$(STAMP): requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 (or run make PYTHON=python3)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

## Migrate, seed the demo once, print the demo logins, serve on http://127.0.0.1:8000
run: install
	@scripts/run.sh

## The whole suite against PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/safeguarding),
## on TEST_WORKERS processes (pytest-xdist; each its own test database, test_<name>_gw0, _gw1, ...)
TEST_WORKERS ?= 2
test: install
	@$(PY) scripts/check_test_db.py
	$(VENV)/bin/pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrate: install
	$(PY) manage.py migrate

## The production settings pass Django's deployment checklist, warnings included (a throwaway key)
check-deploy: install
	DJANGO_SETTINGS_MODULE=safeguarding.settings.production DEBUG=false \
	SECRET_KEY="$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(64))')" \
	DATABASE_URL="$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/safeguarding}" ALLOWED_HOSTS=safeguarding.example.org \
	$(PY) manage.py check --deploy --fail-level WARNING

## Django's checks and that no model change lacks a migration
check: install
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

## Benchmarks against PostgreSQL (BENCH_DATABASE_URL, default .../safeguarding_bench) on a 100,000-family
## data set seeded once and reused (BENCH_FAMILIES to change it); writes docs/performance.{json,md}
bench: install
	$(PY) -m bench.checks
	$(PY) -m bench.pages
	$(PY) -m bench.limits
	$(PY) -m bench.load

clean-venv:
	rm -rf $(VENV)
