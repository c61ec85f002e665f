# Riverhead: the two commands a new user needs are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit integration interop bench clean system-deps

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "error: Python 3.11+ is needed (found $$($(PYTHON) --version)); hint: PYTHON=python3.11 make ..."; exit 1; }
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev,bench,spark,console,otel]'
	touch $(STAMP)

# Debian packages the tests use: kcat (a real client), ZooKeeper (clusters) and chromium
# (the console's browser tests drive it with Playwright; no browser is downloaded) and
# maven (fetches Apache Kafka's jars for the differential tests, tests/interop/).
system-deps:
	@{ command -v kcat >/dev/null 2>&1 && [ -f /usr/share/java/zookeeper.jar ] && \
		[ -x /usr/bin/chromium ] && command -v mvn >/dev/null 2>&1; } || { \
		$(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq --no-install-recommends kcat zookeeper chromium maven >/dev/null; }

demo: $(STAMP)
	$(BIN)/python examples/ecommerce/demo.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/mypy

test: $(STAMP) system-deps lint
	interop/fetch.sh
	$(BIN)/python -m pytest -q

unit: $(STAMP)
	$(BIN)/python -m pytest -q -m unit

integration: $(STAMP) system-deps
	$(BIN)/python -m pytest -q -m integration

# Differential tests against a real Apache Kafka (jars fetched through Maven, cached in
# interop/.cache/); also part of `make test`.
interop: $(STAMP) system-deps
	interop/fetch.sh
	$(BIN)/python -m pytest -q -m interop

bench: $(STAMP)
	$(BIN)/python benchmarks/broker_throughput.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
