# Two commands on a fresh machine: `make run` and `make test`. Everything else is for developers.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
# Debian packages the integration tests start for real (each test session starts its own servers);
# chromium and its driver run the web console's browser tests (nothing downloads a browser).
DEBIAN_TEST_PACKAGES := postgresql redis-server prometheus prometheus-alertmanager chromium chromium-driver

.PHONY: install run test test-unit lint bench system-deps clean chaos

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

system-deps:
	@missing=""; for p in $(DEBIAN_TEST_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

run: install
	$(BIN)/orchestrator-dynamic up --demo-workers 4

test: install system-deps
	$(BIN)/pytest

test-unit: install
	$(BIN)/pytest tests/unit

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

bench: install
	$(BIN)/python -m bench

# The fault campaign at full size (README "Running at scale"): prints the table and writes
# chaos-report.json; fails when a figure is not met. `make test` runs a small version.
chaos: install system-deps
	CHAOS_SCALE=full $(BIN)/python -m tests.chaos --report chaos-report.json

# The Service Registry stubs, regenerated from the .proto beside them (the output is committed).
REGISTRY_PROTO := src/orchestrator_dynamic/adapters/registry/grpc_gen/service_registry.proto
.PHONY: protos
protos: install
	$(BIN)/python -m grpc_tools.protoc -I src --python_out=src --pyi_out=src --grpc_python_out=src $(REGISTRY_PROTO)

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache
