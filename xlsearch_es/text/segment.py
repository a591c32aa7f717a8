"""Chinese and Japanese words, cut on the client, for clusters that cannot.

Without the smartcn or kuromoji plugins Elasticsearch's standard analyzer
indexes Chinese and Japanese one character at a time, so BM25 matches 色 in
any colour word and 裙 in any skirt. Text in those languages is segmented here
(lindera with CC-CEDICT for Chinese, MeCab/UniDic via fugashi for Japanese,
both PyPI wheels), case-folded, and written as space-separated words into a
field the cluster splits on whitespace only; queries are cut the same way.
Korean needs no help: it is written with spaces and the standard analyzer
keeps Hangul words whole.
"""

from __future__ import annotations

import re
import threading
from typing import Any

SEGMENTED_LANGUAGES = ("zh", "ja")
# The cluster's own word analyzers, where a plugin provides them: with one the
# client-side words are not needed for that language.
NATIVE_ANALYZERS = {"zh": "smartcn", "ja": "kuromoji", "ko": "nori"}
_SPACES = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w]+")


class Segmenter:
    """Lazily built tokenizers, shared by threads (the tokenizers are not thread-safe)."""

    def __init__(self) -> None:
        self._zh: Any = None
        self._ja: Any = None
        self._lock = threading.Lock()

    def words(self, text: str, lang: str) -> list[str]:
        """The words of ``text`` (punctuation dropped, case folded)."""
        if not text or not text.strip():
            return []
        if lang == "zh":
            surfaces = [t.surface for t in self.chinese_tokens(text)]
        elif lang == "ja":
            surfaces = [w.surface for w in self.japanese_words(text)]
        else:
            surfaces = text.split()
        return [w.casefold() for s in surfaces for w in _PUNCT.split(s) if w]

    def chinese_tokens(self, text: str) -> list[Any]:
        """lindera tokens (surface, and CC-CEDICT details the lexicon reads glosses from)."""
        with self._lock:
            return list(self._chinese().tokenize(text))

    def japanese_words(self, text: str) -> list[Any]:
        """fugashi words (surface, and UniDic features: part of speech, lemma)."""
        with self._lock:
            return list(self._japanese()(text))

    def segment(self, text: str, lang: str) -> str:
        """``text`` as space-separated words, ready for a whitespace-split field."""
        return " ".join(self.words(_SPACES.sub(" ", text), lang))

    def _chinese(self) -> Any:
        if self._zh is None:
            import lindera

            self._zh = lindera.TokenizerBuilder().set_dictionary("embedded://cc-cedict").build()
        return self._zh

    def _japanese(self) -> Any:
        if self._ja is None:
            import fugashi

            self._ja = fugashi.Tagger()
        return self._ja
