"""adscore: the warehouse-native training pipeline for the Ad Score predictor."""

import os

__version__ = "0.1.0"

# MLflow 3 sends usage telemetry unless told not to, and reads DO_NOT_TRACK only as "true"
# (this project's DO_NOT_TRACK=1, which dbt honours, left it on).  Off unless a user opts in
# with MLFLOW_DISABLE_TELEMETRY=false.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
