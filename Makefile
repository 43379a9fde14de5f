# Two commands do all the set-up on a fresh machine: `make book` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PYTHONPATH := $(CURDIR)

.PHONY: book test data reproduce clean venv chromium lab

venv: $(STAMP)

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

data: $(STAMP)
	$(PY) -m modlib data

book: data
	$(VENV)/bin/jupyter-book build --all -W --keep-going .
	@echo "Book built: $(CURDIR)/_build/html/index.html"

# Unit tests, every chapter under nbval, and the built book in headless Chromium: two processes
# of one thread each, a test file (a chapter's cells) kept in one process; the slowest are listed.
# Chapters run twice: the book build runs each alone, so the timings the book prints come from
# a quiet machine, and nbval runs them beside the unit tests as the chapters' own tests.
test: book chromium
	OMP_NUM_THREADS=1 $(PY) -m pytest -n 2 --dist loadscope --durations=20 --nbval-lax --nbval-current-env

chromium:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

# Recompute every stored result from scratch (hours on 2 cores: `python -m modlib sweep --list` gives each
# sweep's time), then build.
# The sweeps are every CPU preset of modlib.sweep.PRESETS but smoke (reproduced_sweeps), so that
# a new preset is run too.
# WORKERS processes share the cores (sweep --workers): two one-thread workers beat one two-thread
# process. Each gets one thread whatever WORKERS is, because the stored results were made so and
# a few small matrix products round differently with more threads per process.
# After an interruption, `make reproduce RESUME=--resume` goes on where it stopped.
WORKERS ?= 2
RESUME ?=
# paper-cuda needs an NVIDIA GPU, so it is not here: python -m modlib sweep --preset paper-cuda --fresh --workers 8
reproduce: data
	$(PY) -m modlib reproduce --workers $(WORKERS) --threads $(WORKERS) $(RESUME)
	$(PY) -m modlib figures --preset paper --readme
	$(MAKE) book

# Run and change the chapters yourself: JupyterLab opens their .md files as notebooks (jupytext), with
# modlib importable (--allow-root when run as root, as in containers). It is not in requirements.txt,
# as neither the book nor the tests need it.
lab: data
	$(PY) -m pip install --quiet --disable-pip-version-check "jupyterlab>=4,<5"
	$(VENV)/bin/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) book

clean:
	rm -rf _build .pytest_cache
