"""MLflow tracking: a local SQLite store by default, overridable by MLFLOW_TRACKING_URI."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

DEFAULT_DIR = Path("mlflow")


def tracking_uri() -> str:
    """$MLFLOW_TRACKING_URI, else sqlite:///<cwd>/mlflow/mlflow.db."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    DEFAULT_DIR.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(DEFAULT_DIR / 'mlflow.db').resolve()}"


def _use_experiment(experiment: str) -> None:
    import mlflow

    mlflow.set_tracking_uri(tracking_uri())
    if mlflow.get_experiment_by_name(experiment) is None:
        location = None
        uri = tracking_uri()
        if uri.startswith("sqlite:///"):
            # Artifacts beside the SQLite store (MLflow's default is ./mlruns in the cwd).
            location = (Path(uri[len("sqlite:///") :]).parent / "artifacts").resolve().as_uri()
        mlflow.create_experiment(experiment, artifact_location=location)
    mlflow.set_experiment(experiment)


@contextmanager
def start_run(experiment: str, run_name: str, tags: dict[str, str]) -> Iterator[Any]:
    """An MLflow run in ``experiment``; it ends FAILED if the block raises."""
    import mlflow

    _use_experiment(experiment)
    with mlflow.start_run(run_name=run_name, tags=tags) as run:
        yield run


def begin_run(experiment: str, run_name: str, tags: dict[str, str]) -> str:
    """Start an MLflow run in ``experiment`` as the active run, left open until
    :func:`end_run` (training ends it only once its results are committed); its id."""
    import mlflow

    _use_experiment(experiment)
    return str(mlflow.start_run(run_name=run_name, tags=tags).info.run_id)


def end_run(mlflow_run_id: str, status: str) -> None:
    """End an MLflow run FINISHED, FAILED or KILLED (the active one, or any by id)."""
    import mlflow

    active = mlflow.active_run()
    if active is not None and active.info.run_id == mlflow_run_id:
        mlflow.end_run(status=status)
    else:
        mlflow.MlflowClient(tracking_uri=tracking_uri()).set_terminated(mlflow_run_id, status)


def log_run(params: dict[str, Any], metrics: dict[str, float], artifact_dir: Path | None) -> None:
    """Log params, metrics and an artifact folder to the active run."""
    import mlflow

    mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
    mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v == v})
    if artifact_dir is not None:
        mlflow.log_artifacts(str(artifact_dir), artifact_path="model")


# How a warehouse run ended -> how its MLflow run should read.
MLFLOW_END = {"succeeded": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}


def runs_out_of_step(warehouse_status: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """The MLflow runs whose status disagrees with their ended warehouse run
    (``warehouse_status``: adscore run id -> ``ml.runs.status``): a training killed before its
    MLflow run closed left it RUNNING; one that exited with the run still active had MLflow's
    exit hook close it FINISHED whatever happened.  Returns (MLflow run id, adscore run id,
    warehouse status, MLflow status)."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=tracking_uri())
    experiments = [e.experiment_id for e in client.search_experiments() if e.name.startswith("adscore-")]
    if not experiments:
        return []
    found = []
    for run in client.search_runs(experiments, max_results=50_000):
        run_id = run.data.tags.get("adscore.run_id", "")
        status = warehouse_status.get(run_id)
        if status in MLFLOW_END and run.info.status != MLFLOW_END[status]:
            found.append((run.info.run_id, run_id, status, run.info.status))
    return found


def end_runs_out_of_step(warehouse_status: dict[str, str]) -> list[str]:
    """Set each MLflow run that disagrees with its ended warehouse run (:func:`runs_out_of_step`)
    to the warehouse's outcome: interrupted runs KILLED, failed ones FAILED, and a run that
    committed FINISHED.  Returns the MLflow run ids changed."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=tracking_uri())
    ended = []
    for mlflow_run_id, _, status, _ in runs_out_of_step(warehouse_status):
        client.set_terminated(mlflow_run_id, MLFLOW_END[status])
        ended.append(mlflow_run_id)
    return ended


def log_file(mlflow_run_id: str, path: Path, artifact_path: str) -> None:
    """Add one file to a finished run's artifacts (the model card, written after the run)."""
    import mlflow

    mlflow.MlflowClient(tracking_uri=tracking_uri()).log_artifact(mlflow_run_id, str(path), artifact_path)


def log_datasets(
    warehouse: Path, table: str, data_hash: str, target: str, splits: dict[str, pd.DataFrame]
) -> None:
    """Record the run's inputs (MLflow dataset lineage): the warehouse file as the source, one
    dataset per split named ``<table>:<split>`` (MLflow keeps one input per name and digest)
    with its row count and schema, logged as context ``training`` (``train``) or
    ``evaluation``; the digest is the training snapshot's hash (``ml.runs.data_hash``, cut to
    MLflow's 36 characters)."""
    import warnings

    import mlflow
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.pandas_dataset import from_pandas

    with warnings.catch_warnings():  # "can be interpreted in multiple ways": both are the local file
        warnings.simplefilter("ignore", UserWarning)
        source = resolve_dataset_source(Path(warehouse).resolve().as_uri())
    for split, frame in splits.items():
        with warnings.catch_warnings():  # the dataset schema's hint about integer columns and nulls
            warnings.simplefilter("ignore", UserWarning)
            dataset = from_pandas(
                frame, source=source, name=f"{table}:{split}", digest=data_hash[:36], targets=target
            )
            mlflow.log_input(dataset, context="training" if split == "train" else "evaluation")
