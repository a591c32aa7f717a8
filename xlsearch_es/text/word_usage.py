"""How often each language uses a word: evidence for language ID of short queries.

A dictionary holds lemmas ("brinquedo", "adulte"); shoppers type inflected words
("brinquedos", "adultes") and loan words. wordfreq's small lists (the words used at
least once per million in each language's web, news, subtitles and books text;
shipped in the wheel, about 4 MB a language in memory) hold both. A word no
candidate uses (a brand, a typo) says nothing; a word some candidates use counts,
per candidate, as the log of how often it uses it against the candidate that uses
it most, with a floor for candidates that never do.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence

# wordfreq's code where it differs from ISO 639-1 as we use it.
_WORDFREQ_CODE = {"no": "nb"}
# Frequency given to a word a candidate's list does not hold (the lists stop at 1e-6),
# chosen on the cikm train+validation queries (benchmarks/bench_langid.py).
MISSING_FREQUENCY = 3e-8


class WordUsage:
    """Per-language word frequency tables, loaded on first use (once per detector)."""

    def __init__(self, languages: Sequence[str]):
        self.languages = tuple(languages)
        self._tables: dict[str, dict[str, float]] | None = None
        self._lock = threading.Lock()

    def _load(self) -> dict[str, dict[str, float]]:
        with self._lock:
            if self._tables is None:
                import wordfreq

                available = wordfreq.available_languages(wordlist="small")
                tables: dict[str, dict[str, float]] = {}
                for lang in self.languages:
                    code = _WORDFREQ_CODE.get(lang, lang)
                    if code in available:
                        tables[lang] = wordfreq.get_frequency_dict(code, wordlist="small")
                self._tables = tables
            return self._tables

    def log_ratios(self, words: Iterable[str], candidates: Sequence[str]) -> dict[str, float]:
        """Per candidate, the summed log(its frequency / the highest candidate's) over the
        words some candidate uses. Candidates without a list get the median of the others."""
        tables = self._load()
        scored = [c for c in candidates if c in tables]
        out = dict.fromkeys(candidates, 0.0)
        if not scored:
            return out
        for word in words:
            freqs = {c: tables[c].get(word, 0.0) for c in scored}
            top = max(freqs.values())
            if top <= 0.0:
                continue  # nobody uses it: a brand, a model number, a typo
            logs = {c: math.log((f + MISSING_FREQUENCY) / (top + MISSING_FREQUENCY)) for c, f in freqs.items()}
            middle = sorted(logs.values())[len(logs) // 2]
            for c in candidates:
                out[c] += logs.get(c, middle)
        return out
