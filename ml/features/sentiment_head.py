"""The learned sentiment model: logistic regression on all-MiniLM-L6-v2 embeddings.

    python -m ml.features.sentiment_head --corpus DIR [--out ml/features/assets/sentiment_head.json]

Corpus: the human-rated snippets of Hutto & Gilbert (ICWSM 2014) that ship in the source
distribution of the PyPI package vaderSentiment==3.3.2 (MIT;
``additional_resources/hutto_ICWSM_2014.tar.gz``, files ``*_GroundTruth.txt``: id, mean
rating of 20 raters in [-4, 4], text; tweets, movie-review, Amazon-review and NYT-editorial
snippets; the texts come from those sources and the package's README asks for a citation).
``make sentiment-head`` downloads and unpacks it. Snippets rated exactly 0 are dropped; the
label is rating > 0. Split: a text is held out when the first hex digit of its sha256 is 0-2
(3/16, about 19%), so the split never depends on order or a seed. The head (384 weights and
an intercept, as numbers in JSON with its provenance and held-out AUCs) is committed and
read by ``SentimentTransformer(model_name="minilm-logreg")``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import pandas as pd

from ml.features.embeddings import embed, model_version

HEAD_PATH = Path(__file__).resolve().parent / "assets" / "sentiment_head.json"
EMBEDDING = "all-MiniLM-L6-v2-int8"


def read_corpus(folder: Path) -> pd.DataFrame:
    frames = []
    for path in sorted(folder.glob("*_GroundTruth.txt")):
        rows = [
            line.rstrip("\n").split("\t", 2)
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
        ]
        frame = pd.DataFrame([r for r in rows if len(r) == 3], columns=["id", "rating", "text"])
        frames.append(frame.assign(source=path.name.split("_")[0], rating=frame.rating.astype(float)))
    if not frames:
        raise SystemExit(f"no *_GroundTruth.txt files in {folder}")
    corpus = pd.concat(frames, ignore_index=True)
    corpus = corpus[corpus.rating != 0].reset_index(drop=True)
    corpus["label"] = (corpus.rating > 0).astype(int)
    corpus["held_out"] = [hashlib.sha256(t.encode()).hexdigest()[0] in "012" for t in corpus.text]
    return corpus


def load_head() -> dict:
    return json.loads(HEAD_PATH.read_text())


def main(argv: list[str] | None = None) -> int:
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.metrics import roc_auc_score

    from ml.features.text import SentimentTransformer

    parser = argparse.ArgumentParser(
        prog="python -m ml.features.sentiment_head", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--corpus", type=Path, required=True, help="folder with the *_GroundTruth.txt files")
    parser.add_argument("--out", type=Path, default=HEAD_PATH)
    args = parser.parse_args(argv)
    corpus = read_corpus(args.corpus)
    train, test = corpus[~corpus.held_out], corpus[corpus.held_out]
    X_train, X_test = embed(train.text.tolist()), embed(test.text.tolist())
    head = LogisticRegressionCV(Cs=10, cv=5, max_iter=2000, scoring="roc_auc").fit(X_train, train.label)
    learned = head.predict_proba(X_test)[:, 1]
    vader = SentimentTransformer("vader").fit(test[["text"]]).transform(test[["text"]]).ravel()
    per_source = {
        source: {
            "n": len(part),
            "auc_learned": float(roc_auc_score(part.label, learned[test.source.to_numpy() == source])),
            "auc_vader": float(roc_auc_score(part.label, vader[test.source.to_numpy() == source])),
        }
        for source, part in test.groupby("source")
    }
    payload = {
        "model": "minilm-logreg",
        "embedding": model_version(EMBEDDING),
        "coef": [float(c) for c in head.coef_[0]],
        "intercept": float(head.intercept_[0]),
        "C": float(head.C_[0]),
        "corpus": "Hutto & Gilbert ICWSM 2014 human-rated snippets (vaderSentiment==3.3.2 sdist, MIT)",
        "split": "held out when sha256(text) starts with 0, 1 or 2",
        "n_train": len(train),
        "n_held_out": len(test),
        "held_out_auc_learned": float(roc_auc_score(test.label, learned)),
        "held_out_auc_vader": float(roc_auc_score(test.label, vader)),
        "held_out_by_source": per_source,
    }
    args.out.write_text(json.dumps(payload, indent=1) + "\n")
    print(
        f"sentiment head: {len(train)} train / {len(test)} held-out snippets; held-out ROC AUC "
        f"learned {payload['held_out_auc_learned']:.4f} vs VADER {payload['held_out_auc_vader']:.4f}; "
        f"wrote {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
