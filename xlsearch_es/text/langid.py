"""Language identification for queries and records that do not say their language.

Script decides first: kana means Japanese, hangul Korean, Han alone Chinese,
Arabic letters Arabic. These rules are right even for a two-character query,
where statistical models are weakest. Latin and Cyrillic text goes to
py3langid (its model ships in the wheel), restricted to the languages we serve,
and a low-confidence answer falls back to a configured language.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Detection:
    lang: str
    confidence: float
    method: str  # script | model | fallback

    def as_dict(self) -> dict[str, object]:
        return {"lang": self.lang, "confidence": round(self.confidence, 4), "method": self.method}


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
    """Script rules + a restricted py3langid model; one instance per candidate set."""

    def __init__(
        self, candidates: Sequence[str] = DEFAULT_CANDIDATES, fallback: str = "en", min_confidence: float = 0.3
    ):
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        self.fallback = fallback
        self.min_confidence = min_confidence
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
        lang, prob = ranked[0]
        if prefer:
            boosted = [(lg, p * (prefer_factor if lg in prefer else 1.0)) for lg, p in ranked]
            best = max(boosted, key=lambda lp: lp[1])
            if best[0] != lang:
                lang, prob = best[0], dict(ranked)[best[0]]
        # Short texts make the model guess; scale trust by length.
        confidence = float(prob) * min(1.0, 0.4 + letters / 25)
        if confidence < self.min_confidence and top_script != "cyrillic":
            return Detection(self.fallback, confidence, "fallback")
        return Detection(str(lang), confidence, "model")
