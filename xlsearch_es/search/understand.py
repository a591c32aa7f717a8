"""Query understanding: normalise, detect the language, keep protected tokens,
translate into the index's languages. Embedding is left to the caller so it
can overlap with the BM25 request. Each stage is timed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..errors import XLSearchError
from ..text.langid import LanguageDetector
from ..text.normalize import normalize, protected_strings
from ..translate.base import Translator, check_language

MAX_QUERY_CHARS = 256  # shopper queries are short; longer input is cut at a word boundary


@dataclass
class QueryAnalysis:
    original: str
    text: str
    lang: str
    truncated: bool
    protected: list[str]
    translations: dict[str, str]
    timings_ms: dict[str, float] = field(default_factory=dict)


def analyze(
    query: str,
    languages: list[str],
    translator: Translator,
    detector: LanguageDetector,
    lang: str | None = None,
    max_chars: int = MAX_QUERY_CHARS,
    translate: bool = True,
) -> QueryAnalysis:
    """``languages``: the index languages the query should be expressed in. With
    ``translate=False`` only the query's own language keeps its text (used to
    measure what translating documents alone achieves)."""
    t0 = time.perf_counter()
    if not isinstance(query, str):
        raise XLSearchError("the query must be text")
    full = normalize(query, max_chars=max(len(query), 1))
    if not full:
        raise XLSearchError("the query is empty")
    text = normalize(full, max_chars=max_chars)
    truncated = len(text) < len(full)
    t1 = time.perf_counter()
    if lang:
        detected_lang = check_language(lang)
    else:
        detected_lang = detector.detect(text, prefer=languages or ["en"]).lang
    t2 = time.perf_counter()
    protected = protected_strings(text)
    translations: dict[str, str] = {}
    for tgt in languages:
        if tgt == detected_lang:
            translations[tgt] = text
        elif translate and translator.backend.supports(detected_lang, tgt):
            out = translator.translate([text], detected_lang, tgt)[0]
            if out and out != text:
                translations[tgt] = out
    t3 = time.perf_counter()
    return QueryAnalysis(
        original=query,
        text=text,
        lang=detected_lang,
        truncated=truncated,
        protected=protected,
        translations=translations,
        timings_ms={"normalize": (t1 - t0) * 1e3, "detect": (t2 - t1) * 1e3, "translate": (t3 - t2) * 1e3},
    )
