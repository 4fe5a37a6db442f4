# The two commands: `make run` and `make test`. Everything else is optional.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install lint bench audit soak clean

$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)

## make run: set up, train on the embedded data (local MLflow store), promote, then serve the API
run: $(STAMP)
	$(VENV)/bin/chipcast data list
	$(VENV)/bin/chipcast train
	-$(VENV)/bin/chipcast promote   # keeps the current champion if the new run is worse (exit 1)
	$(VENV)/bin/chipcast serve --host $(HOST) --port $(PORT)

## make test: set up and run the whole test suite
test: $(STAMP)
	$(PY) -m ruff check pipelines forecasting service tests bench
	$(PY) -m mypy
	@# two workers; what shares the trained champions stays on one (tests/conftest.py). Timing tests run after,
	@# with the machine to themselves. Each prints its slowest steps, so the suite's time stays visible.
	$(PY) -m pytest -n 2 --dist loadscope -m "not timing" --durations=20
	$(PY) -m pytest -m timing --durations=5

lint: $(STAMP)
	$(PY) -m ruff check pipelines forecasting service tests bench
	$(PY) -m mypy

bench: $(STAMP)
	command -v wrk >/dev/null || apt-get install -y -qq wrk   # native load generator for bench/serve.py
	$(PY) bench/train.py
	$(PY) bench/serve.py
	$(PY) bench/scale.py --sizes 100 1000   # the README's measured sizes; 10000 takes about 45 min on 2 cores

## dependency audit: exits 2 ("NOT AUDITED") where PyPI's vulnerability data cannot be reached
audit: $(STAMP)
	$(PY) bench/audit.py

soak: $(STAMP)
	$(PY) bench/soak.py --duration 600

clean:
	rm -rf .state .pytest_cache .mypy_cache .ruff_cache
