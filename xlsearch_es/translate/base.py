"""The translation interface and what every backend shares.

A backend only turns text into text. ``Translator`` wraps any backend with the
parts that must not differ between them: normalisation, protected tokens
masked before and restored after (a backend that drops a placeholder still
gets the token back), deduplication, and the persistent translation memory.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..errors import XLSearchError
from ..text.normalize import normalize, protected_tokens
from .memory import TranslationMemory

LANGUAGE_NAMES = {
    "ar": "Arabic",
    "de": "German",
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "it": "Italian",
    "ja": "Japanese",
    "ko": "Korean",
    "nl": "Dutch",
    "pl": "Polish",
    "pt": "Portuguese",
    "ru": "Russian",
    "tr": "Turkish",
    "zh": "Chinese",
}
_CODE = re.compile(r"^[a-z]{2,3}$")
PLACEHOLDER = "⟦{}⟧"
_PLACEHOLDER_RE = re.compile(r"⟦(\d+)⟧")


def check_language(code: str) -> str:
    code = (code or "").strip().lower()
    if not _CODE.match(code):
        raise XLSearchError(f"unknown language code {code!r}: use an ISO 639-1 code such as en, zh, de")
    return code


class Backend(ABC):
    """Turns masked text into masked text for one (source, target) pair."""

    name: str = "backend"

    @abstractmethod
    def fingerprint(self) -> str:
        """Identifies the backend and its data/weights, for the translation memory."""

    def supports(self, src: str, tgt: str) -> bool:
        return True

    def word_languages(self, word: str) -> frozenset[str]:
        """The languages whose vocabulary holds ``word`` (evidence for language ID);
        a backend without a vocabulary knows none."""
        return frozenset()

    @abstractmethod
    def translate_masked(self, texts: list[str], src: str, tgt: str) -> list[str]:
        """Translate texts that contain ``⟦n⟧`` placeholders; keep them if possible."""

    def translate_in_context(self, texts: list[str], src: str, tgt: str, senses: SenseChooser) -> list[str]:
        """As ``translate_masked``, with ``senses`` picking among a word's readings where the
        backend has several (a dictionary does; a model reads context itself)."""
        return self.translate_masked(texts, src, tgt)


class SenseChooser(Protocol):
    """Picks which of a word's readings in ``tgt`` the text means (search/senses.py)."""

    def handles(self, tgt: str) -> bool:
        """Whether this chooser decides readings into ``tgt`` (else the backend's own choice)."""
        ...

    def prepare(self, tgt: str, words: Sequence[Sequence[str]]) -> None:
        """Every word's readings before any choice, so evidence is gathered in one go."""
        ...

    def choose(self, tgt: str, readings: Sequence[str]) -> int:
        """Index into ``readings``, which come in the dictionary's own order."""
        ...


@dataclass(frozen=True)
class Translation:
    source: str
    text: str
    src_lang: str
    tgt_lang: str

    def as_dict(self) -> dict[str, str]:
        return {"source": self.source, "text": self.text, "src_lang": self.src_lang, "tgt_lang": self.tgt_lang}


def mask(text: str, brands: Iterable[str] = ()) -> tuple[str, list[str]]:
    """Replace protected tokens by numbered placeholders."""
    spans = protected_tokens(text, brands)
    out, kept, last = [], [], 0
    for i, span in enumerate(spans):
        out.append(text[last : span.start])
        out.append(PLACEHOLDER.format(i))
        kept.append(span.text)
        last = span.end
    out.append(text[last:])
    return "".join(out), kept


def unmask(text: str, kept: Sequence[str]) -> str:
    """Put protected tokens back; any the backend lost are appended, none invented."""
    seen: set[int] = set()

    def put(m: re.Match[str]) -> str:
        i = int(m.group(1))
        if i < len(kept) and i not in seen:
            seen.add(i)
            return kept[i]
        return ""

    restored = _PLACEHOLDER_RE.sub(put, text)
    missing = [kept[i] for i in range(len(kept)) if i not in seen]
    if missing:
        restored = f"{restored} {' '.join(missing)}"
    return re.sub(r"\s+", " ", restored).strip()


class Translator:
    """A backend plus masking, deduplication and translation memory."""

    def __init__(self, backend: Backend, memory: TranslationMemory | None = None):
        self.backend = backend
        self.memory = memory
        self.stats = {"translated": 0, "memory_hits": 0}

    @property
    def name(self) -> str:
        return self.backend.name

    def translate(
        self,
        texts: Sequence[str],
        src: str,
        tgt: str,
        brands: Iterable[str] = (),
        senses: SenseChooser | None = None,
    ) -> list[str]:
        """Translate ``texts`` from ``src`` to ``tgt``; same order, same length. With
        ``senses`` (a query's context) the memory is bypassed: the choice depends on
        the catalog, which changes, not on the text alone."""
        src, tgt = check_language(src), check_language(tgt)
        clean = [normalize(t) for t in texts]
        if src == tgt or not self.backend.supports(src, tgt):
            return clean
        brands = tuple(brands)
        if senses is not None:
            masked_ctx = [mask(t, brands) for t in clean]
            raw_ctx = self.backend.translate_in_context([m for m, _ in masked_ctx], src, tgt, senses)
            self.stats["translated"] += len(clean)
            return [unmask(r, kept) or t for t, r, (_, kept) in zip(clean, raw_ctx, masked_ctx)]
        unique = [t for t in dict.fromkeys(clean) if t]
        fp = self.backend.fingerprint()
        done: dict[str, str] = self.memory.get_many(fp, src, tgt, unique) if self.memory else {}
        self.stats["memory_hits"] += len(done)
        todo = [t for t in unique if t not in done]
        if todo:
            masked = [mask(t, brands) for t in todo]
            raw = self.backend.translate_masked([m for m, _ in masked], src, tgt)
            fresh = {t: unmask(r, kept) or t for t, r, (_, kept) in zip(todo, raw, masked)}
            if self.memory:
                self.memory.put_many(fp, src, tgt, fresh)
            done.update(fresh)
            self.stats["translated"] += len(todo)
        return [done.get(t, t) for t in clean]

    def translate_records(self, texts: Sequence[str], src: str, tgt: str) -> list[Translation]:
        outs = self.translate(texts, src, tgt)
        return [Translation(normalize(s), o, src, tgt) for s, o in zip(texts, outs)]


class NoneBackend(Backend):
    """No translation: the text passes through (normalised)."""

    name = "none"

    def fingerprint(self) -> str:
        return "none"

    def supports(self, src: str, tgt: str) -> bool:
        return False

    def translate_masked(self, texts: list[str], src: str, tgt: str) -> list[str]:
        return list(texts)
