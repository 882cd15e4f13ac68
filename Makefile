# The Makefile is the user interface: every target says what it does and where its output went.
SHELL   := /bin/bash
PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
JB      := $(VENV)/bin/jupyter-book
STAMP   := $(VENV)/.installed
SRC     := $(shell find src/jaclab -name '*.py' -o -name '*.js' -o -name '*.css' 2>/dev/null)
CACHE_STAMP := _build/.jaclab-src-stamp
BUILD_FLAGS := -W -n --keep-going
# The browser tests drive Debian's Chromium through Playwright (`playwright install` cannot download here).
CHROMIUM ?= /usr/bin/chromium

.PHONY: help install chromium book test bench lab clean

help:
	@echo "make book    build the book into _build/html (creates .venv and installs everything)"
	@echo "make test    set up, then run every test: jaclab, notebooks, the -W book build, the book in Chromium"
	@echo "make install create .venv and install requirements.txt + jaclab (idempotent)"
	@echo "make chromium install Debian's Chromium for the browser tests if it is missing (as root)"
	@echo "make lab     open the chapters in JupyterLab (.md files open as notebooks)"
	@echo "make bench   print jaclab's speed and memory against PyTorch, as ratios"
	@echo "make clean   remove _build, caches and .venv"

# Re-install only when the pinned requirements or the package metadata change.
$(STAMP): requirements.txt pyproject.toml
	@echo "==> Setting up $(VENV) (Python: $$($(PYTHON) --version 2>&1))"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip
	@echo "==> Installing the pinned environment from requirements.txt"
	@$(PY) -m pip install --quiet -r requirements.txt
	@echo "==> Installing jaclab (editable) from src/"
	@$(PY) -m pip install --quiet --no-deps -e .
	@touch $(STAMP)
	@echo "==> Environment ready in $(VENV)"

install: $(STAMP)
	@echo "==> $(VENV) is up to date ($$($(PY) -c 'import jaclab, torch; print("jaclab", jaclab.__version__, "/ torch", torch.__version__)'))"

# The execution cache keys on notebook code only, so a change to jaclab must clear it.
$(CACHE_STAMP): $(SRC)
	@if [ -d _build/.jupyter_cache ]; then echo "==> src/jaclab changed: clearing the execution cache"; rm -rf _build/.jupyter_cache; fi
	@mkdir -p _build && touch $@

book: $(STAMP) $(CACHE_STAMP)
	@echo "==> Building the book (executes changed chapters; warnings are errors)"
	@$(JB) build . $(BUILD_FLAGS)
	@echo "==> Book built: open file://$(CURDIR)/_build/html/index.html"

# Idempotent: a no-op when $(CHROMIUM) is there. Otherwise root installs Debian's package;
# anyone else is told how, and the browser tests then skip (or fail, under CI=true).
chromium:
	@if [ -x "$(CHROMIUM)" ]; then \
	  echo "==> Browser tests will use $(CHROMIUM) ($$($(CHROMIUM) --version 2>/dev/null))"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "==> $(CHROMIUM) is missing: installing Debian's chromium (apt-get update; apt-get install -y chromium)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  if [ -x "$(CHROMIUM)" ]; then echo "==> Installed $$($(CHROMIUM) --version 2>/dev/null)"; \
	  else echo "!!  apt-get did not provide $(CHROMIUM): the browser tests will skip (and fail under CI=true)"; fi; \
	else \
	  echo "!!  $(CHROMIUM) is missing and cannot be installed here (needs root and apt-get):"; \
	  echo "!!  run 'sudo apt-get install -y chromium' or set CHROMIUM=/path/to/chromium;"; \
	  echo "!!  until then the browser tests skip (and fail under CI=true)"; \
	fi

test: $(STAMP) chromium
	@echo "==> Running the tests (unit, property-based, notebooks, the -W book build, the book in Chromium)"
	@echo "    (browser screenshots go to test-artifacts/)"
	@JACLAB_CHROMIUM=$(CHROMIUM) $(PY) -m pytest
	@echo "==> Tests passed"

bench: $(STAMP)
	@echo "==> Benchmarking (float32, CPU, medians of repeated runs)"
	@$(PY) benchmarks/run.py

lab: $(STAMP)
	@mkdir -p $(VENV)/share/jupyter/lab/settings
	@printf '%s\n' '{"@jupyterlab/docmanager-extension:plugin": {"defaultViewers": {"markdown": "Jupytext Notebook", "myst": "Jupytext Notebook"}}}' > $(VENV)/share/jupyter/lab/settings/overrides.json
	@echo "==> Opening JupyterLab on chapters/ (the .md chapters open as notebooks via jupytext)"
	@$(VENV)/bin/jupyter lab chapters/ $(if $(filter 0,$(shell id -u)),--allow-root)

clean:
	@echo "==> Removing _build, caches and $(VENV)"
	@rm -rf _build $(VENV) .pytest_cache .hypothesis src/*.egg-info
	@find . -name __pycache__ -type d -prune -exec rm -rf {} +
