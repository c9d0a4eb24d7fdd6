"""Text features: scikit-learn transformers over one text column.

They hold no learned state (``fit`` only checks its input), so the feature pipeline can be
fit once on the training split and reused for every fold.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from ml.errors import ConfigError

_WORD = re.compile(r"\w+", re.UNICODE)


def _texts(X: Any) -> list[str]:
    """The single text column of X as a list of str ('' for missing)."""
    if isinstance(X, pd.DataFrame):
        if X.shape[1] != 1:
            raise ValueError(f"expected one text column, got {X.shape[1]}")
        X = X.iloc[:, 0]
    values = X.tolist() if isinstance(X, pd.Series) else np.asarray(X, dtype=object).reshape(-1).tolist()
    return [
        "" if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else str(v) for v in values
    ]


class _TextTransformer(TransformerMixin, BaseEstimator):
    """Shared contract: one text column in, ``_names`` numeric columns out."""

    _names: tuple[str, ...] = ()

    def fit(self, X: Any, y: Any = None) -> _TextTransformer:
        self._check_params()
        self.n_features_in_ = 1
        return self

    def _check_params(self) -> None:
        return None

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.array(self._names, dtype=object)


class TextLengthTransformer(_TextTransformer):
    """Message length: characters and words."""

    _names = ("chars", "words")

    def transform(self, X: Any) -> np.ndarray:
        texts = _texts(X)
        return np.array([[len(t), len(_WORD.findall(t))] for t in texts], dtype=float).reshape(-1, 2)


SENTIMENT_MODELS = ("vader",)


@lru_cache(maxsize=1)
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


class SentimentTransformer(_TextTransformer):
    """Sentiment score in [-1, 1] from an offline model.

    ``model_name='vader'``: VADER's rule-based lexicon (MIT licence, ships in the
    vaderSentiment package), its compound score.
    """

    _names = ("score",)

    def __init__(self, model_name: str = "vader") -> None:
        self.model_name = model_name

    def _check_params(self) -> None:
        if self.model_name not in SENTIMENT_MODELS:
            raise ConfigError(
                f"sentiment model {self.model_name!r} cannot be loaded offline; "
                f"available offline: {', '.join(SENTIMENT_MODELS)}"
            )

    def transform(self, X: Any) -> np.ndarray:
        # Each distinct text is scored once (ad copy repeats across ad sets and platforms).
        unique, inverse = np.unique(np.asarray(_texts(X), dtype=object), return_inverse=True)
        analyzer = _vader()
        scores = np.array([analyzer.polarity_scores(t)["compound"] for t in unique], dtype=float)
        return scores[inverse].reshape(-1, 1)
