# Thin wrappers over uv. `make test` and `make demo` work on a fresh machine:
# they install uv with pip when it is missing and sync the workspace.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
PACKAGES := cqrs-core cqrs-sqla

.PHONY: help uv sync lint test test-isolated bench demo build

help:
	@echo "make test   - install what is needed, lint, run every test"
	@echo "make demo   - run the reference system (arrives with the services)"
	@echo "make lint   - ruff, pyright strict on packages/, import-linter contracts"
	@echo "make bench  - run the benchmarks in bench/"
	@echo "make build  - build every package on its own into dist/"

uv:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
		|| python3 -m pip install --quiet uv

sync: uv
	$(UV) sync --all-packages --locked

lint: sync
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run pyright
	$(UV) run lint-imports

test: lint
	$(UV) run pytest
	$(MAKE) test-isolated

# Each package's own tests, in an environment holding that package alone
# (with its extras), which proves it leans on no other member's dependencies.
test-isolated: uv
	@for package in $(PACKAGES); do \
		echo "== $$package, isolated"; \
		$(UV) run --isolated --no-dev --package $$package --all-extras \
			--with pytest --with pytest-asyncio \
			pytest -p no:cacheprovider -c packages/$$package/pyproject.toml \
			packages/$$package || exit 1; \
	done

bench: sync
	$(UV) run python bench/dispatch.py
	$(UV) run python bench/saga.py
	$(UV) run python bench/outbox_relay.py

build: uv
	@for package in $(PACKAGES); do $(UV) build --package $$package --no-sources -o dist || exit 1; done

demo:
	@echo "make demo starts the reference system, which is not built yet (see README)."
	@exit 1
