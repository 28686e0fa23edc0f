# The two commands that matter: `make run` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml clients/python/pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e clients/python -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/keyguard init --if-needed
	$(BIN)/keyguard serve

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench clients examples
	$(BIN)/ruff format --check src tests bench clients examples
	$(BIN)/mypy src clients/python/src
	$(BIN)/mypy --strict examples
	$(BIN)/lint-imports --no-cache

clean:
	rm -rf $(VENV) .keyguard .pytest_cache .mypy_cache .ruff_cache
