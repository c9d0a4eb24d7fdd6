"""The feature pipeline, built from configuration through an explicit allowlist.

Each configured feature becomes one ``ColumnTransformer`` entry named after the feature and
applied to its input column.  Names resolve only through :data:`TRANSFORMERS`; nothing is
looked up with ``getattr`` on a module.

The pipeline must not learn from the label: it is fit once on the training split and the
resulting matrix is shared by every CV fold and trial (supervised encoders belong inside
the model, fit per fold).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

from ml.config import FeatureSpec, TaskConfig
from ml.errors import ConfigError
from ml.features.text import (
    EmotionTransformer,
    SentimentTransformer,
    TextEmbeddingTransformer,
    TextLengthTransformer,
    TextStructureTransformer,
)

MISSING = "__missing__"
CODE_SUFFIX = "_code"  # ColumnTransformer entry of a CategoryCodes feature's integer codes


def _fill_missing_category(X: pd.DataFrame) -> np.ndarray:
    """Categorical inputs as object strings, nulls as an explicit category."""
    return X.astype(object).where(X.notna(), MISSING).to_numpy()


def _to_float(X: pd.DataFrame) -> np.ndarray:
    """Numeric inputs (booleans included) as float64, nulls as NaN for the booster."""
    return X.apply(pd.to_numeric, errors="coerce").astype("float64").to_numpy()


def _one_hot(categories: list[Any] | None = None) -> Any:
    from sklearn.pipeline import make_pipeline

    cats = "auto" if categories is None else [list(categories)]
    return make_pipeline(
        FunctionTransformer(_fill_missing_category, feature_names_out="one-to-one"),
        OneHotEncoder(categories=cats, handle_unknown="ignore", sparse_output=False),
    )


def _category_codes(categories: list[Any] | None = None) -> Any:
    """Categorical inputs as integer codes (float; unknown values NaN) for the boosters'
    native categorical splits (XGBoost, LightGBM, CatBoost): one column per feature, not one per
    value.  Nulls are their own category, as with one-hot encoding."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder

    cats = "auto" if categories is None else [list(categories)]
    return make_pipeline(
        FunctionTransformer(_fill_missing_category, feature_names_out="one-to-one"),
        OrdinalEncoder(
            categories=cats, handle_unknown="use_encoded_value", unknown_value=np.nan, dtype=np.float64
        ),
    )


def _numeric() -> Any:
    return FunctionTransformer(_to_float, feature_names_out="one-to-one")


# Allowlist: configuration name -> factory taking the feature's params.
TRANSFORMERS: dict[str, Callable[..., Any]] = {
    "SentimentTransformer": SentimentTransformer,
    "EmotionTransformer": EmotionTransformer,
    "TextLengthTransformer": TextLengthTransformer,
    "TextStructureTransformer": TextStructureTransformer,
    "TextEmbeddingTransformer": TextEmbeddingTransformer,
    "OneHotEncoder": _one_hot,
    "CategoryCodes": _category_codes,
    "passthrough": _numeric,
}


def make_transformer(spec: FeatureSpec, key: str) -> Any:
    """Instantiate one feature's transformer, with errors naming the config key."""
    factory = TRANSFORMERS.get(spec.transformer)
    if factory is None:
        raise ConfigError(
            f"{key}.transformer: unknown transformer {spec.transformer!r} "
            f"(allowed: {', '.join(sorted(TRANSFORMERS))})"
        )
    categories = spec.params.get("categories")
    if categories is not None and (
        not isinstance(categories, list)
        or not categories
        or not all(isinstance(c, str | int | float) and not isinstance(c, bool) for c in categories)
        or len(set(categories)) != len(categories)
    ):
        raise ConfigError(
            f"{key}.params.categories: expected a non-empty list of distinct strings or numbers, "
            f"got {categories!r}"
        )
    try:
        transformer = factory(**spec.params)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key}.params: invalid parameters for {spec.transformer}: {exc}") from None
    check = getattr(transformer, "_check_params", None)
    if check is not None:
        try:
            check()
        except (ConfigError, TypeError, ValueError) as exc:
            raise ConfigError(f"{key}.params: {exc}") from None
    return transformer


