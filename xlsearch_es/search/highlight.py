"""Highlights made on the client from the titles a page already carries.

A second highlight request to Elasticsearch cost one more round trip per
search (p50 ~12 ms, a third of the hybrid's time, in benchmarks/bench_query.py);
the titles are in the hits' ``_source`` already, so the query's words are marked
here instead, in microseconds. Matching is deliberately forgiving (case, accents,
full-width forms, a shared stem of 4+ letters such as "shoe"/"shoes") because it
only decides what to emphasise, never what ranks. Chinese and Japanese have no
spaces: a query's run of CJK characters is marked where it occurs whole, else
its two-character pieces are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from ..text.fold import WORD, fold

CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+")
MIN_STEM = 4  # "shoe" ~ "shoes", "robe" ~ "robes"; shorter words must match exactly
MAX_SUFFIX = 3


class QueryTerms:
    """The words of a query (and its translations), ready to be looked for."""

    def __init__(self, texts: Iterable[str]):
        self.words: set[str] = set()
        self.cjk: set[str] = set()
        for text in texts:
            for run in CJK.findall(text):
                self.cjk.add(run)
            for word in WORD.findall(CJK.sub(" ", text)):
                self.words.add(fold(word))
        # A title word matches a query word it extends, or one that extends it, by
        # up to MAX_SUFFIX letters: both looked up in sets, not compared pairwise.
        self._stems = {w for w in self.words if len(w) >= MIN_STEM}
        self._stems_of_longer = {
            w[:cut] for w in self.words for cut in range(max(MIN_STEM, len(w) - MAX_SUFFIX), len(w))
        }

    def _matches(self, word: str) -> bool:
        folded = fold(word)
        if folded in self.words or folded in self._stems_of_longer:
            return True
        return any(folded[:cut] in self._stems for cut in range(max(MIN_STEM, len(folded) - MAX_SUFFIX), len(folded)))

    def __bool__(self) -> bool:
        return bool(self.words or self.cjk)

    def _cjk_spans(self, text: str) -> list[tuple[int, int]]:
        spans = []
        for run in self.cjk:
            pieces = [run] if run in text else [run[i : i + 2] for i in range(len(run) - 1)] or [run]
            for piece in pieces:
                spans += [(m.start(), m.end()) for m in re.finditer(re.escape(piece), text)]
        return spans

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of ``text`` that match the query, merged and sorted."""
        found = [
            (m.start(), m.end())
            for m in WORD.finditer(text)
            if not CJK.fullmatch(m.group()) and self._matches(m.group())
        ]
        found += self._cjk_spans(text) if self.cjk else []
        merged: list[tuple[int, int]] = []
        for start, end in sorted(found):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        return merged

    def mark(self, text: str, pre: str = "<em>", post: str = "</em>") -> tuple[str, int]:
        """``text`` with the matches wrapped, and how many there were."""
        spans = self.spans(text)
        out, last = [], 0
        for start, end in spans:
            out += [text[last:start], pre, text[start:end], post]
            last = end
        out.append(text[last:])
        return "".join(out), len(spans)


def best_title_highlight(
    titles: Mapping[str, str], terms: QueryTerms, preferred: Iterable[str]
) -> tuple[str | None, str | None]:
    """The marked title and its language key: a preferred key (the original text,
    the query's language) when it matched at all, else the one with the most
    matches; None when no title matched."""
    if not terms:
        return None, None
    order = {key: i for i, key in enumerate(preferred)}
    scored = []
    for key, text in titles.items():
        if not isinstance(text, str) or not text:
            continue
        marked, count = terms.mark(text)
        if count:
            scored.append((key in order, -order.get(key, 0), count, key, marked))
    if not scored:
        return None, None
    _, _, _, key, marked = max(scored, key=lambda s: (s[0], s[1], s[2], [-ord(c) for c in s[3]]))
    return marked, key
