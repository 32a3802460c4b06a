# Entry points. Every target sets up what it needs on first use.
SHELL := /bin/bash
PYTHON_BASE ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.lock | sha1sum | cut -c1-12)
STACK ?= staging
EDGE_STACK ?= clinic
CROSS_STACK ?= yes
BASE ?=

.PHONY: setup lock system-deps run test lint pytest bench plan clean

setup: $(STAMP)

# Installs exactly the locked set, every file checked against its hash (pip itself is in the lock).
$(STAMP): requirements-dev.lock
	test -x $(PY) || $(PYTHON_BASE) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.lock
	rm -f $(VENV)/.installed-* && touch $@

# The lockfiles from the human-edited inputs (README "Supply chain"): the image's runtime set and
# everything `make setup` installs, both for CPython 3.11 on Linux x86_64. uv keeps the pins already
# in a lock unless an input asks otherwise; LOCK_ARGS="--upgrade-package NAME" moves one on.
LOCK := $(VENV)/bin/uv pip compile --quiet --no-progress --no-config --generate-hashes \
	--python-version 3.11 --python-platform x86_64-manylinux_2_28 --custom-compile-command "make lock"
lock: setup
	$(LOCK) $(LOCK_ARGS) app/requirements.txt -o app/requirements.lock
	$(LOCK) $(LOCK_ARGS) requirements-dev.txt -o requirements-dev.lock

system-deps:
	bash scripts/install-system-deps

# FRONTEND=<SPA source or dist> builds it as the image does and serves it under STACK's headers.
run: setup
	$(PY) -m scripts.run_local --stack $(STACK) $(if $(FRONTEND),--frontend $(FRONTEND))

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/hadolint app/Dockerfile
	@if [ -d .github/workflows ]; then $(VENV)/bin/actionlint; fi
	$(PY) scripts/scan_secrets.py

pytest: setup system-deps
	$(PY) -m pytest

test: lint pytest

bench: setup system-deps
	$(PY) -m bench

# The offline plan: STACK=staging|prod, BASE=<git ref> adds the diff against that revision;
# then the zone's edge stack EDGE_STACK (edge/, rendered against the environment stacks'
# exports; EDGE_STACK= skips it); then the cross-stack check of every stack rendered together
# (plan/cross_stack.py: a singleton claimed twice fails; CROSS_STACK= skips it).
plan: setup
	$(PY) -m plan --stack $(STACK) $(if $(BASE),--base $(BASE))
	$(if $(EDGE_STACK),$(PY) -m plan --project edge --stack $(EDGE_STACK) $(if $(BASE),--base $(BASE)))
	$(if $(CROSS_STACK),$(PY) -m plan.cross_stack --stacks staging prod)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache bench/.work
