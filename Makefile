# Gatehouse: the two commands every machine must run (see README.md).
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip
STAMP   = $(VENV)/.installed

.PHONY: demo demo-reset test bench venv clean

venv: $(STAMP)

# Re-install when the package metadata changes.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Gatehouse needs Python 3.11 or newer")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[dev]'
	# mfrc522 declares RPi.GPIO, which only builds on a Pi: tests run its code against
	# our emulated chip, so install it without dependencies.
	$(PIP) install --quiet --no-deps 'mfrc522==0.0.7'
	@touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m bench.run

demo: $(STAMP)
	$(PY) -m hub.demo run

demo-reset: $(STAMP)
	$(PY) -m hub.demo reset

clean:
	rm -rf $(VENV) var/ .pytest_cache
