# Liaison RSA: the two commands of the README, and a few helpers.
#   make run   set up (venv, database, demo data) and serve on http://127.0.0.1:8000
#   make test  set up and run the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# SERVICES=1 (CI): install and start PostgreSQL, Redis and Chromium first,
# then run the suite against them. Without it, tests use SQLite and skip
# only what needs a missing service, saying so.
SERVICES ?= 0
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test venv lint format migrate demo clean

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet ".[dev]"
	@touch $@

venv: $(VENV)/.installed

migrate: venv
	$(PY) manage.py migrate --no-input

demo: migrate
	$(PY) manage.py seed_demo

# run_demo = runserver plus, when no EXCHANGE_URL is configured, a simulated
# exchange server (127.0.0.1:8443) holding demo PECGM files.
run: demo
	@echo
	@echo "Liaison RSA : http://$(HOST):$(PORT)/  (Ctrl+C pour arrêter)"
	@echo "Comptes de démonstration (mot de passe liaison-rsa-demo) : social, orientation, admin"
	@echo
	$(PY) manage.py run_demo $(HOST):$(PORT)

test: venv
ifeq ($(SERVICES),1)
	source .ci/services.sh && $(PY) -m ruff check . && $(PY) -m pytest $(PYTEST_ARGS)
else
	$(PY) -m ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)
endif

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: venv
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
