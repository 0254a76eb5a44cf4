# Every target sets itself up on a fresh machine: a virtualenv in .venv with the project installed.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# This machine kind installs the local CPU wheel; elsewhere pass TORCH_SPEC="" to keep your own torch.
TORCH_SPEC ?= torch==2.13.0

.PHONY: setup proto lint test test-python demo clean

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

test-python: setup
	$(PY) -m pytest -q

test: lint test-python

demo: setup
	$(PY) scripts/demo.py

clean:
	rm -rf $(VENV) build *.egg-info
