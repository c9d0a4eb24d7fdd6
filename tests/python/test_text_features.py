"""Text features: finite on any text, sensible values, and the content-hash cache."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.errors import ConfigError
from ml.features.cache import TextFeatureCache, activated
from ml.features.text import (
    EmotionTransformer,
    SentimentTransformer,
    TextEmbeddingTransformer,
    TextLengthTransformer,
    TextStructureTransformer,
)

BAD_TEXTS = [
    "",
    "   \t\n  ",
    "x" * 100_000,
    "word " * 20_000,
    "caf\ufffd \ufffd\ufffd repaired bytes",
    "😀🔥💯🎉",
    "Скидка 50% на всё! 今日だけ 限定セール مرحبا",
    None,
    float("nan"),
    "Buy now!!! 50% OFF — only $9.99?",
]
TRANSFORMERS = [
    SentimentTransformer(),
    TextLengthTransformer(),
    TextStructureTransformer(),
    EmotionTransformer(),
    TextEmbeddingTransformer(n_components=None),
]


@pytest.mark.parametrize("transformer", TRANSFORMERS, ids=lambda t: type(t).__name__)
def test_any_text_gives_finite_features(transformer) -> None:  # type: ignore[no-untyped-def]
    X = pd.DataFrame({"ad_text": pd.Series(BAD_TEXTS, dtype=object)})
    out = transformer.fit(X).transform(X)
    assert out.shape == (len(BAD_TEXTS), len(transformer.get_feature_names_out()))
    assert np.isfinite(out).all()
    # Missing values score like an empty text.
    np.testing.assert_array_equal(out[7], out[0])
    np.testing.assert_array_equal(out[8], out[0])


def test_structure_and_emotion_values() -> None:
    X = pd.DataFrame({"t": ["Buy now!!! 50% OFF, only $9.99? 🎉", "We are so sad and lonely.", ""]})
    structure = TextStructureTransformer().fit(X)
    row = dict(zip(structure.get_feature_names_out(), structure.transform(X)[0], strict=True))
    assert row["exclamations"] == 3 and row["questions"] == 1 and row["percent_signs"] == 1
    assert row["cta_verbs"] == 1 and row["emoji"] == 1 and row["currency_signs"] == 1 and row["numbers"] == 2
    assert 0 < row["uppercase_share"] < 1
    emotion = EmotionTransformer(emotions=["joy", "sadness"]).fit(X)
    assert list(emotion.get_feature_names_out()) == ["joy", "sadness"]
    values = emotion.transform(X)
    assert values[1, 1] == pytest.approx(2 / 6) and values[1, 0] == 0 and (values[2] == 0).all()
    with pytest.raises(ConfigError, match="unknown emotion"):
        EmotionTransformer(emotions=["smugness"]).fit(X)


def test_cache_computes_each_text_once_and_a_new_version_misses() -> None:
    X = pd.DataFrame({"t": ["Love it!", "Hate the fees.", "Love it!", None]})
    sentiment = SentimentTransformer().fit(X)
    first = TextFeatureCache()
    with activated(first):
        expected = sentiment.transform(X)
    assert first.computed == 3 and first.hits == 0  # two texts and the empty one
    entries = first.new_entries()
    assert set(entries.feature_key) == {sentiment.cache_key} and len(entries) == 3
    second = TextFeatureCache(entries)
    with activated(second):
        np.testing.assert_array_equal(sentiment.transform(X), expected)
    assert second.computed == 0 and second.hits == 3 and second.new_entries().empty
    # Entries of another model or lexicon version are not used.
    stale = TextFeatureCache(entries.assign(feature_key="sentiment:vader:0.0.1"))
    with activated(stale):
        sentiment.transform(X)
    assert stale.computed == 3
    # Outside an active cache nothing is recorded anywhere.
    np.testing.assert_array_equal(sentiment.transform(X), expected)


def test_an_edited_emotion_lexicon_misses_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """The emotion cache key covers the lexicon's content, not only LEXICON_VERSION: an edit
    without the bump must recompute, else ml.train / ml.score (cache) and the MLflow model (no
    cache) disagree on the same text."""
    from ml.features import emotion_lexicon

    X = pd.DataFrame({"t": ["A bargain you will adore"]})
    emotion = EmotionTransformer().fit(X)
    cache = TextFeatureCache()
    with activated(cache):
        assert emotion.transform(X)[0, 0] == 0
    edited = {**emotion_lexicon.EMOTION_WORDS, "joy": emotion_lexicon.EMOTION_WORDS["joy"] | {"adore"}}
    monkeypatch.setattr(emotion_lexicon, "EMOTION_WORDS", edited)
    monkeypatch.setattr("ml.features.text.EMOTION_WORDS", edited)
    with activated(TextFeatureCache(cache.new_entries())):
        served = emotion.transform(X)
    np.testing.assert_array_equal(served, emotion.transform(X))
    assert served[0, 0] == pytest.approx(1 / 5)


def test_an_unusable_cache_entry_is_replaced_once_recomputed(tmp_path) -> None:
    """A stored entry of the wrong width is recomputed; the new row replaces it (with `or
    ignore` the bad row stayed, and the text was recomputed on every run)."""
    import duckdb

    from ml.features.cache import text_hash
    from ml.warehouse import _conflict_clause, _insert_frame, ensure_ml_schema, load_text_cache

    X = pd.DataFrame({"t": ["Love it!"]})
    sentiment = SentimentTransformer().fit(X)
    db = tmp_path / "wh.duckdb"
    with duckdb.connect(str(db)) as con:
        ensure_ml_schema(con)
        con.execute(
            "insert into ml.text_feature_cache values (?, ?, [0.1, 0.2], now())",
            [sentiment.cache_key, text_hash("Love it!")],
        )
    for run in (1, 2):
        cache = TextFeatureCache(load_text_cache(db, [sentiment.cache_key]))
        with activated(cache):
            sentiment.transform(X)
        assert (cache.computed, cache.hits) == ((2, 0) if run == 1 else (0, 2))  # with the empty text
        with duckdb.connect(str(db)) as con:
            _insert_frame(
                con, "text_feature_cache", cache.new_entries(), _conflict_clause("text_feature_cache")
            )


def test_a_lone_surrogate_is_scored_not_a_crash() -> None:
    """An object column handed to the model directly (the MLflow pyfunc; DuckDB and pandas'
    string columns refuse them) can hold a lone surrogate: the tokenizer and the cache's sha256
    could not encode it."""
    text = "Great deal \ud800 today"
    X = pd.DataFrame({"t": pd.Series([text, "Great deal \ufffd today"], dtype=object)})
    for transformer in (TextEmbeddingTransformer(n_components=None), SentimentTransformer("minilm-logreg")):
        values = transformer.fit(X).transform(X)
        assert np.isfinite(values).all()
        np.testing.assert_allclose(values[0], values[1])  # replaced by U+FFFD
        with activated(TextFeatureCache()):
            np.testing.assert_allclose(transformer.transform(X), values)


def test_embeddings_are_offline_normalised_and_reduced() -> None:
    X = pd.DataFrame(
        {"t": ["I love these sneakers", "These shoes are wonderful", "Hidden fees, avoid", ""] * 5}
    )
    raw = TextEmbeddingTransformer(n_components=None).fit(X).transform(X)
    assert raw.shape == (20, 384)
    np.testing.assert_allclose(np.linalg.norm(raw[:3], axis=1), 1.0, atol=1e-5)
    assert raw[0] @ raw[1] > raw[0] @ raw[2]  # similar meaning, closer vectors
    reduced = TextEmbeddingTransformer(n_components=3).fit(X)
    assert reduced.transform(X).shape == (20, 3) and list(reduced.get_feature_names_out()) == [
        "c0",
        "c1",
        "c2",
    ]
    with pytest.raises(
        ConfigError, match=r"cannot be loaded offline.*available offline: all-MiniLM-L6-v2-int8"
    ):
        TextEmbeddingTransformer(model_name="sentence-transformers/all-mpnet-base-v2").fit(X)
