"""Model artifacts: native booster files, a skops feature pipeline and a checksummed manifest.

Nothing here unpickles.  The booster is stored in its library's own format, the feature
pipeline with skops (which refuses any type outside :data:`TRUSTED_TYPES`), and
``manifest.json`` lists every file's sha256.  The registry stores the manifest's sha256, so
one checksum pins the whole artifact.  A version folder is written under a temporary name
and renamed into place, so a crash never leaves a half-written artifact behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import skops.io as sio

from ml.errors import ArtifactError
from ml.models import get_candidate

MANIFEST = "manifest.json"
SERVED_INTERVAL_LEVEL = "0.90"  # the interval ml.score writes and the MLflow model returns
PIPELINE_FILE = "feature_pipeline.skops"
# Every file of the folder at registration (MLmodel, requirements.txt and figures included,
# which manifest.json cannot list: MLmodel records the manifest's checksum) with its sha256;
# the registry keeps this file's checksum (model_versions.folder_sha256).  model_card.md,
# written after the registration, is not in it.
FOLDER_FILES = "folder.sha256.json"
MODEL_CARD = "model_card.md"
# Types of our own that a feature pipeline may contain; skops trusts scikit-learn's own.
TRUSTED_TYPES = (
    "ml.features.pipeline._fill_missing_category",
    "ml.features.pipeline._to_float",
    "ml.features.text.EmotionTransformer",
    "ml.features.text.SentimentTransformer",
    "ml.features.text.TextEmbeddingTransformer",
    "ml.features.text.TextLengthTransformer",
    "ml.features.text.TextStructureTransformer",
)


def artifacts_root(path: str | os.PathLike[str] | None = None) -> Path:
    """Where versions are stored: the argument, else $ADSCORE_ARTIFACTS_DIR, else ./artifacts."""
    return Path(path or os.environ.get("ADSCORE_ARTIFACTS_DIR") or "artifacts").resolve()


def stored_path(manifest_path: Path, root: Path) -> str:
    """How the registry records an artifact: relative to the artifacts root when inside it
    (so a warehouse and its artifacts folder can move together), else absolute."""
    try:
        return manifest_path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(manifest_path.resolve())


def resolve_artifact(stored: str, root: Path | None = None) -> Path:
    """The manifest path of a registry row: relative paths are under the artifacts root."""
    path = Path(stored)
    return path if path.is_absolute() else artifacts_root(root) / path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class SavedArtifact:
    manifest_path: Path
    sha256: str
    folder_sha256: str  # of FOLDER_FILES


def folder_listing(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` by its relative path, except FOLDER_FILES and
    the model card (and its temporary file)."""
    return {
        f.relative_to(folder).as_posix(): sha256_file(f)
        for f in sorted(folder.rglob("*"))
        if f.is_file() and not _card_file(f.relative_to(folder).as_posix())
    }


def _card_file(name: str) -> bool:
    """The listing itself, the model card and a card's temporary file (``.model_card.<pid>.md``,
    left when a process is killed while writing it): written after registration."""
    return name in (FOLDER_FILES, MODEL_CARD) or (name.startswith(".model_card.") and name.endswith(".md"))


def folder_problems(folder: Path, expected_sha256: str) -> list[str]:
    """How ``folder`` differs from the listing registered with it (FOLDER_FILES, whose own
    checksum is ``expected_sha256``): the listing changed or missing, a file missing, changed
    or added.  Empty: every file is as registered."""
    listing_path = folder / FOLDER_FILES
    if not listing_path.is_file():
        return [f"{listing_path} is missing"]
    data = listing_path.read_bytes()
    if hashlib.sha256(data).hexdigest() != expected_sha256:
        return [f"{listing_path} does not match the registry's checksum"]
    registered: dict[str, str] = json.loads(data)
    now = folder_listing(folder)
    problems = [f"{folder / name} is missing" for name in registered if name not in now]
    problems += [
        f"{folder / name} changed since registration"
        for name, digest in registered.items()
        if name in now and now[name] != digest
    ]
    problems += [f"{folder / name} was added after registration" for name in now if name not in registered]
    return problems


