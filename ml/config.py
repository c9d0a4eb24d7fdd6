"""Training configuration: YAML loaded safely and validated into typed objects.

Every error names the file, the key (as a dotted path) and what was expected.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from ml.errors import ConfigError

CONF_DIR = Path(__file__).resolve().parent / "conf"
FOLD_STRATEGIES = ("warehouse", "stratified")
FEATURE_GROUPS = ("text_features", "campaign_features", "numeric_features")
FEATURE_TYPES = ("", "categorical", "nlp", "statistical")  # documentation only, checked
# A warehouse table, optionally schema-qualified (ml quotes each part; this keeps SQL out).
TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")
# A feature's name becomes an output column prefix; scikit-learn reserves "__".
FEATURE_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_]*[A-Za-z0-9])?")


@dataclass(frozen=True)
class FeatureSpec:
    """One configured feature: a transformer from the allowlist applied to one input column."""

    name: str
    group: str
    transformer: str
    column: str
    type: str = ""
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DataSpec:
    table: str
    folds_table: str
    id_columns: tuple[str, ...]
    target: str
    critical_columns: tuple[str, ...]
    segment_columns: tuple[str, ...]
    quality_report: str | None = None
    date_column: str | None = None  # reported as the snapshot's date range (model card)


@dataclass(frozen=True)
class TrainingSpec:
    candidates: tuple[str, ...]
    metric: str
    seed: int
    search: str
    pruner: str
    n_trials: int
    timeout: float | None
    n_jobs: int
    prediction_range: tuple[float, float] | None
    # "warehouse": the folds table's folds; "stratified": its training rows re-dealt into as
    # many folds, stratified on the label and grouped by the first id column (classification).
    folds: str = "warehouse"
    # Inference speed: a candidate whose prediction takes longer per 1,000 rows (median over
    # the folds) cannot win selection, and a model over it does not pass the promotion gate.
    max_predict_ms_per_1000_rows: float | None = None


@dataclass(frozen=True)
class FairnessConfig:
    features: tuple[str, ...]
    max_parity_difference: float
    max_opportunity_difference: float
    max_error_gap: float
    min_group_size: int


@dataclass(frozen=True)
class PromotionConfig:
    """When a new version replaces the champion (see ml.registry).

    The challenger must beat the champion on the same frozen holdout by ``margin`` (in the
    training metric's units, oriented so that positive means better); with
    ``require_significance`` the lower end of the ``confidence`` paired-bootstrap interval of
    that improvement must also be above zero.  It must pass every fairness limit when
    ``require_fairness``, have a holdout ECE of at most ``max_ece`` (classification) and an
    interval coverage no more than ``max_coverage_shortfall`` under nominal (regression).
    """

    margin: float = 0.0
    confidence: float = 0.9
    n_bootstrap: int = 1000
    require_significance: bool = True
    require_fairness: bool = True
    max_ece: float = 0.05
    max_coverage_shortfall: float = 0.05


@dataclass(frozen=True)
class ScoringConfig:
    """What ``python -m ml.score`` scores and where it writes (an ml table)."""

    table: str
    output: str
    drift_threshold: float = 0.2
    # A run scoring fewer rows records PSI but does not judge drift (is_drifted null): PSI of a
    # small sample from the training distribution itself often passes 0.2 (docs/benchmarks.md).
    drift_min_rows: int = 200
    explain_top_k: int = 5


@dataclass(frozen=True)
class TaskConfig:
    """Everything one task's training run needs to know."""

    source: str
    task: str
    problem_type: str
    data: DataSpec
    features: tuple[FeatureSpec, ...]
    training: TrainingSpec
    fairness: FairnessConfig
    promotion: PromotionConfig = PromotionConfig()
    scoring: ScoringConfig | None = None

    def input_columns(self) -> list[str]:
        """Warehouse columns the feature pipeline reads, in configuration order, unique."""
        return list(dict.fromkeys(f.column for f in self.features))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def config_hash(self) -> str:
        """sha256 of the canonical JSON of the configuration (the source path excluded)."""
        payload = {k: v for k, v in self.as_dict().items() if k != "source"}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class _Reader:
    """Typed access to a YAML mapping that reports errors as '<file>: <key>: <problem>'."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.source}: {key}: {problem}")

    def mapping(self, value: Any, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a mapping, got {type(value).__name__}")
        return value

    def get(
        self, parent: dict[str, Any], name: str, key: str, kind: type | tuple[type, ...], default: Any = ...
    ) -> Any:
        if name not in parent:
            if default is ...:
                raise self.fail(f"{key}.{name}".lstrip("."), "required key is missing")
            return default
        value = parent[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds and (int in kinds or float in kinds):
            raise self.fail(f"{key}.{name}".lstrip("."), f"expected {_kind_name(kind)}, got bool")
        if not isinstance(value, kind):
            raise self.fail(
                f"{key}.{name}".lstrip("."),
                f"expected {_kind_name(kind)}, got {type(value).__name__} {value!r}",
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail(f"{key}.{name}".lstrip("."), f"expected a finite number, got {value!r}")
        return value

    def table(self, parent: dict[str, Any], name: str, key: str, default: Any = ...) -> Any:
        """A table name ([schema.]name), or None where the default is None."""
        value = self.get(parent, name, key, str if default is ... else (str, type(None)), default)
        if value is not None and not TABLE_NAME.fullmatch(value):
            raise self.fail(f"{key}.{name}", f"expected a table name like schema.table, got {value!r}")
        return value

    def only(self, parent: dict[str, Any], key: str, allowed: tuple[str, ...]) -> None:
        """Refuse keys this reader does not know: a misspelt optional key would otherwise be
        ignored and its default used without a word."""
        for name in parent:
            if name not in allowed:
                close = difflib.get_close_matches(str(name), allowed, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"expected one of {', '.join(allowed)}"
                raise self.fail(f"{key}.{name}".lstrip("."), f"unknown key ({hint})")

    def str_list(self, parent: dict[str, Any], name: str, key: str, default: Any = ...) -> tuple[str, ...]:
        value = self.get(parent, name, key, list, default)
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise self.fail(f"{key}.{name}[{i}]", f"expected a string, got {item!r}")
        return tuple(value)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {dict: "a mapping", list: "a list", str: "a string", int: "an integer", float: "a number"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _positive_or_none(r: _Reader, parent: dict[str, Any], name: str, key: str) -> float | None:
    value = r.get(parent, name, key, (int, float, type(None)), None)
    if value is None:
        return None
    if isinstance(value, bool) or not value > 0:
        raise r.fail(f"{key}.{name}", f"expected a number > 0 (or null for no limit), got {value!r}")
    return float(value)


def parse_config(raw: Any, source: str) -> TaskConfig:
    """Validate a parsed YAML document into a :class:`TaskConfig`."""
    r = _Reader(source)
    doc = r.mapping(raw, "<document>")
    sections = ("data", "features", "training", "fairness", "promotion", "scoring")
    r.only(doc, "", ("task", "problem_type", *sections))
    task = r.get(doc, "task", "", str)
    # The task names the model in the registry and MLflow, and its artifact folder.
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", task):
        raise r.fail("task", f"expected lower-case letters, digits and _ (a name, not a path), got {task!r}")
    problem_type = r.get(doc, "problem_type", "", str)
    if problem_type not in ("regression", "classification"):
        raise r.fail("problem_type", f"expected 'regression' or 'classification', got {problem_type!r}")

    d = r.mapping(r.get(doc, "data", "", dict), "data")
    r.only(d, "data", tuple(f.name for f in fields(DataSpec)))
    data = DataSpec(
        table=r.table(d, "table", "data"),
        folds_table=r.table(d, "folds_table", "data"),
        id_columns=r.str_list(d, "id_columns", "data"),
        target=r.get(d, "target", "data", str),
        critical_columns=r.str_list(d, "critical_columns", "data", []),
        segment_columns=r.str_list(d, "segment_columns", "data", []),
        quality_report=r.table(d, "quality_report", "data", None),
        date_column=r.get(d, "date_column", "data", (str, type(None)), None),
    )
    if not data.id_columns or len(set(data.id_columns)) != len(data.id_columns):
        raise r.fail("data.id_columns", f"expected one or more distinct columns, got {list(data.id_columns)}")

    f = r.get(doc, "features", "", dict)
    unknown_groups = sorted(str(g) for g in f if g not in FEATURE_GROUPS)
    if unknown_groups:
        raise r.fail(
            f"features.{unknown_groups[0]}",
            f"unknown feature group (expected one of {', '.join(FEATURE_GROUPS)})",
        )
    features: list[FeatureSpec] = []
    for group in FEATURE_GROUPS:
        items = r.get(f, group, "features", list, [])
        for i, item in enumerate(items):
            key = f"features.{group}[{i}]"
            item = r.mapping(item, key)
            r.only(item, key, ("name", "transformer", "column", "type", "params"))
            name = r.get(item, "name", key, str)
            if not FEATURE_NAME.fullmatch(name) or "__" in name:
                raise r.fail(
                    f"{key}.name",
                    f"expected letters, digits and single _ (no leading/trailing _), got {name!r}",
                )
            params = r.get(item, "params", key, dict, {}) or {}
            kind = r.get(item, "type", key, str, "")
            if kind not in FEATURE_TYPES:
                raise r.fail(f"{key}.type", f"expected one of {', '.join(FEATURE_TYPES[1:])}, got {kind!r}")
            features.append(
                FeatureSpec(
                    name=name,
                    group=group,
                    transformer=r.get(item, "transformer", key, str),
                    column=r.get(item, "column", key, str, name),
                    type=kind,
                    params=dict(params),
                )
            )
    if not features:
        raise r.fail("features", "no features configured")
    names = [ft.name for ft in features]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise r.fail("features", f"duplicate feature name(s): {', '.join(duplicates)}")
    for ft in features:  # the label as an input would be a perfect, useless model
        if ft.column == data.target:
            index = [f for f in features if f.group == ft.group].index(ft)
            raise r.fail(
                f"features.{ft.group}[{index}]",
                f"reads {ft.column!r}, the label (data.target): a feature cannot read the label",
            )

    t = r.mapping(r.get(doc, "training", "", dict), "training")
    r.only(t, "training", tuple(f.name for f in fields(TrainingSpec)))
    candidates = r.str_list(t, "candidates", "training", ["xgboost"])
    if not candidates:
        raise r.fail("training.candidates", "at least one candidate is needed")
    if len(set(candidates)) != len(candidates):
        raise r.fail("training.candidates", f"a candidate is listed twice: {list(candidates)}")
    n_trials = r.get(t, "n_trials", "training", int, 10)
    if n_trials < 1:
        raise r.fail("training.n_trials", f"expected an integer >= 1, got {n_trials}")
    prediction_range = r.get(t, "prediction_range", "training", (list, type(None)), None)
    if prediction_range is not None:
        if len(prediction_range) != 2 or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in prediction_range
        ):
            raise r.fail("training.prediction_range", "expected [low, high] numbers")
        prediction_range = (float(prediction_range[0]), float(prediction_range[1]))
        if not (math.isfinite(prediction_range[0]) and math.isfinite(prediction_range[1])) or not (
            prediction_range[0] < prediction_range[1]
        ):
            raise r.fail(
                "training.prediction_range",
                f"expected finite [low, high], low < high, got {prediction_range}",
            )
    training = TrainingSpec(
        candidates=candidates,
        metric=r.get(t, "metric", "training", str, "rmse"),
        seed=r.get(t, "seed", "training", int, 42),
        search=r.get(t, "search", "training", str, "tpe"),
        pruner=r.get(t, "pruner", "training", str, "hyperband"),
        timeout=r.get(t, "timeout", "training", (int, float, type(None)), None),
        n_trials=n_trials,
        n_jobs=r.get(t, "n_jobs", "training", int, 1),
        prediction_range=prediction_range,
        folds=r.get(t, "folds", "training", str, "warehouse"),
        max_predict_ms_per_1000_rows=_positive_or_none(r, t, "max_predict_ms_per_1000_rows", "training"),
    )
    for name, value in (("seed", training.seed), ("n_jobs", training.n_jobs), ("timeout", training.timeout)):
        problem = out_of_range(name, value)
        if problem:
            raise r.fail(f"training.{name}", problem)
    if training.folds not in FOLD_STRATEGIES:
        allowed = ", ".join(FOLD_STRATEGIES)
        raise r.fail("training.folds", f"unknown fold strategy {training.folds!r} (allowed: {allowed})")
    if training.folds == "stratified" and problem_type != "classification":
        raise r.fail("training.folds", "stratified folds need a classification task")
    if problem_type != "regression" and prediction_range is not None:
        raise r.fail("training.prediction_range", "applies to regression only (problem_type: classification)")
    fz = r.mapping(r.get(doc, "fairness", "", dict, {}), "fairness")
    r.only(fz, "fairness", (*(f.name for f in fields(FairnessConfig)), "sensitive_features"))
    number = (int, float)
    fairness = FairnessConfig(
        features=r.str_list(fz, "features", "fairness", [])
        + r.str_list(fz, "sensitive_features", "fairness", []),
        max_parity_difference=float(r.get(fz, "max_parity_difference", "fairness", number, 0.1)),
        max_opportunity_difference=float(r.get(fz, "max_opportunity_difference", "fairness", number, 0.1)),
        max_error_gap=float(r.get(fz, "max_error_gap", "fairness", number, 5.0)),
        min_group_size=r.get(fz, "min_group_size", "fairness", int, 30),
    )
    only_for = {"max_opportunity_difference": "classification", "max_error_gap": "regression"}
    for name, kind in only_for.items():
        if name in fz and problem_type != kind:
            raise r.fail(f"fairness.{name}", f"applies to {kind} only (problem_type: {problem_type})")
    for name in ("max_parity_difference", "max_opportunity_difference", "max_error_gap"):
        if getattr(fairness, name) < 0:
            raise r.fail(f"fairness.{name}", f"expected a number >= 0, got {getattr(fairness, name)}")
    if fairness.min_group_size < 1:
        raise r.fail("fairness.min_group_size", f"expected an integer >= 1, got {fairness.min_group_size}")
    if len(set(fairness.features)) != len(fairness.features):
        raise r.fail(
            "fairness",
            f"a feature is listed twice in features / sensitive_features: {list(fairness.features)}",
        )
    pr = r.mapping(r.get(doc, "promotion", "", dict, {}), "promotion")
    r.only(pr, "promotion", tuple(f.name for f in fields(PromotionConfig)))
    defaults = PromotionConfig()
    promotion = PromotionConfig(
        margin=float(r.get(pr, "margin", "promotion", number, defaults.margin)),
        confidence=float(r.get(pr, "confidence", "promotion", number, defaults.confidence)),
        n_bootstrap=r.get(pr, "n_bootstrap", "promotion", int, defaults.n_bootstrap),
        require_significance=r.get(
            pr, "require_significance", "promotion", bool, defaults.require_significance
        ),
        require_fairness=r.get(pr, "require_fairness", "promotion", bool, defaults.require_fairness),
        max_ece=float(r.get(pr, "max_ece", "promotion", number, defaults.max_ece)),
        max_coverage_shortfall=float(
            r.get(pr, "max_coverage_shortfall", "promotion", number, defaults.max_coverage_shortfall)
        ),
    )
    only_for = {"max_ece": "classification", "max_coverage_shortfall": "regression"}
    for name, kind in only_for.items():
        if name in pr and problem_type != kind:
            raise r.fail(f"promotion.{name}", f"applies to {kind} only (problem_type: {problem_type})")
    if not 0 < promotion.confidence < 1:
        raise r.fail("promotion.confidence", f"expected a number in (0, 1), got {promotion.confidence}")
    if promotion.n_bootstrap < 100:
        raise r.fail("promotion.n_bootstrap", f"expected an integer >= 100, got {promotion.n_bootstrap}")
    for name in ("max_ece", "max_coverage_shortfall"):
        if not 0 <= getattr(promotion, name) <= 1:
            raise r.fail(
                f"promotion.{name}", f"expected a number from 0 to 1, got {getattr(promotion, name)}"
            )
    scoring = None
    if "scoring" in doc:
        sc = r.mapping(r.get(doc, "scoring", "", dict), "scoring")
        r.only(sc, "scoring", tuple(f.name for f in fields(ScoringConfig)))
        scoring = ScoringConfig(
            table=r.table(sc, "table", "scoring"),
            output=r.get(sc, "output", "scoring", str),
            drift_threshold=float(r.get(sc, "drift_threshold", "scoring", number, 0.2)),
            drift_min_rows=r.get(sc, "drift_min_rows", "scoring", int, 200),
            explain_top_k=r.get(sc, "explain_top_k", "scoring", int, 5),
        )
        if scoring.drift_min_rows < 1:
            raise r.fail("scoring.drift_min_rows", f"expected an integer >= 1, got {scoring.drift_min_rows}")
        if scoring.explain_top_k < 1:
            raise r.fail("scoring.explain_top_k", f"expected an integer >= 1, got {scoring.explain_top_k}")
        if scoring.drift_threshold <= 0:
            raise r.fail("scoring.drift_threshold", f"expected a number > 0, got {scoring.drift_threshold}")
    return TaskConfig(
        source, task, problem_type, data, tuple(features), training, fairness, promotion, scoring
    )


MAX_SEED = 2**31 - 1  # LightGBM reads its seed as a signed 32-bit int: 2**31 + k wraps to k


def out_of_range(name: str, value: float | None) -> str | None:
    """Why a seed, n_jobs or timeout value cannot be used (None when it can): found here, not
    after minutes of training when a library refuses it."""
    if name == "seed" and value is not None and not 0 <= value <= MAX_SEED:
        return f"expected an integer from 0 to {MAX_SEED}, got {value}"
    if name == "n_jobs" and value is not None and value != -1 and value < 1:
        return f"expected -1 (every core) or an integer >= 1, got {value}"
    if name == "timeout" and value is not None and not value > 0:
        return f"expected seconds > 0 (or null for none), got {value}"
    return None


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a key given twice in one mapping (plain safe_load keeps
    the last one without a word, so `n_trials: 12` then `n_trials: 3` trained 3 trials)."""

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        # Each mapping is checked once, as written: SafeLoader merges `<<: *anchor` keys into
        # the node in place (also into an anchored node when a later alias merges it), and a
        # file's own key overrides a merged one, as YAML says.
        checked: set[int] = self.__dict__.setdefault("_checked_nodes", set())
        if id(node) not in checked:
            checked.add(id(node))
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node)
                if isinstance(key, list | dict):
                    continue  # unhashable: SafeLoader's own error follows
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
                seen.add(key)
        super().flatten_mapping(node)


def load_config(path: str | Path) -> TaskConfig:
    """Read and validate a task configuration file (``yaml.SafeLoader``, duplicate keys refused)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration file: {exc.strerror or exc}") from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: no Python objects
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid YAML: nested too deeply") from None
    return parse_config(raw, str(path))


def default_config_path(task: str) -> Path:
    return CONF_DIR / f"{task}.yml"


def available_tasks() -> list[str]:
    """Tasks with a configuration in ml/conf/."""
    return sorted(p.stem for p in CONF_DIR.glob("*.yml"))


def task_configs(task: str) -> list[TaskConfig]:
    """The configurations of ``task`` ('all' for every task); unknown names are refused."""
    tasks = available_tasks() if task == "all" else [task]
    for name in tasks:
        if name not in available_tasks():
            raise ConfigError(
                f"--task: unknown task {name!r} (available: {', '.join(available_tasks())}, all)"
            )
    return [load_config(default_config_path(name)) for name in tasks]
