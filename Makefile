# A newcomer's commands: `make run`, `make demo` and `make test`. Everything installs into .venv.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run demo test lint bench load clean redis-server prometheus

# One line per step, and pip's own progress (a package a line) for the long one: a fresh
# machine downloads ~150 packages, a couple of minutes that must not look like a hang.
$(STAMP): pyproject.toml
	@echo "laneway install [1/3]: virtualenv in $(VENV)"
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@echo "laneway install [2/3]: pip itself"
	@$(BIN)/python -m pip install -q --upgrade pip
	@echo "laneway install [3/3]: laneway and its dependencies (a few minutes on a fresh machine)"
	@$(BIN)/python -m pip install --progress-bar on -e '.[dev]'
	@touch $(STAMP)
	@echo "laneway install: done ($(BIN)/laneway)"

install: $(STAMP)

# Tests start private redis-server processes; install Debian's package when it is missing.
redis-server:
	@command -v redis-server >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing redis-server (Debian package)"; \
	    (apt-get update -qq && apt-get install -y -qq redis-server >/dev/null) || exit 1; \
	  else \
	    echo "redis-server is missing: install it (Debian: apt-get install -y redis-server)" >&2; \
	    exit 1; \
	  fi; }

prometheus:
	@command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing prometheus (Debian package)"; \
	    (apt-get update -qq && apt-get install -y -qq prometheus >/dev/null) || exit 1; \
	  else \
	    echo "prometheus/promtool are missing: install them (Debian: apt-get install -y prometheus)" >&2; \
	    exit 1; \
	  fi; }

# The simulated fleet and laneway on laneway.example.yaml until Ctrl-C; prints the base URL
# and each tool's settings. `python -m` runs this checkout's code whichever venv it uses.
RUN_ARGS ?=
run: install
	$(BIN)/python -m router.cli up $(RUN_ARGS)

demo: install
	$(BIN)/laneway demo

test: install redis-server prometheus
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -p no:cacheprovider

# Load test on this machine: fleet + laneway (+ Redis when one answers on 127.0.0.1:6379) +
# locust headless, loopback only. Results (CSV, HTML) land in loadtests/results/.
LOAD_TIME ?= 30s
LOAD_USERS ?= 40
load: install
	$(BIN)/python -m loadtests.load --time $(LOAD_TIME) --users $(LOAD_USERS)

# Overhead benchmark (docs/benchmarks.md): fleet direct, a bare FastAPI pass-through, laneway
# (cache misses and hits) and LiteLLM's proxy (own venv in .bench/, made on first run), all
# driven by wrk on 127.0.0.1; a few minutes. BENCH_ARGS, e.g. "--ref HEAD --seconds 5".
BENCH_ARGS ?=
bench: install
	@command -v wrk >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing wrk (Debian package)"; \
	    (apt-get update -qq && apt-get install -y -qq wrk >/dev/null) || exit 1; \
	  else \
	    echo "wrk is missing: install it (Debian: apt-get install -y wrk)" >&2; exit 1; \
	  fi; }
	$(BIN)/python -m loadtests.bench.run $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
