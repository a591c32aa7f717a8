"""Language identification for queries and records that do not say their language.

Script decides first: kana means Japanese, hangul Korean, Han alone Chinese,
Arabic letters Arabic. These rules are right even for a two-character query,
where statistical models are weakest. Latin and Cyrillic text goes to
py3langid (its model ships in the wheel), restricted to the languages we serve;
its probabilities are combined with how often each language uses the query's
words (wordfreq; text/word_usage.py), dictionary evidence (a word that only some
languages' dictionaries hold counts for them) and the preferred languages
(the index's). Shopper queries are short, so the answer keeps its runner-up:
a query that stays ambiguous is translated from both (search/understand.py).
Measured on the shared cikm queries (train and validation splits; README).
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .word_usage import WordUsage

DEFAULT_CANDIDATES: tuple[str, ...] = (
    "en",
    "de",
    "es",
    "fr",
    "it",
    "pt",
    "pl",
    "nl",
    "sv",
    "da",
    "no",
    "fi",
    "cs",
    "ro",
    "hu",
    "tr",
    "id",
    "vi",
    "ru",
    "uk",
    "bg",
)
CYRILLIC_LANGS = ("ru", "uk", "bg")


# Weights of the evidence, chosen on the cikm train+validation queries (never the test split):
# each dictionary word adds DICTIONARY_WEIGHT to the log-probability of the languages that hold it,
# and word usage adds USAGE_WEIGHT times its log frequency ratio (text/word_usage.py).
DICTIONARY_WEIGHT = 0.75
USAGE_WEIGHT = 1.0
EPSILON = 0.01
# A runner-up this close (probability ratio) keeps the query ambiguous: both are used.
AMBIGUOUS_RATIO = 0.5
_WORD = re.compile(r"[^\W\d_]{3,}")
_USAGE_WORD = re.compile(r"[^\W\d_]{2,}")

Vocabulary = Callable[[str], frozenset[str]]  # word -> languages whose dictionary holds it


@dataclass(frozen=True)
class Detection:
    lang: str
    confidence: float
    method: str  # script | model | fallback
    scores: tuple[tuple[str, float], ...] = ()  # candidates' probabilities, best first (model answers)

    @property
    def runner_up(self) -> str | None:
        """The second candidate when it is nearly as likely (the query is ambiguous), else None."""
        if len(self.scores) < 2 or self.scores[0][1] <= 0:
            return None
        lang, prob = self.scores[1]
        return lang if prob / self.scores[0][1] >= AMBIGUOUS_RATIO else None

    def probabilities(self) -> dict[str, float]:
        """Language -> probability (the detected language alone when the answer is certain)."""
        return dict(self.scores) if self.scores else {self.lang: 1.0}

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"lang": self.lang, "confidence": round(self.confidence, 4), "method": self.method}
        if self.scores:
            out["scores"] = {lg: round(p, 4) for lg, p in self.scores}
        return out


def _script_counts(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for ch in text:
        if not ch.isalpha():
            continue
        cp = ord(ch)
        if 0x3040 <= cp <= 0x30FF or 0x31F0 <= cp <= 0x31FF or 0xFF66 <= cp <= 0xFF9D:
            key = "kana"
        elif 0xAC00 <= cp <= 0xD7AF or 0x1100 <= cp <= 0x11FF or 0x3130 <= cp <= 0x318F:
            key = "hangul"
        elif 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0xF900 <= cp <= 0xFAFF:
            key = "han"
        else:
            name = unicodedata.name(ch, "")
            key = name.split(" ")[0].lower() if name else "other"
        counts[key] = counts.get(key, 0) + 1
    return counts


_SCRIPT_LANG = {
    "arabic": "ar",
    "hebrew": "he",
    "thai": "th",
    "greek": "el",
    "devanagari": "hi",
    "armenian": "hy",
    "georgian": "ka",
    "bengali": "bn",
    "tamil": "ta",
}


class LanguageDetector:
    """Script rules + a restricted py3langid model + word usage; one instance per candidate set."""

    def __init__(
        self,
        candidates: Sequence[str] = DEFAULT_CANDIDATES,
        fallback: str = "en",
        min_confidence: float = 0.3,
        vocabulary: Vocabulary | None = None,
        word_usage: bool = True,
    ):
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        self.fallback = fallback
        self.min_confidence = min_confidence
        self.vocabulary = vocabulary
        self.usage = WordUsage(candidates) if word_usage else None
        self._latin = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        self._latin.set_languages([c for c in candidates if c not in CYRILLIC_LANGS] or ["en"])
        cyr = [c for c in candidates if c in CYRILLIC_LANGS] or ["ru"]
        self._cyrillic = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        self._cyrillic.set_languages(cyr if len(cyr) > 1 else cyr + ["uk"])
        self._lock = threading.Lock()  # the identifier reuses internal buffers

    def detect(self, text: str, prefer: Sequence[str] = (), prefer_factor: float = 2.0) -> Detection:
        """Language of ``text``; ``prefer`` languages (say, the index's) win close calls."""
        counts = _script_counts(text)
        letters = sum(counts.values())
        if letters == 0:
            return Detection(self.fallback, 0.0, "fallback")
        if counts.get("kana"):
            return Detection("ja", 0.99, "script")
        if counts.get("hangul", 0) >= counts.get("han", 0) and counts.get("hangul"):
            return Detection("ko", 0.99, "script")
        if counts.get("han", 0) / letters >= 0.3:
            return Detection("zh", 0.95, "script")
        top_script = max(counts, key=lambda script: counts[script])
        if top_script in _SCRIPT_LANG:
            return Detection(_SCRIPT_LANG[top_script], 0.95, "script")
        model = self._cyrillic if top_script == "cyrillic" else self._latin
        with self._lock:
            ranked = model.rank(text)
        ranked_langs = [str(lg) for lg, _ in ranked]
        evidence = self._dictionary_evidence(text, ranked_langs)
        usage = self.usage.log_ratios(_USAGE_WORD.findall(text.casefold()), ranked_langs) if self.usage else {}
        logits = {
            str(lg): math.log(float(p) + EPSILON)
            + DICTIONARY_WEIGHT * evidence.get(lg, 0.0)
            + USAGE_WEIGHT * usage.get(lg, 0.0)
            + (math.log(prefer_factor) if lg in prefer else 0.0)
            for lg, p in ranked
        }
        top = max(logits.values())
        weights = {lg: math.exp(v - top) for lg, v in logits.items()}
        total = sum(weights.values())
        scores = tuple(sorted(((lg, w / total) for lg, w in weights.items()), key=lambda x: -x[1])[:3])
        lang, prob = scores[0]
        # Short texts make the model guess; scale trust by length.
        confidence = prob * min(1.0, 0.4 + letters / 25)
        method = "model" if confidence >= self.min_confidence or top_script == "cyrillic" else "uncertain"
        return Detection(lang, confidence, method, scores)

    def _dictionary_evidence(self, text: str, candidates: Sequence[str]) -> dict[str, float]:
        """Per language, the share of the query's words only some candidates' dictionaries hold."""
        if self.vocabulary is None:
            return {}
        out: dict[str, float] = {}
        for word in _WORD.findall(text.casefold()):
            holders = self.vocabulary(word) & set(candidates)
            if holders and len(holders) < len(candidates):
                for lg in holders:
                    out[lg] = out.get(lg, 0.0) + 1.0 / len(holders)
        return out
