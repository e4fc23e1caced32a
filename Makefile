# Two commands on a fresh machine: `make run` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV := .venv
PIP := $(VENV)/bin/pip
PIP_INSTALL := $(PIP) install --disable-pip-version-check -q -c constraints.txt

.PHONY: run check test lint local bench screenshots clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# Stamp files: reinstall only when the dependencies change.
$(VENV)/.installed-run: pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP_INSTALL) -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP_INSTALL) -e '.[test]'
	touch $@ $(VENV)/.installed-run

## run: the app, against the local endpoint by default
run: $(VENV)/.installed-run
	$(VENV)/bin/moetui $(ARGS)

## check: the concurrency check against the local endpoint (the 3-request concurrency test, 2 s sleep), no screen
check: $(VENV)/.installed-run
	$(VENV)/bin/moetui check --sleep 2 $(ARGS)

## screenshots: the README's pictures of the main screens
screenshots: $(VENV)/.installed-test
	$(VENV)/bin/python screenshots/make_screenshots.py

## local: the local managed endpoint in the foreground until Ctrl-C
local: $(VENV)/.installed-run
	$(VENV)/bin/moetui local $(ARGS)

## test: the whole test suite
test: $(VENV)/.installed-test
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

$(VENV)/.installed-dev: pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP_INSTALL) -e '.[test,dev]'
	touch $@ $(VENV)/.installed-test $(VENV)/.installed-run

## lint: ruff, mypy (strict) and the layer contracts (lint-imports, pyproject.toml [tool.importlinter])
lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check moetui tests scoring_app
	$(VENV)/bin/ruff format --check moetui tests scoring_app
	$(VENV)/bin/mypy moetui
	$(VENV)/bin/lint-imports

## bench: the gateway and the engine against their peers (see bench/README.md; needs wrk and nginx)
bench: $(VENV)/.installed-test
	$(VENV)/bin/python bench/gateway_bench.py
	$(VENV)/bin/python bench/engine_bench.py

clean:
	rm -rf $(VENV) .pytest_cache
