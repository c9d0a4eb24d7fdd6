"""The text feature cache: each expensive text feature is computed once per distinct text.

Values are keyed by ``(feature_key, text_hash)``: the feature key names the transformer and
the version of its model or lexicon (``sentiment:vader:3.3.2``), the hash is the sha256 of
the text; a new model or lexicon version therefore misses and recomputes. ``ml.train`` and
``ml.score`` load the entries of the pipeline's keys from ``ml.text_feature_cache`` before
they transform, activate the cache while the pipeline runs, and write the new entries in
their one final transaction, so a second run over unchanged data computes nothing.

The cache is process state, never part of a fitted transformer (so it is not persisted in
the skops pipeline and a loaded model carries no cache).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class TextFeatureCache:
    """In-memory entries (loaded from the warehouse) plus the ones computed in this run."""

    def __init__(self, entries: pd.DataFrame | None = None) -> None:
        self.values: dict[tuple[str, str], np.ndarray] = {}
        self.new: dict[tuple[str, str], np.ndarray] = {}
        self.hits = 0
        self.computed = 0
        if entries is not None:
            for key, digest, values in entries[["feature_key", "text_hash", "values"]].itertuples(
                index=False
            ):
                self.values[(key, digest)] = np.asarray(values, dtype=float)

    def rows(
        self, key: str, texts: list[str], compute: Callable[[list[str]], np.ndarray], width: int
    ) -> np.ndarray:
        """Feature rows of distinct ``texts``: cached ones reused, the rest computed in one batch."""
        digests = [text_hash(t) for t in texts]
        out = np.empty((len(texts), width))
        missing = []
        for i, digest in enumerate(digests):
            cached = self.values.get((key, digest))
            if cached is not None and cached.shape == (width,):
                out[i] = cached
            else:
                missing.append(i)
        self.hits += len(texts) - len(missing)
        if missing:
            computed = np.asarray(compute([texts[i] for i in missing]), dtype=float).reshape(
                len(missing), width
            )
            for row, i in zip(computed, missing, strict=True):
                out[i] = row
                self.values[(key, digests[i])] = row
                self.new[(key, digests[i])] = row
            self.computed += len(missing)
        return out

    def new_entries(self) -> pd.DataFrame:
        """Rows for ml.text_feature_cache computed in this run."""
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        return pd.DataFrame(
            {
                "feature_key": [k for k, _ in self.new],
                "text_hash": [d for _, d in self.new],
                "values": [v.tolist() for v in self.new.values()],
                "computed_at": now,
            }
        )


_ACTIVE: list[TextFeatureCache] = []


@contextmanager
def activated(cache: TextFeatureCache) -> Iterator[TextFeatureCache]:
    """Make ``cache`` the one text transformers use inside the block."""
    _ACTIVE.append(cache)
    try:
        yield cache
    finally:
        _ACTIVE.pop()


def active() -> TextFeatureCache | None:
    return _ACTIVE[-1] if _ACTIVE else None