def cache_keys(pipeline: ColumnTransformer) -> list[str]:
    """Text-feature cache keys of the pipeline's cacheable transformers (fitted or not)."""
    entries = getattr(pipeline, "transformers_", None) or pipeline.transformers
    return sorted({t.cache_key for _, t, _ in entries if getattr(t, "cacheable", False)})


def embedding_columns(pipeline: ColumnTransformer) -> list[int]:
    """Output column indices produced by TextEmbeddingTransformer entries of a fitted pipeline."""
    columns: list[int] = []
    for name, transformer, _ in pipeline.transformers_:
        if isinstance(transformer, TextEmbeddingTransformer):
            block = pipeline.output_indices_[name]
            columns.extend(range(block.start, block.stop))
    return columns


def categorical_columns(pipeline: ColumnTransformer) -> tuple[list[int], list[int]]:
    """Of a fitted pipeline: the code columns of its CategoryCodes features, and the one-hot
    columns of the same features (read by the models without native categorical splits)."""
    codes: list[int] = []
    one_hot: list[int] = []
    for name, _, _ in pipeline.transformers_:
        if name.endswith(CODE_SUFFIX):
            for columns, entry in ((codes, name), (one_hot, name.removesuffix(CODE_SUFFIX))):
                block = pipeline.output_indices_[entry]
                columns.extend(range(block.start, block.stop))
    return codes, one_hot


def drop_unread(pipeline: ColumnTransformer, keep: list[int] | None) -> list[int] | None:
    """Turn the fitted entries none of whose columns a model reads into 'drop', so that the
    saved pipeline does not compute them at scoring (a tabular winner skips the embedding, a
    booster the one-hot columns of CategoryCodes features).  Returns ``keep`` re-indexed to
    the pruned output, or None when the model reads every remaining column."""
    if keep is None:
        return None
    read = set(keep)
    mapping: dict[int, int] = {}
    indices: dict[str, slice] = {}
    for i, (name, _, columns) in enumerate(pipeline.transformers_):
        block = pipeline.output_indices_.get(name, slice(0, 0))
        if block.stop > block.start and not read.intersection(range(block.start, block.stop)):
            pipeline.transformers_[i] = (name, "drop", columns)
            indices[name] = slice(0, 0)
            continue
        start = len(mapping)
        for j in range(block.start, block.stop):
            mapping[j] = len(mapping)
        indices[name] = slice(start, len(mapping))
    pipeline.output_indices_ = indices
    pruned = [mapping[j] for j in keep]
    return None if pruned == list(range(len(mapping))) else pruned


def has_embeddings(config: TaskConfig) -> bool:
    return any(spec.transformer == "TextEmbeddingTransformer" for spec in config.features)


def build_feature_pipeline(config: TaskConfig) -> ColumnTransformer:
    """A ColumnTransformer with one entry per configured feature (dense float output)."""
    entries = []
    counters: dict[str, int] = {}
    for spec in config.features:
        index = counters.get(spec.group, 0)
        counters[spec.group] = index + 1
        key = f"{config.source}: features.{spec.group}[{index}]"
        transformer = make_transformer(spec, key)
        if spec.transformer == "CategoryCodes":
            # Both encodings: the codes for models with native categorical splits, one-hot
            # columns for the others (each model reads one of them: ml.models.model_columns).
            entries.append((spec.name + CODE_SUFFIX, transformer, [spec.column]))
            transformer = _one_hot(**spec.params)
        entries.append((spec.name, transformer, [spec.column]))
    names = [name for name, _, _ in entries]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise ConfigError(
            f"{config.source}: features: name(s) {', '.join(clashes)} clash with the codes "
            "of a CategoryCodes feature"
        )
    return ColumnTransformer(entries, remainder="drop", sparse_threshold=0.0, verbose_feature_names_out=True)
