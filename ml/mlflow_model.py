"""Each artifact folder is also an MLflow model (``python_function`` flavor), without pickle.

``save_artifact`` writes an ``MLmodel`` file beside the manifest, so the folder, the copy
logged to the run (``runs:/<id>/model``) and the versions mirrored into MLflow's model registry
load with ``mlflow.pyfunc.load_model``::

    model = mlflow.pyfunc.load_model("models:/ad_score@champion")
    model.predict(rows)  # rows: the scoring table's columns (marts.ad_score_features)

The flavor names this module as its ``loader_module``: MLflow imports the installed ``ml``
package and calls :func:`_load_pyfunc`, which goes through :func:`ml.artifacts.load_artifact`
(the manifest against the checksum recorded in ``MLmodel``, every file against the manifest,
the feature pipeline through skops' type allowlist, the booster in its native format). No
code and no pickle is read from the model folder, so loading needs this project's
environment (the same image or ``make setup``), not an environment MLflow rebuilds.

The output matches ``ml.score``: regression gives ``score`` with the 90% split-conformal
``score_lower`` / ``score_upper``; classification the calibrated ``probability`` and
``is_at_risk`` at the decision threshold chosen at training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ml.artifacts import MANIFEST, SERVED_INTERVAL_LEVEL, load_artifact
from ml.errors import ArtifactError

MLMODEL = "MLmodel"
LOADER_MODULE = "ml.mlflow_model"
SHA256_KEY = "adscore_manifest_sha256"
REQUIREMENTS = "requirements.txt"
# The libraries a loaded model runs on (pinned from the training run's versions).
RUNTIME_LIBRARIES = (
    "numpy",
    "pandas",
    "scikit-learn",
    "skops",
    "xgboost-cpu",
    "lightgbm",
    "catboost",
    "vaderSentiment",
    "mlflow",
)


class AdscorePyfunc:
    """What ``mlflow.pyfunc.load_model`` wraps: a verified artifact scoring warehouse rows."""

    def __init__(self, loaded: Any) -> None:
        self.loaded = loaded
        self.manifest: dict[str, Any] = loaded.manifest

    def predict(self, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        frame = pd.DataFrame(model_input)
        missing = [c for c in self.manifest["input_columns"] if c not in frame.columns]
        if missing:
            raise ArtifactError(
                f"{self.manifest['model_name']}: input lacks column(s) {', '.join(missing)} "
                f"(the model reads: {', '.join(self.manifest['input_columns'])})"
            )
        raw = self.loaded.predict(frame.reset_index(drop=True))
        if self.manifest["problem_type"] == "regression":
            low, high = self.loaded.interval(raw, SERVED_INTERVAL_LEVEL)
            return pd.DataFrame({"score": raw, "score_lower": low, "score_upper": high})
        p = self.loaded.calibrated(raw)
        return pd.DataFrame({"probability": p, "is_at_risk": p >= float(self.manifest["decision_threshold"])})


def _load_pyfunc(path: str) -> AdscorePyfunc:
    """MLflow's entry point (``loader_module``): load and verify the folder at ``path``."""
    from mlflow.models import Model

    folder = Path(path)
    meta = Model.load(str(folder / MLMODEL)).metadata or {}
    expected = meta.get(SHA256_KEY)
    if not expected:
        raise ArtifactError(f"{folder / MLMODEL} records no {SHA256_KEY}: refusing to load")
    return AdscorePyfunc(load_artifact(folder / MANIFEST, str(expected), expected_from=str(folder / MLMODEL)))


def input_schema(example: pd.DataFrame) -> Any:
    """Text columns typed ``string``, every other column ``any``: MLflow will not convert int64
    to double nor a float with nulls to long, and a warehouse integer column arrives as either
    depending on its nulls; the feature pipeline converts the numbers itself."""
    from mlflow.types.schema import AnyType, ColSpec, Schema, TensorSpec

    specs: list[ColSpec | TensorSpec] = []
    for column in example.columns:
        dtype = example[column].dtype
        text = pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype)
        specs.append(ColSpec("string" if text else AnyType(), str(column)))
    return Schema(specs)


def output_schema(problem_type: str) -> Any:
    """The columns :meth:`AdscorePyfunc.predict` returns."""
    from mlflow.types.schema import ColSpec, Schema, TensorSpec

    columns = (
        [("double", "score"), ("double", "score_lower"), ("double", "score_upper")]
        if problem_type == "regression"
        else [("double", "probability"), ("boolean", "is_at_risk")]
    )
    specs: list[ColSpec | TensorSpec] = [ColSpec(kind, name) for kind, name in columns]
    return Schema(specs)


def write_mlmodel(folder: Path, loaded: Any, manifest_sha256: str, example: pd.DataFrame) -> None:
    """Write ``MLmodel`` (pyfunc flavor, signature, the manifest's checksum) and
    ``requirements.txt`` into ``folder``; ``loaded`` is the in-memory model, ``example`` a
    few input rows (their dtypes type the inputs; they are scored once as a check)."""
    import mlflow.pyfunc
    from mlflow.models import Model, ModelSignature

    manifest = loaded.manifest
    inputs = example[list(manifest["input_columns"])].head(5).reset_index(drop=True)
    outputs = AdscorePyfunc(loaded).predict(inputs)
    if not np.isfinite(outputs.iloc[:, 0].to_numpy(dtype=float)).all():
        raise ArtifactError(f"{manifest['model_name']}: non-finite predictions on the input example")
    if list(outputs.columns) != [c.name for c in output_schema(manifest["problem_type"]).inputs]:
        raise ArtifactError(
            f"{manifest['model_name']}: predictions {list(outputs.columns)} do not match the schema"
        )
    versions = manifest.get("library_versions", {})
    model = Model(
        signature=ModelSignature(input_schema(inputs), output_schema(manifest["problem_type"])),
        metadata={
            SHA256_KEY: manifest_sha256,
            "adscore_task": manifest["task"],
            "adscore_run_id": manifest["run_id"],
            "adscore_estimator": manifest["estimator"],
        },
    )
    mlflow.pyfunc.add_to_model(model, loader_module=LOADER_MODULE)
    pins = [f"{name}=={versions[name]}" for name in RUNTIME_LIBRARIES if name in versions]
    requirements = folder / f".{REQUIREMENTS}.tmp"
    requirements.write_text(
        "# The libraries this model ran with; loading also needs the adscore package (ml/).\n"
        + "\n".join(pins)
        + "\n"
    )
    requirements.replace(folder / REQUIREMENTS)
    staged = folder / f".{MLMODEL}.tmp"
    model.save(str(staged))
    staged.replace(folder / MLMODEL)  # last: a folder with MLmodel is complete
