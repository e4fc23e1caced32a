# Two commands on a fresh machine: `make run` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV := .venv
PIP := $(VENV)/bin/pip
PIP_INSTALL := $(PIP) install --disable-pip-version-check -q -c constraints.txt

.PHONY: run test local bench screenshots clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# Stamp files: reinstall only when the dependencies change.
$(VENV)/.installed-run: pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP_INSTALL) -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP_INSTALL) -e '.[test]'
	touch $@ $(VENV)/.installed-run

## run: the concurrency check against the local endpoint (the seed's 3-request test, 2 s sleep)
run: $(VENV)/.installed-run
	$(VENV)/bin/moetui check --sleep 2 $(ARGS)

## local: the local managed endpoint in the foreground until Ctrl-C
local: $(VENV)/.installed-run
	$(VENV)/bin/moetui local $(ARGS)

## test: the whole test suite
test: $(VENV)/.installed-test
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

## bench: gateway against the inference servers called directly (see bench/README.md)
bench: $(VENV)/.installed-test
	$(VENV)/bin/python bench/gateway_bench.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
