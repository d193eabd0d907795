# Two commands do all set-up on a fresh machine: `make run` (the app) and `make test` (the tests).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install browser run index test test-unit test-integration test-e2e test-fast lint format bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	# A CPU build of torch first: an unpinned torch would pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test,eval,bench,ray]'
	touch $(STAMP)

install: $(STAMP)

# Debian's chromium for the browser tests (Playwright cannot download a browser here).
browser:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium; }

index: install
	$(BIN)/qa index build

run: install
	$(BIN)/python app.py

test: install browser
	$(BIN)/ruff check qa tests app.py
	$(BIN)/ruff format --check qa tests app.py
	$(BIN)/python -m pytest -v

# Tiers, each runnable alone: unit (no model, seconds), integration (real model and index), e2e
# (browser, HTTP server, kill loops, load).
test-unit: install
	$(BIN)/python -m pytest tests/unit -q

test-integration: install
	$(BIN)/python -m pytest tests/integration -q

test-e2e: install browser
	$(BIN)/python -m pytest tests/e2e -q

test-fast: install
	$(BIN)/python -m pytest -m "not slow"

lint: install
	$(BIN)/ruff check qa tests app.py
	$(BIN)/ruff format --check qa tests app.py

format: install
	$(BIN)/ruff format qa tests app.py
	$(BIN)/ruff check --fix qa tests app.py

bench: install
	$(BIN)/qa bench $(BENCH_ARGS)  # e.g. make bench BENCH_ARGS="--chunks 1000000 --json"

clean:
	rm -rf $(VENV) index/g-* index/manifest.json test-artifacts
