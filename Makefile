# The two set-up commands of the README. Each installs what it needs first (scripts/setup.sh is
# idempotent and fast when nothing changed).
VENV ?= .venv
PYTEST_ARGS ?=

.PHONY: demo test setup lint bench

setup:
	./scripts/setup.sh

demo: setup
	$(VENV)/bin/styleport demo

test: setup
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check styleport tests bench
	$(VENV)/bin/ruff format --check styleport tests bench