def save_artifact(
    root: Path,
    task: str,
    run_id: str,
    estimator: str,
    pipeline: Any,
    model: Any,
    metadata: dict[str, Any],
    figures: list[Path] | None = None,
    example: pd.DataFrame | None = None,
) -> SavedArtifact:
    """Write ``<root>/<task>/<run_id>/`` atomically and return its manifest and checksum.

    ``figures`` (PNG files) are copied under ``figures/`` for the model card and MLflow.
    With ``example`` (a few input rows) the folder is also an MLflow model: an ``MLmodel``
    file with the pyfunc flavor and the signature (:mod:`ml.mlflow_model`).
    """
    candidate = get_candidate(estimator)
    final = root / task / run_id
    if final.exists():
        raise ArtifactError(f"artifact folder {final} already exists")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{run_id}-", dir=final.parent))
    try:
        model_file = f"model.{candidate.native_format}"
        candidate.save(model, tmp / model_file)
        sio.dump(pipeline, tmp / PIPELINE_FILE)
        manifest = {
            **metadata,
            "task": task,
            "run_id": run_id,
            "estimator": estimator,
            "model_file": model_file,
            "pipeline_file": PIPELINE_FILE,
            "files": {name: sha256_file(tmp / name) for name in (model_file, PIPELINE_FILE)},
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
        if example is not None:
            from ml.mlflow_model import write_mlmodel

            loaded = LoadedModel(json.loads((tmp / MANIFEST).read_text()), pipeline, model)
            write_mlmodel(tmp, loaded, sha256_file(tmp / MANIFEST), example)
        if figures:
            (tmp / "figures").mkdir()
            for figure in figures:
                shutil.copy(figure, tmp / "figures" / figure.name)
        listing = json.dumps(folder_listing(tmp), indent=2, sort_keys=True) + "\n"
        (tmp / FOLDER_FILES).write_text(listing)
        for f in tmp.rglob("*"):
            if f.is_file():
                with open(f, "rb") as handle:
                    os.fsync(handle.fileno())
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    manifest_path = final / MANIFEST
    return SavedArtifact(manifest_path, sha256_file(manifest_path), sha256_file(final / FOLDER_FILES))


def reconcile_artifacts(root: Path, dead_runs: set[str]) -> list[str]:
    """Tidy what runs that never registered left behind: temporary folders are removed and
    complete but unregistered version folders are moved to ``<root>/.orphaned/`` (never
    deleted).  Only folders of ``dead_runs`` (this warehouse's failed or interrupted runs)
    are touched, so a root shared with another warehouse is safe.  Returns what was done."""
    done: list[str] = []
    if not root.is_dir() or not dead_runs:
        return done
    for task_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for child in sorted(task_dir.iterdir()):
            run_id = child.name.lstrip(".").split("-")[0]
            if run_id not in dead_runs or not child.is_dir():
                continue
            if child.name.startswith("."):
                shutil.rmtree(child, ignore_errors=True)
                done.append(f"removed temporary folder {child}")
            else:
                target = root / ".orphaned" / task_dir.name / child.name
                target.parent.mkdir(parents=True, exist_ok=True)
                child.rename(target)
                done.append(f"moved unregistered artifact {child} to {target}")
    return done


class LoadedModel:
    """A verified artifact: feature pipeline + booster, predicting from warehouse rows."""

    def __init__(self, manifest: dict[str, Any], pipeline: Any, model: Any) -> None:
        self.manifest = manifest
        self.pipeline = pipeline
        self.model = model

    def features(self, frame: pd.DataFrame) -> np.ndarray:
        """The model's feature matrix for warehouse rows (the fitted feature pipeline)."""
        X = np.asarray(self.pipeline.transform(frame), dtype=float)
        keep = self.manifest.get("model_columns")  # the text and tabular models read a subset
        return X if keep is None else X[:, keep]

    def predict_features(self, X: np.ndarray) -> np.ndarray:
        """Uncalibrated scores: the clipped regression prediction or the model's P(positive)."""
        from ml.cv import predict

        low_high = self.manifest.get("prediction_range")
        return predict(self.model, X, self.manifest["problem_type"], tuple(low_high) if low_high else None)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Uncalibrated scores for warehouse rows."""
        return self.predict_features(self.features(frame))

    def calibrated(self, raw: np.ndarray) -> np.ndarray:
        """Classifiers: the calibrated probability (the calibrator chosen at training)."""
        from ml.calibration import Calibrator

        spec = self.manifest.get("calibrator")
        return Calibrator.from_dict(spec).apply(raw) if spec else raw

    def interval(self, pred: np.ndarray, level: str) -> tuple[np.ndarray, np.ndarray]:
        """Regression: the split-conformal interval at ``level`` (e.g. '0.90'), clipped."""
        widths = self.manifest.get("interval_half_widths") or {}
        if level not in widths:
            raise ArtifactError(f"artifact has no {level} interval (has: {', '.join(widths) or 'none'})")
        low, high = pred - widths[level], pred + widths[level]
        low_high = self.manifest.get("prediction_range")
        if low_high:
            low, high = np.clip(low, *low_high), np.clip(high, *low_high)
        return low, high


def load_artifact(
    manifest_path: str | Path, expected_sha256: str, expected_from: str = "registry"
) -> LoadedModel:
    """Verify the manifest against the registry checksum (or the one ``expected_from``
    names) and every file against the manifest, then load; any mismatch raises
    :class:`ArtifactError` naming the file.

    Each file is read once: the bytes that were hashed are the bytes that are loaded (the
    pipeline from memory, the model from a private temporary copy), so a file swapped in the
    folder between the check and the load is never used."""
    manifest_path = Path(manifest_path)
    if not manifest_path.is_file():
        raise ArtifactError(f"artifact {manifest_path} is missing")
    manifest_bytes = manifest_path.read_bytes()
    actual = hashlib.sha256(manifest_bytes).hexdigest()
    if actual != expected_sha256:
        raise ArtifactError(
            f"artifact {manifest_path} has sha256 {actual}, "
            f"{expected_from} expects {expected_sha256}: refusing to load"
        )
    manifest = json.loads(manifest_bytes)
    folder = manifest_path.parent
    files: dict[str, str] = manifest["files"]
    for key in ("pipeline_file", "model_file"):
        if manifest.get(key) not in files:
            raise ArtifactError(
                f"artifact {manifest_path}: {key} {manifest.get(key)!r} is not among its checksummed files"
            )
    verified: dict[str, bytes] = {}
    for name, digest in files.items():
        if not name or Path(name).name != name or name in {".", ".."}:
            raise ArtifactError(
                f"artifact {manifest_path} lists {name!r}, which is not a file name in its folder"
            )
        path = folder / name
        if not path.is_file():
            raise ArtifactError(f"artifact file {path} is missing")
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != digest:
            raise ArtifactError(
                f"artifact file {path} does not match its manifest checksum: refusing to load"
            )
        verified[name] = data
    pipeline_path = folder / manifest["pipeline_file"]
    pipeline_bytes = verified[manifest["pipeline_file"]]
    untrusted = set(sio.get_untrusted_types(data=pipeline_bytes)) - set(TRUSTED_TYPES)
    if untrusted:
        raise ArtifactError(
            f"{pipeline_path} contains types outside the allowlist: {', '.join(sorted(untrusted))}"
        )
    pipeline = sio.loads(pipeline_bytes, trusted=list(TRUSTED_TYPES))
    candidate = get_candidate(manifest["estimator"])
    with tempfile.TemporaryDirectory(prefix="adscore-model-") as private:  # mode 0700
        copy = Path(private) / manifest["model_file"]
        copy.write_bytes(verified[manifest["model_file"]])
        model = candidate.load(copy, manifest["problem_type"])
    return LoadedModel(manifest, pipeline, model)
