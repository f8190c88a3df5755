# Two commands matter: `make demo` and `make test`. Both bootstrap the virtualenv from the lock file.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UV_VERSION := 0.13.9

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml uv.lock
	@$(PY) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "KubeDuty needs Python >= 3.11")'
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check "uv==$(UV_VERSION)"
	@# bytecode compiled at install: without it every start imports from source (seconds; see tests/bench/bench_startup.py)
	@$(BIN)/uv sync --frozen --inexact --all-extras --compile-bytecode --python $(BIN)/python -q
	@touch $@

demo: $(STAMP)
	@$(BIN)/kubeduty demo

lint: $(STAMP)
	$(BIN)/ruff check bot tools tests
	$(BIN)/ruff format --check bot tools tests
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m tests.support.debian
	$(BIN)/python -m tests.support.peers
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m tests.bench

clean:
	rm -rf $(VENV) .peers .pytest_cache .mypy_cache .ruff_cache
