"""Does a translator pick the product sense? Scored on a table of product words.

The table (tab-separated, one column per ISO 639-1 code, ``|`` between accepted
forms, ``#`` comments) lists colours, sizes, materials, product types and units.
For each language L and row, the first L form is translated into English and
the first English form into L; a translation is right when it contains one of
the accepted forms as a whole word (anywhere, for Chinese and Japanese).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..translate.base import Translator
from ..translate.entries import lookup_key

_CJK = ("zh", "ja")
_ARTICLE = {"ar": "(?:ال)?"}  # Arabic writes the definite article onto the word
# Inflection endings a correct translation may carry ("schwarze Jacke", "rojas").
_ENDINGS = {
    "en": "(?:s|es)?",
    "de": "(?:e|er|es|en|em|s)?",
    "fr": "(?:e|s|es)?",
    "es": "(?:s|es|a|as|o|os)?",
    "pt": "(?:s|es|a|as|o|os)?",
    "it": "(?:i|e|a|o)?",
    "nl": "(?:e|en|s)?",
}


@dataclass(frozen=True)
class WordTable:
    languages: tuple[str, ...]
    rows: tuple[dict[str, tuple[str, ...]], ...]


@dataclass
class PairScore:
    src: str
    tgt: str
    right: int = 0
    total: int = 0
    misses: list[tuple[str, str, str]] = field(default_factory=list)  # (word, got, expected)

    @property
    def accuracy(self) -> float:
        return self.right / self.total if self.total else 0.0


def load_word_table(path: Path) -> WordTable:
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.startswith("#")]
    header = tuple(lines[0].split("\t"))
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        cells = line.split("\t")
        if len(cells) != len(header):
            raise ValueError(f"{path}: row {number} has {len(cells)} columns, the header {len(header)}")
        rows.append({lang: tuple(f.strip() for f in cell.split("|") if f.strip()) for lang, cell in zip(header, cells)})
    return WordTable(header, tuple(rows))


def contains_form(output: str, forms: tuple[str, ...], lang: str) -> bool:
    """True when ``output`` holds one of ``forms`` (a whole word, or a substring for CJK)."""
    out = lookup_key(output, lang)  # the lexicon's own folding: case, and Russian ё as е
    for form in forms:
        f = lookup_key(form, lang)
        if lang in _CJK:
            if f in out:
                return True
        elif re.search(rf"(?<!\w){_ARTICLE.get(lang, '')}{re.escape(f)}{_ENDINGS.get(lang, '')}(?!\w)", out):
            return True
    return False


def score_senses(translator: Translator, table: WordTable, languages: list[str] | None = None) -> list[PairScore]:
    """Per language: L -> English and English -> L, over every row of the table."""
    scores: list[PairScore] = []
    for lang in languages or [lang for lang in table.languages if lang != "en"]:
        rows = [r for r in table.rows if r.get(lang) and r.get("en")]
        for src, tgt in ((lang, "en"), ("en", lang)):
            if not translator.backend.supports(src, tgt):
                continue
            words = [r[src][0] for r in rows]
            outputs = translator.translate(words, src, tgt)
            score = PairScore(src, tgt)
            for row, word, got in zip(rows, words, outputs, strict=True):
                score.total += 1
                if contains_form(got, row[tgt], tgt):
                    score.right += 1
                else:
                    score.misses.append((word, got, "|".join(row[tgt])))
            scores.append(score)
    return scores
