#!/bin/bash
# Repro: any CatBoost version cannot be scored (old code: traceback, exit 1).
# Needs a warehouse with a CatBoost version of account_health: python -m ml.train --task account_health --candidates catboost --n-trials 2 --no-mlflow
python -m ml.score --task account_health --version "${1:-3}"; echo "rc=$?"
