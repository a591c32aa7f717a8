"""Text normalisation shared by ingest and query, and protected-token extraction.

Both sides must see the same characters, or a query and the product it names
drift apart: NFKC (which also folds full-width forms), control and format
characters dropped, whitespace collapsed. Protected tokens (brands, model
numbers, sizes, units) are found here so every translator can keep them intact.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

MAX_TEXT_CHARS = 20_000
_KEEP_FORMAT = {"\u200d"}  # zero-width joiner holds emoji sequences together
_WS = re.compile(r"\s+")


def normalize(text: str, max_chars: int = MAX_TEXT_CHARS) -> str:
    """NFKC, width folding, control/format characters removed, whitespace collapsed."""
    if not isinstance(text, str):
        raise TypeError(f"expected text, got {type(text).__name__}")
    # Lone surrogates (from broken UTF-16 or bad decoding) cannot be encoded: replace them.
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = unicodedata.normalize("NFKC", text)
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat == "Cc":
            out.append(" " if ch in "\t\n\r\x0b\x0c" else "")
        elif cat == "Cf" and ch not in _KEEP_FORMAT:
            continue
        elif cat in ("Zl", "Zp"):
            out.append(" ")
        else:
            out.append(ch)
    text = _WS.sub(" ", "".join(out)).strip()
    if len(text) > max_chars:
        cut = text.rfind(" ", 0, max_chars)
        text = text[: cut if cut > max_chars * 0.8 else max_chars]
    return text


def fold(text: str) -> str:
    """Case-folded form for matching (ß -> ss, İ -> i̇)."""
    return normalize(text).casefold()


# ----------------------------------------------------------- protected tokens --

_UNITS = (
    "tb|gb|mb|kb|mah|wh|kwh|w|kw|v|mv|a|ma|hz|khz|mhz|ghz|mm|cm|m|km|in|inch|ft|"
    "ml|cl|l|g|kg|mg|oz|lb|lbs|k|p|fps|mp|db|pcs|pc|pack|x"
)
_QUANTITY = re.compile(rf"(?<![\w.])\d+(?:[.,]\d+)?\s?(?:{_UNITS})(?![^\W\d_])", re.IGNORECASE)
# Letters and digits mixed in one token: A2172, SM-G991B, WH-1000XM4, RTX4090, 5G.
_MODEL = re.compile(r"(?<![\w-])(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[A-Za-z0-9]+(?:[-/][A-Za-z0-9]+)*(?![\w-])")
# A Latin word followed by a number or model token: "iPhone 12", "Galaxy S21", "Pixel 7a".
_NAME_NUMBER = re.compile(
    r"(?<![\w])([A-Za-z][A-Za-z+]*)\s(\d{1,4}[A-Za-z]{0,3}|[A-Za-z]{1,2}\d{1,4}[A-Za-z]{0,3})(?![\w])"
)
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9&'+.-]*[A-Za-z0-9+]|[A-Za-z]")
_NON_LATIN_SCRIPT = re.compile(r"[\u0400-\u04ff\u0600-\u06ff\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


@dataclass(frozen=True)
class Protected:
    start: int
    end: int
    text: str
    kind: str  # quantity | model | name_number | brand | latin


def protected_tokens(text: str, brands: Iterable[str] = ()) -> list[Protected]:
    """Spans of ``text`` that no translator may change, non-overlapping, in order.

    Latin-script words inside CJK, Arabic or Cyrillic text are protected too: in
    such text they are nearly always brands or model names.
    """
    found: list[Protected] = []

    def add(start: int, end: int, kind: str) -> None:
        if start < end and not any(p.start < end and start < p.end for p in found):
            found.append(Protected(start, end, text[start:end], kind))

    for name in sorted({b.strip() for b in brands if b and b.strip()}, key=len, reverse=True):
        pattern = re.compile(rf"(?<!\w){re.escape(name)}(?!\w)", re.IGNORECASE)
        for m in pattern.finditer(text):
            add(m.start(), m.end(), "brand")
    for m in _QUANTITY.finditer(text):
        add(m.start(), m.end(), "quantity")
    for m in _NAME_NUMBER.finditer(text):
        # "size 38" is a phrase to translate, "iPhone 12" a name: only keep names
        # whose word has a capital letter.
        if any(c.isupper() for c in m.group(1)):
            add(m.start(), m.end(), "name_number")
    for m in _MODEL.finditer(text):
        add(m.start(), m.end(), "model")
    if _NON_LATIN_SCRIPT.search(text):
        for m in _LATIN_WORD.finditer(text):
            add(m.start(), m.end(), "latin")
    return sorted(found, key=lambda p: p.start)


def protected_strings(text: str, brands: Iterable[str] = ()) -> list[str]:
    return [p.text for p in protected_tokens(text, brands)]
