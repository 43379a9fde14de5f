# Two commands do all the set-up on a fresh machine: `make book` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PYTHONPATH := $(CURDIR)
export MPLBACKEND := Agg

.PHONY: book test data reproduce clean venv

venv: $(STAMP)

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

data: $(STAMP)
	$(PY) -m modlib data

book: data
	$(VENV)/bin/jupyter-book build -W --keep-going .
	@echo "Book built: $(CURDIR)/_build/html/index.html"

test: data
	$(PY) -m pytest --nbval-lax --nbval-current-env

reproduce: data
	$(PY) -m modlib sweep --preset paper --fresh
	$(PY) -m modlib figures --preset paper --readme
	$(MAKE) book

clean:
	rm -rf _build .pytest_cache
