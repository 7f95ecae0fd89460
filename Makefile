# Thin wrappers over uv. `make test` and `make demo` work on a fresh machine:
# they install uv with pip when it is missing and sync the workspace.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
PACKAGES := cqrs-core cqrs-sqla cqrs-kafka cqrs-admin

.PHONY: help uv sync lint test test-isolated bench demo build browser

help:
	@echo "make test   - install what is needed, lint, run every test"
	@echo "make demo   - run the reference system: orders, inventory, a local broker (Ctrl-C stops)"
	@echo "make lint   - ruff, pyright strict on everything, import-linter contracts, type completeness"
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
	$(UV) run python scripts/type_completeness.py

test: lint browser
	$(UV) run pytest
	$(MAKE) test-isolated

# The web page's end-to-end test drives Debian's Chromium; install it when missing.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing chromium for the browser test"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
		|| { echo "could not install chromium (apt-get install chromium chromium-driver)"; exit 1; }; }

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
	$(UV) run python bench/saga_pg.py
	$(UV) run python bench/outbox_relay.py
	$(UV) run python bench/kafka_produce.py

build: uv
	@for package in $(PACKAGES); do $(UV) build --package $$package --no-sources -o dist || exit 1; done

# DEMO_ARGS passes options through, e.g. make demo DEMO_ARGS="--orders-port 8080".
demo: sync
	$(UV) run cqrs-demo $(DEMO_ARGS)
