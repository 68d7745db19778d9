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

.PHONY: run test test-latest lock venv venv-dev lint format migrate demo clean

# Every install comes from the hashed lock files (`make lock` writes them from
# pyproject.toml): requirements.txt for running, requirements-dev.txt for
# testing too. The project itself is not installed: it runs from its checkout.
PIP_INSTALL = $(PY) -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: requirements.txt | $(VENV)/bin/python
	$(PIP_INSTALL) -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements-dev.txt | $(VENV)/bin/python
	$(PIP_INSTALL) -r requirements-dev.txt
	@touch $@ $(VENV)/.installed-run

# The French catalogue holds the plural forms (« 0 bénéficiaire »): compiled at install, with
# Babel (a locked dependency) rather than gettext's msgfmt (locale/plural_catalogue.py).
MO := locale/fr/LC_MESSAGES/django.mo
$(MO): locale/fr/LC_MESSAGES/django.po | $(VENV)/.installed-run
	$(PY) -m babel.messages.frontend compile --statistics -d locale -D django

venv: $(VENV)/.installed-run $(MO)

venv-dev: $(VENV)/.installed-dev $(MO)

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

test: venv-dev
ifeq ($(SERVICES),1)
	source .ci/services.sh && $(PY) -m ruff check . && $(PY) -m pytest $(PYTEST_ARGS)
else
	$(PY) -m ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)
endif

lint: venv-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: venv-dev
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

# Regenerate both lock files from pyproject.toml, the runtime set constrained
# by the dev set so that both agree. Pins stay unless pyproject.toml needs
# otherwise; `make lock UPGRADE=1` moves every one to the newest allowed.
lock: venv-dev
	$(PY) -m uv pip compile pyproject.toml --extra dev --generate-hashes --universal \
		--python-version 3.11 --custom-compile-command "make lock" $(if $(filter 1,$(UPGRADE)),--upgrade) \
		-o requirements-dev.txt
	$(PY) -m uv pip compile pyproject.toml --generate-hashes --universal \
		--python-version 3.11 --custom-compile-command "make lock" -c requirements-dev.txt -o requirements.txt

# The whole suite on the newest versions pyproject.toml allows, in a separate
# virtualenv: drift is seen here before a lock update (see the README).
LATEST := .venv-latest
test-latest:
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(LATEST)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade --upgrade-strategy eager ".[dev]"
	@echo "Versions that differ from requirements-dev.txt:"
	@$(LATEST)/bin/python .ci/lock_drift.py requirements-dev.txt
	$(LATEST)/bin/python -m babel.messages.frontend compile -d locale -D django
	$(LATEST)/bin/python -m ruff check .
	$(LATEST)/bin/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(LATEST) staticfiles .pytest_cache

# Vulnerability audit of the locked dependencies (requirements-dev.txt), with pip-audit:
# fails on a known vulnerability, says « AUDIT NOT RUN » when the data cannot be reached.
.PHONY: audit
audit: venv-dev
	bash .ci/audit.sh
