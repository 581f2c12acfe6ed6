# tinykube: `make up` brings up a three-node cluster, `make test` runs every check. Both set up first.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= $(shell command -v python3.11 || command -v python3)
PROTOS := $(shell find protos -name '*.proto' 2>/dev/null)
STAMPS := $(VENV)/.stamps
PYTEST_ARGS ?=

.PHONY: setup up down test lint types contracts unit bench clean box vagrant-test

setup: $(STAMPS)/host $(STAMPS)/python $(STAMPS)/protos $(STAMPS)/images

$(STAMPS)/host: deploy/setup-host.sh
	bash deploy/setup-host.sh
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/python: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -e '.[dev]'
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/protos: $(STAMPS)/python $(PROTOS) protos/generate.py
	$(PY) -m protos.generate
	@touch $@

# The default images (busybox, pause) from Debian's busybox-static, as an OCI layout; reproducible digests.
$(STAMPS)/images: $(STAMPS)/python /bin/busybox $(wildcard runtime/images/defaults.py runtime/images/layer.py)
	$(VENV)/bin/tinykube image build-defaults --out $(VENV)/images
	@touch $@

up: setup
	$(VENV)/bin/tinykube up $(UP_ARGS)

down: setup
	$(VENV)/bin/tinykube down $(DOWN_ARGS)

lint: setup
	$(VENV)/bin/ruff check .

types: setup
	$(VENV)/bin/mypy

contracts: setup
	$(VENV)/bin/lint-imports

test: lint types contracts
	$(VENV)/bin/pytest -n auto $(PYTEST_ARGS)

unit: setup
	$(VENV)/bin/pytest -n auto -m unit $(PYTEST_ARGS)

bench: setup
	@set -e; for b in bench/*_bench.py; do [ -e "$$b" ] || continue; m=$${b%.py}; echo "== $$b"; $(PY) -m $${m//\//.}; done

# Opt-in, not part of `make test`: three real VMs under vagrant-libvirt (deploy/vagrant/README.md).
box: setup
	bash deploy/setup-host.sh vagrant
	bash deploy/vagrant/build-box.sh

vagrant-test: setup  # builds (or reuses) the box itself, timing it as its first stage
	bash deploy/setup-host.sh vagrant
	bash deploy/vagrant/vagrant-test.sh

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
	find protos -name '*_pb2*.py*' -delete
