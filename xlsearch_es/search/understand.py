"""Query understanding: normalise, detect the language, keep protected tokens,
translate into the index's languages. Embedding is left to the caller so it
can overlap with the BM25 request. Each stage is timed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import XLSearchError
from ..text.langid import LanguageDetector
from ..text.normalize import normalize, protected_strings
from ..translate.base import SenseChooser, Translator, check_language

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
    # Language -> probability, where the detector was unsure of it (kNN fields are weighted by it).
    lang_scores: dict[str, float] = field(default_factory=dict)
    # An ambiguous query's translations from its runner-up language (BM25 matches them too).
    alternates: list[str] = field(default_factory=list)


def analyze(
    query: str,
    languages: list[str],
    translator: Translator,
    detector: LanguageDetector,
    lang: str | None = None,
    max_chars: int = MAX_QUERY_CHARS,
    translate: bool = True,
    senses: Callable[[str], SenseChooser] | None = None,
) -> QueryAnalysis:
    """``languages``: the index languages the query should be expressed in. With
    ``translate=False`` only the query's own language keeps its text (used to
    measure what translating documents alone achieves). ``senses`` makes the
    chooser of a word's readings for the query's text (search/senses.py)."""
    t0 = time.perf_counter()
    if not isinstance(query, str):
        raise XLSearchError("the query must be text")
    full = normalize(query, max_chars=max(len(query), 1))
    if not full:
        raise XLSearchError("the query is empty")
    text = normalize(full, max_chars=max_chars)
    truncated = len(text) < len(full)
    t1 = time.perf_counter()
    runner_up, scores = None, {}
    if lang:
        detected_lang = check_language(lang)
    else:
        detection = detector.detect(text, prefer=languages or ["en"])
        detected_lang, runner_up, scores = detection.lang, detection.runner_up, detection.probabilities()
    t2 = time.perf_counter()
    protected = protected_strings(text)
    chooser = senses(text) if senses and translate else None
    translations = _translate(text, detected_lang, languages, translator, chooser) if translate else {}
    if not translate and detected_lang in languages:
        translations[detected_lang] = text
    alternates = []
    if translate and runner_up:
        others = _translate(text, runner_up, [lg for lg in languages if lg != runner_up], translator, chooser)
        alternates = [t for t in dict.fromkeys(others.values()) if t not in translations.values()]
    t3 = time.perf_counter()
    return QueryAnalysis(
        original=query,
        text=text,
        lang=detected_lang,
        truncated=truncated,
        protected=protected,
        translations=translations,
        lang_scores=scores if len(scores) > 1 else {},
        alternates=alternates,
        timings_ms={"normalize": (t1 - t0) * 1e3, "detect": (t2 - t1) * 1e3, "translate": (t3 - t2) * 1e3},
    )


def _translate(
    text: str, src: str, languages: list[str], translator: Translator, senses: SenseChooser | None = None
) -> dict[str, str]:
    """The text in each of ``languages`` it can be brought into (itself in its own)."""
    out: dict[str, str] = {}
    for tgt in languages:
        if tgt == src:
            out[tgt] = text
        elif translator.backend.supports(src, tgt):
            translated = translator.translate([text], src, tgt, senses=senses)[0]
            if translated and translated != text:
                out[tgt] = translated
    return out
