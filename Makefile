# make serve — create .venv, install, build or update the index, serve on http://127.0.0.1:8000
# make test  — create .venv, install with test dependencies, run the whole suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# constraints.txt holds the versions the suite was last run with, so a fresh machine installs those.
# It pins PyTorch's CPU build (torch==2.13.0+cpu), which is not on PyPI: pip takes it from a wheel
# on disk (PIP_FIND_LINKS), or from PyTorch's index with
#   make test PIP_EXTRA="--extra-index-url https://download.pytorch.org/whl/cpu"
PIP_EXTRA ?=
PIP_INSTALL := $(BIN)/python -m pip install --disable-pip-version-check --quiet --constraint constraints.txt $(PIP_EXTRA)

.PHONY: install serve build test browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP_INSTALL) --editable .
	touch $@

$(VENV)/.installed-test: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP_INSTALL) --editable '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

build: $(VENV)/.installed
	$(BIN)/qa-service build

serve: build
	$(BIN)/qa-service serve

# Debian's chromium for the browser tests (Playwright drives it; `playwright install` cannot
# download browsers here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

# axe-core for the browser tests' WCAG 2.2 AA checks, at the version package-lock.json pins,
# from the npm registry (Debian's npm where there is none).
node_modules/.package-lock.json: package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq npm >/dev/null; }
	npm ci --no-audit --no-fund --loglevel=error

test: $(VENV)/.installed-test browser node_modules/.package-lock.json
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) test-output node_modules
	find index -mindepth 1 ! -name README.md -exec rm -rf {} +
