# Harbour: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test bench bench-compiled lint clean loadtest

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The live simulated venue on http://127.0.0.1:8080 (seed 7): prints the address, the demo API keys and
# the ccxt snippet the README shows; Ctrl-C stops it. `harbour simulate --seed 7 --minutes 5` is the batch run.
run: $(STAMP)
	$(VENV)/bin/harbour serve

test: lint
	$(PY) -m pytest

# Two JSON objects, one per line of output: the venue engine, then the broker's revaluation and stress.
bench: $(STAMP)
	$(PY) bench/engine_bench.py
	$(PY) bench/broker_bench.py
	$(PY) bench/venue_risk_bench.py  # liquidation scan and funding over 10^6 accounts (about 2 minutes)

# The gateway under load on loopback (bounded: 10 s): signed REST clients placing and cancelling
# orders at 2,000 requests/s while 500 WebSocket subscribers follow the depth stream; one JSON object.
loadtest: $(STAMP)
	$(PY) bench/gateway_load.py --seconds 10 --rate 2000 --clients 40 --subscribers 500

# Opt-in: the same benchmark against the engine's hot modules compiled with mypyc, installed
# (non-editable) in a separate venv; its state-hash check proves compiled == pure Python.
COMPILED := .venv-compiled
bench-compiled:
	$(PYTHON) -m venv $(COMPILED)
	$(COMPILED)/bin/python -m pip install --quiet --upgrade pip
	$(COMPILED)/bin/python -m pip install --quiet setuptools wheel "mypy==2.4.1" msgspec sortedcontainers numpy typer rich
	HARBOUR_COMPILE=1 $(COMPILED)/bin/python -m pip install --quiet --no-build-isolation --force-reinstall --no-deps .
	$(COMPILED)/bin/python bench/engine_bench.py

clean:
	rm -rf $(VENV) $(COMPILED) build src/*.egg-info .hypothesis
