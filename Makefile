# adscore: `make run` trains on demo data, `make test` runs the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export DUCKDB_PATH ?= warehouse/adscore.duckdb
export ADSCORE_RAW_DIR ?= data/raw
export DBT_PROFILES_DIR ?= profiles
export DO_NOT_TRACK := 1
export MLFLOW_DISABLE_TELEMETRY ?= true
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export OMP_NUM_THREADS ?= 1

DEMO_ADS ?= 20000
DEMO_DAYS ?= 120
DEMO_SEED ?= 7

.PHONY: help setup run data dbt-build train score monitoring pipeline test lint format lock mlflow-ui dbt-docs clean bench-run bench-quality bench-warehouse bench-scoring bench-text sentiment-head

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

setup: $(STAMP) ## Create .venv and install the pinned environment

data: $(STAMP) ## Generate the demo raw exports (only if none are present)
	@if [ -z "$$(ls -A $(ADSCORE_RAW_DIR) 2>/dev/null)" ]; then \
		$(BIN)/python -m ml.synth --ads $(DEMO_ADS) --days $(DEMO_DAYS) --seed $(DEMO_SEED) --out $(ADSCORE_RAW_DIR); \
	else echo "raw exports present in $(ADSCORE_RAW_DIR)"; fi

dbt-build: $(STAMP) ## dbt build (seeds, staging, intermediate, marts, tests) under the writer lock
	mkdir -p $(dir $(DUCKDB_PATH))
	$(BIN)/python -m ml.lock -- $(BIN)/dbt build

train: $(STAMP) ## python -m ml.train (all tasks)
	$(BIN)/python -m ml.train

score: $(STAMP) ## python -m ml.score (all tasks, champion, rows not yet scored)
	$(BIN)/python -m ml.score --explain

monitoring: $(STAMP) ## Rebuild the monitoring marts over ml.* (leaderboard, champions, current scores)
	$(BIN)/python -m ml.lock -- $(BIN)/dbt build --select marts.monitoring

# No demo data here: a scheduled job with an empty raw folder must fail (freshness, exit 10),
# not train on generated exports.  On the demo: make data pipeline.
pipeline: $(STAMP) ## The scheduled job on the raw folder (never generates data): freshness, dbt build, train, score, marts
	$(BIN)/python -m ml.pipeline $(PIPELINE_ARGS)

run: data dbt-build train score monitoring ## Set up, demo data if needed, dbt build, train, score, monitoring marts

# pytest exits 5 when a selection (PYTEST_ADDOPTS='-k ...') collects nothing: not a failure.
test: $(STAMP) ## The whole suite: unit tests, then dbt build + ml.train on a small generated warehouse
	$(BIN)/python -m pytest || { code=$$?; [ $$code -eq 5 ] && echo "pytest: no test collected" || exit $$code; }

lint: $(STAMP) ## ruff, mypy and sqlfluff
	$(BIN)/ruff check ml tests/python bench
	$(BIN)/ruff format --check ml tests/python bench
	$(BIN)/mypy
	DUCKDB_PATH=:memory: $(BIN)/sqlfluff lint models macros tests/marts

format: $(STAMP) ## Apply ruff formatting and fixes
	$(BIN)/ruff format ml tests/python
	$(BIN)/ruff check --fix ml tests/python

lock: ## Re-resolve requirements.lock from pyproject.toml in a scratch venv
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet -e '.[dev]'
	# Local version labels (torch's +cpu) dropped: PyPI has no such build, and `==2.13.0`
	# still takes the CPU wheel wherever one is offered (the image adds PyTorch's CPU index).
	{ sed -n '1,2p' requirements.lock; .lock-venv/bin/pip freeze --exclude-editable | sed 's/+[A-Za-z0-9.]*$$//'; } > requirements.lock.new
	mv requirements.lock.new requirements.lock && rm -rf .lock-venv

bench-run: ## Median wall time of `make run` after install (3 runs from empty data; slow)
	bench/make_run_timing.sh 3

bench-quality: $(STAMP) ## Both tasks vs the oracles, FLAML at equal budget, hyperband vs no pruning (slow)
	$(BIN)/pip install --quiet --disable-pip-version-check flaml==2.7.0
	$(BIN)/python bench/quality.py

mlflow-ui: $(STAMP) ## MLflow UI on http://127.0.0.1:5000 ($MLFLOW_TRACKING_URI, else the local store)
	$(BIN)/mlflow ui --backend-store-uri "$${MLFLOW_TRACKING_URI:-sqlite:///$(CURDIR)/mlflow/mlflow.db}" --host 127.0.0.1 --port 5000 --workers 1

dbt-docs: $(STAMP) ## dbt docs on http://127.0.0.1:8080
	$(BIN)/dbt docs generate && $(BIN)/dbt docs serve --host 127.0.0.1 --port 8080

clean: ## Remove generated data, warehouse, artifacts and MLflow store (keeps .venv)
	rm -rf data warehouse artifacts mlflow target logs

bench-scoring: $(STAMP) ## python -m ml.score on 1M ads end to end (median of 3; see docs/benchmarks.md)
	$(BIN)/python bench/scoring.py --rows 1000000 --repeats 3

bench-text: $(STAMP) ## Text features: throughput, cache speedup, RMSE with/without text, hybrid (slow)
	$(BIN)/python bench/text.py

sentiment-head: $(STAMP) ## Retrain the learned sentiment head on the corpus in vaderSentiment's sdist
	rm -rf .sentiment-corpus && mkdir .sentiment-corpus
	$(BIN)/pip download --quiet --no-deps --no-binary :all: vaderSentiment==3.3.2 -d .sentiment-corpus
	tar -xzf .sentiment-corpus/vaderSentiment-3.3.2.tar.gz -C .sentiment-corpus
	tar -xzf .sentiment-corpus/vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz -C .sentiment-corpus
	$(BIN)/python -m ml.features.sentiment_head --corpus .sentiment-corpus/hutto_ICWSM_2014
	rm -rf .sentiment-corpus

bench-warehouse: $(STAMP) ## dbt build vs the pandas reference at 1M, 10M and 100M raw rows, and incremental rebuilds (slow; see docs/benchmarks.md)
	$(BIN)/python bench/warehouse.py --sizes 1 10 100 --rebuild
