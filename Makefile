# Two commands on a fresh machine: `make run` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV := .venv
PIP := $(VENV)/bin/pip
PIP_INSTALL := $(PIP) install --disable-pip-version-check -q -c constraints.txt

.PHONY: run check test lint local bench bench-deps screenshots clean

$(VENV)/bin/python:
	@echo "Creating $(VENV) with $(PYTHON) ..."
	$(PYTHON) -m venv $(VENV)

# Stamp files: reinstall only when the dependencies change.
$(VENV)/.installed-run: pyproject.toml constraints.txt | $(VENV)/bin/python
	@echo "Installing moetui and its dependencies into $(VENV) (textual, aiohttp, the Azure ML inference server, the Azure SDK; about a minute the first time, quiet until done) ..."
	$(PIP_INSTALL) -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml constraints.txt | $(VENV)/bin/python
	@echo "Installing moetui with its test extras into $(VENV) (about a minute or two the first time, quiet until done) ..."
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

## test: the whole test suite: the tests that may share the machine on TEST_WORKERS processes (pytest-xdist,
## dealt one test at a time so they finish close together; a module's or package's tests that share a
## fixture go together, tests/conftest.py), then the `serial` ones (they measure time, rates or CPU) alone.
## Both groups run; either failing, or selecting no test (pytest's 5), fails the target.
## MARK narrows both (make test MARK="not slow"); PYTEST_ARGS goes to both.
## TEST_WORKERS: 3 on the 2-core machine. Quiet, tests/headless, local_endpoint and tui (297 tests): -n 2 298 s
## wall for 461 s CPU (1.55 cores busy: the tests wait on servers and child processes), -n 3 264 s for 478 s CPU
## (1.81 cores); shown green on a fresh clone under a one-core CPU hog before it became the default.
## Each group prints its duration.
TEST_WORKERS ?= 3
MARK ?=
test: $(VENV)/.installed-test
	@status=0; started=$$(date +%s); \
	$(VENV)/bin/python -m pytest -n $(TEST_WORKERS) --dist loadgroup -m "$(if $(MARK),($(MARK)) and )not serial" \
		$(PYTEST_ARGS) || status=$$?; \
	echo "make test: the parallel group took $$(( $$(date +%s) - started )) s"; started=$$(date +%s); \
	$(VENV)/bin/python -m pytest -m "$(if $(MARK),($(MARK)) and )serial" $(PYTEST_ARGS) || status=$$?; \
	echo "make test: the serial group took $$(( $$(date +%s) - started )) s"; \
	exit $$status

$(VENV)/.installed-dev: pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP_INSTALL) -e '.[test,dev]'
	touch $@ $(VENV)/.installed-test $(VENV)/.installed-run

## lint: ruff, mypy (strict) and the layer contracts (lint-imports, pyproject.toml [tool.importlinter])
lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check moetui tests scoring_app
	$(VENV)/bin/ruff format --check moetui tests scoring_app
	$(VENV)/bin/mypy moetui
	$(VENV)/bin/lint-imports

## bench: the gateway, the engine and streaming against their peers (see bench/README.md). Python peers (locust) go
## into bench/.venv; a missing wrk or nginx is reported and its rows skipped (`make bench-deps` installs them)
BENCH_VENV := bench/.venv
BENCH_APT := wrk nginx libnginx-mod-http-echo

$(BENCH_VENV)/.installed: bench/requirements.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --disable-pip-version-check -q -r bench/requirements.txt
	touch $@

bench: $(VENV)/.installed-test $(BENCH_VENV)/.installed
	@for tool in wrk nginx; do command -v $$tool >/dev/null || \
		echo "bench: $$tool is missing: its rows are skipped (make bench-deps, as root, installs $(BENCH_APT))"; done
	-$(VENV)/bin/python bench/gateway_bench.py $(ARGS)
	-$(VENV)/bin/python bench/engine_bench.py $(ARGS)
	-$(VENV)/bin/python bench/stream_bench.py

## bench-deps: the Debian packages the benchmarks drive, as root (RUNLEVEL=1 asks invoke-rc.d not to start
## a system nginx: the benches start their own on 127.0.0.1)
bench-deps:
	apt-get update -q && RUNLEVEL=1 apt-get install -y -q --no-install-recommends $(BENCH_APT)

clean:
	rm -rf $(VENV) $(BENCH_VENV) .pytest_cache
