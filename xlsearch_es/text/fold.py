"""Words and their folded form, shared by highlighting, synonyms and attributes."""

from __future__ import annotations

import re
import unicodedata

WORD = re.compile(r"[^\W_]+")


def fold(word: str) -> str:
    """Case, width and accents folded: what a shopper would call the same word."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))
