"""Dictionary entries and their senses: reading dictd files, the candidate
translations an entry's text holds, and ranking them (round trips, product
vocabulary, word frequency, position in the entry)."""

from __future__ import annotations

import functools
import gzip
import math
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from ..text.product_vocab import is_product_word

_B64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}
# Where a target language has its own script, a candidate must be written in it.
SCRIPTS = {
    "ja": re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]"),
    "zh": re.compile(r"[\u4e00-\u9fff]"),
    "ar": re.compile(r"[\u0600-\u06ff]"),
    "ru": re.compile(r"[\u0400-\u04ff]"),
}
_NON_LATIN = re.compile(r"[\u0400-\u04ff\u0600-\u06ff\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_ANNOT = re.compile(r"<[^>]*>|\[[^\]]*\]|\{[^}]*\}|\([^)]*\)|/[^/]*/")
_SKIP_PREFIX = ("see:", "synonym", "antonym", "note:", "syn:", "ant:", '"')


def _b64(s: str) -> int:
    n = 0
    for c in s:
        n = n * 64 + _B64[c]
    return n


def read_dictd(index: Path, data: Path) -> Iterator[tuple[str, str]]:
    """(headword, entry text) pairs from a dictd index + .dict.dz."""
    raw = gzip.decompress(data.read_bytes()) if data.suffix == ".dz" else data.read_bytes()
    with index.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or parts[0].startswith("00database"):
                continue
            start, length = _b64(parts[1]), _b64(parts[2])
            yield parts[0], raw[start : start + length].decode("utf-8", errors="replace")


def entry_candidates(body: str, tgt: str) -> list[str]:
    """Translation candidates of one dictd entry, in the dictionary's order."""
    out: list[str] = []
    for line in body.split("\n")[1:]:
        text = line.strip()
        if not text or text.lower().startswith(_SKIP_PREFIX) or line.startswith("      "):
            continue
        text = re.sub(r"^(?:\d+|[IVX]+)\.\s*", "", text)
        if text.startswith("(") and text.endswith(")"):
            continue  # a part-of-speech line
        text = _ANNOT.sub(" ", text)
        for cand in re.split(r"[,;]", text):
            cand = re.sub(r"\s+", " ", cand).strip(" .:-\"'")
            cand = re.sub(r"^(?:\d+|[IVX]+)\.\s*", "", cand)  # "1. czerwony": numbered senses inside a line
            cand = re.sub(r"\s+\d+$", "", cand)  # "сталь 2." : the next sense's number, on the same line
            if not cand or len(cand.split()) > 5:
                continue
            script = SCRIPTS.get(tgt)
            if (script and not script.search(cand)) or (not script and _NON_LATIN.search(cand)):
                continue
            if cand not in out:
                out.append(cand)
    return out[:8]


@functools.lru_cache(maxsize=16)
def _frequencies(lang: str) -> dict[str, float]:
    """wordfreq's table for a language, looked up directly (no tokenizer needed)."""
    import wordfreq

    try:
        return wordfreq.get_frequency_dict(lang, wordlist="best")
    except (LookupError, ValueError):
        return {}


def zipf(text: str, lang: str) -> float:
    """Zipf frequency of a word or phrase (phrases: their rarest word)."""
    table = _frequencies(lang)
    words = text.casefold().split() or [text]
    freqs = [table.get(w, 0.0) for w in words]
    low = min(freqs) if freqs else 0.0
    return math.log10(low * 1e9) if low > 0 else 0.0


def lookup_key(text: str, lang: str) -> str:
    """The form headwords are stored and looked up in: case-folded, with Russian ё
    written е (as most people type it; ``lang`` is kept for rules to come)."""
    return text.casefold().strip().replace("ё", "е")


ROUND_TRIP_BONUS = 1.5
PRODUCT_BONUS = 1.5
POSITION_PENALTY = 0.25  # per place in the entry: dictionaries list the main sense early, not always first
# ... and more where no other direction can confirm a sense (en -> zh): then the
# entry's order is the best evidence there is.
UNCONFIRMED_POSITION_PENALTY = 0.45


def rank_candidates(
    cands: list[str], tgt: str, head: str | None = None, reverse: Mapping[str, list[str]] | None = None
) -> list[str]:
    """Best sense first: a common target word, early in the entry, that translates
    back to ``head`` (``reverse`` is the other direction's dictionary: "green" ->
    緑 is kept, "green" -> 羨ましい is not, since 羨ましい means "envious") and that
    shops use: into English, a word of ``text.product_vocab``; out of English, a
    word whose own senses are such words. Ties keep dictionary order."""

    def score(item: tuple[int, str]) -> float:
        pos, cand = item
        penalty = POSITION_PENALTY if reverse else UNCONFIRMED_POSITION_PENALTY
        value = zipf(cand, tgt) - penalty * pos - 0.3 * (len(cand.split()) - 1)
        if head is not None and reverse is not None:
            back = [lookup_key(b, "ru") for b in reverse.get(lookup_key(cand, tgt), ())]
            if head in back:  # the candidate's own entry lists the headword: the more so, the earlier
                value += ROUND_TRIP_BONUS * (1.0 if back.index(head) == 0 else 0.6)
            if tgt != "en" and back and is_product_word(head):
                # Out of English, the product sense is a candidate whose own main senses
                # include a shop word: gelb (booking, yellow card, yellow) over feige (fig,
                # recreant, funky, ... yellow); among several such, frequency decides.
                value += PRODUCT_BONUS * any(map(is_product_word, back[:3]))
        if tgt == "en" and is_product_word(cand):
            value += PRODUCT_BONUS
        return value

    return [c for _, c in sorted(enumerate(cands), key=score, reverse=True)]


def invert(entries: Mapping[str, list[str]], lang: str) -> dict[str, list[str]]:
    """The other direction of a one-way dictionary: each candidate (up to three
    words) becomes a headword whose candidates are the entries that listed it,
    those that listed it earliest first."""
    found: dict[str, list[tuple[int, str]]] = {}
    for head, cands in entries.items():
        for pos, cand in enumerate(cands[:6]):
            key = lookup_key(cand, lang)
            if key and len(key.split()) <= 3:
                found.setdefault(key, []).append((pos, head))
    return {key: [h for _, h in sorted(heads, key=lambda ph: ph[0])][:10] for key, heads in found.items()}
