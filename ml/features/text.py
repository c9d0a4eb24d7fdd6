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


def _per_unique(X: Any, score: Any, width: int) -> np.ndarray:
    """Apply ``score(text) -> row`` once per distinct text of the single column of X (ad
    copy repeats across ad sets and platforms); missing values score as ''."""
    if isinstance(X, pd.DataFrame):
        if X.shape[1] != 1:
            raise ValueError(f"expected one text column, got {X.shape[1]}")
        column = X.iloc[:, 0]
    else:
        column = X if isinstance(X, pd.Series) else pd.Series(np.asarray(X, dtype=object).reshape(-1))
    codes, unique = pd.factorize(column, use_na_sentinel=True)
    texts = [str(t) for t in unique] + [""]
    codes = np.where(codes < 0, len(texts) - 1, codes)
    rows = np.array([score(t) for t in texts], dtype=float).reshape(-1, width)
    return rows[codes]


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
        return _per_unique(X, lambda t: (len(t), len(_WORD.findall(t))), 2)


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
        analyzer = _vader()
        return _per_unique(X, lambda t: analyzer.polarity_scores(t)["compound"], 1)
