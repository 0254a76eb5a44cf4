# Every target sets itself up on a fresh machine: a virtualenv in .venv with the project installed.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# This machine kind installs the local CPU wheel; elsewhere pass TORCH_SPEC="" to keep your own torch.
TORCH_SPEC ?= torch==2.13.0

NPM ?= npm
NODE_CLIENT := clients/node

.PHONY: setup proto lint test test-python test-node demo bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	if [ -n "$(TORCH_SPEC)" ] && ! $(PY) -c "import torch" 2>/dev/null; then \
		$(PY) -m pip install --quiet "$(TORCH_SPEC)"; fi
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

proto: setup
	$(PY) scripts/gen_protos.py

lint: setup
	$(VENV)/bin/buf lint
	$(VENV)/bin/ruff check .

NODE_DEPS := $(NODE_CLIENT)/node_modules/.package-lock.json

$(NODE_DEPS): $(NODE_CLIENT)/package-lock.json
	cd $(NODE_CLIENT) && $(NPM) ci --no-audit --no-fund

# The Python suite drives the Node client through the nginx proxy too, so it needs the Node packages.
test-python: setup $(NODE_DEPS)
	$(PY) -m pytest -q

test-node: setup $(NODE_DEPS)
	cd $(NODE_CLIENT) && MLSUITE_PYTHON=$(abspath $(PY)) $(NPM) test

test: lint test-python test-node

demo: setup
	$(PY) scripts/demo.py

BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) build *.egg-info $(NODE_CLIENT)/node_modules
