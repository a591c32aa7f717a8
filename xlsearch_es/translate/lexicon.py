"""Dictionary-based translation: the offline default.

Text is segmented (lindera + CC-CEDICT for Chinese, MeCab/UniDic via fugashi for
Japanese, a word regex elsewhere), then translated by longest-match phrase
lookup (up to four words) in the compiled lexicon, falling back to a light
de-inflection (plural and case endings). The default sense is the most common
target word among the dictionary's candidates. Placeholders, numbers and words
the dictionary lacks stay as they are. A pair without a direct dictionary is
bridged through English when both halves exist (de -> en -> zh).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import sqlite3
import threading
from pathlib import Path

from ..config import Settings
from ..errors import XLSearchError
from ..text.product_vocab import is_product_word
from ..text.segment import Segmenter
from .base import Backend, SenseChooser
from .dictionaries import ARTICLES, LEXICON_VERSION, lexicon_path
from .entries import lookup_key

_TOKEN = re.compile(r"⟦\d+⟧|[^\W_]+(?:[-'][^\W_]+)*|\S", re.UNICODE)
_PLACEHOLDER = re.compile(r"^⟦\d+⟧$")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
_HAN = re.compile(r"[\u3400-\u9fff]")
_MAX_PHRASE = 4
# Bump when the lookup logic changes, so translation memories and content
# hashes made by the old logic are not reused.
ALGORITHM_VERSION = 7
_JA_DROP_POS = {"助詞", "助動詞", "補助記号"}
_SUFFIXES: dict[str, tuple[tuple[str, str], ...]] = {
    "en": (("'s", ""), ("ies", "y"), ("es", ""), ("s", ""), ("ing", ""), ("ed", "")),
    "es": (("es", ""), ("s", ""), ("as", "o"), ("os", "o"), ("a", "o")),
    "pt": (("ões", "ão"), ("es", ""), ("s", ""), ("as", "o"), ("a", "o")),
    "fr": (("aux", "al"), ("es", ""), ("s", ""), ("x", "")),
    "it": (("che", "ca"), ("chi", "co"), ("ghe", "ga"), ("ghi", "go"), ("i", "o"), ("e", "a"), ("i", "e"), ("a", "o")),
    "de": (("en", ""), ("n", ""), ("e", ""), ("er", ""), ("s", ""), ("es", "")),
    "pl": (("ów", ""), ("a", "y"), ("e", "y"), ("ą", "y"), ("y", "a"), ("i", "a"), ("e", "a"), ("ie", "a"), ("a", "")),
    "nl": (("en", ""), ("s", ""), ("e", "")),
    "tr": (("ler", ""), ("lar", ""), ("leri", ""), ("ları", ""), ("si", ""), ("sı", ""), ("i", ""), ("ı", "")),
    "ru": (
        *(("ые", "ый"), ("ая", "ый"), ("ое", "ый"), ("ую", "ый"), ("ого", "ый"), ("ой", "ый"), ("ых", "ый")),
        *(("ие", "ий"), ("яя", "ий"), ("ее", "ий"), ("ами", ""), ("ями", "я"), ("ов", ""), ("ей", "")),
        *(("ы", ""), ("и", "а"), ("и", ""), ("а", ""), ("у", ""), ("е", ""), ("ом", ""), ("ах", "")),
    ),
}
# Arabic colour adjectives: the feminine fa'la' reads as the masculine af'al (سوداء -> أسود).
_AR_FEMININE = re.compile(r"^([\u0621-\u064a]{3})اء$")
# How many of a word's readings a context may choose among (the dictionary's first ones).
MAX_READINGS = 8
# Chinese structural particles: as words of their own they carry no meaning to translate,
# and lindera's CC-CEDICT keeps one homograph's entry for them (的 "aim", 了 "variant of
# 瞭", 吧 "smack!"), which would put those words into every translated query.
_ZH_PARTICLES = frozenset("的了吗呢吧啊呀嘛")
_CEDICT_SKIP = re.compile(r"^(CL:|variant of|old variant|surname|abbr\.|see |used in|\(|classifier)", re.I)


class LexiconBackend(Backend):
    name = "lexicon"

    def __init__(self, home: Path):
        path = lexicon_path(home)
        if not path.is_file():
            raise XLSearchError(f"no compiled lexicon at {path}; run 'xlsearch dictionaries install'")
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._lock = threading.Lock()
        rows = self._db.execute("SELECT src, tgt, entries FROM sources").fetchall()
        self.pairs = {(s, t) for s, t, n in rows if n}
        self._has_lemmas = bool(self._db.execute("SELECT 1 FROM sqlite_master WHERE name='lemmas'").fetchone())
        digest = hashlib.sha256(repr(sorted(rows)).encode()).hexdigest()[:10]
        self._fingerprint = f"lexicon-v{LEXICON_VERSION}.{ALGORITHM_VERSION}-{digest}"
        self._segmenter = Segmenter()  # lindera / fugashi, built on first Chinese / Japanese text
        if _module_available("lindera"):
            self.pairs.add(("zh", "en"))

    # -- interface ---------------------------------------------------------------
    def fingerprint(self) -> str:
        return self._fingerprint

    def supports(self, src: str, tgt: str) -> bool:
        return (src, tgt) in self.pairs or ((src, "en") in self.pairs and ("en", tgt) in self.pairs)

    def word_languages(self, word: str) -> frozenset[str]:
        """Languages with ``word`` as a dictionary headword (English: any English headword)."""
        return self._word_languages(word.casefold())

    @functools.lru_cache(maxsize=65536)  # noqa: B019 - one backend per process, words repeat
    def _word_languages(self, word: str) -> frozenset[str]:
        found = set()
        with self._lock:
            for src, tgt in sorted(self.pairs):
                if src == "zh" or src in found or (src != "en" and tgt != "en"):
                    continue
                key = lookup_key(word, src)
                query = "SELECT 1 FROM entries WHERE src = ? AND tgt = ? AND head = ? LIMIT 1"
                if self._db.execute(query, (src, tgt, key)).fetchone():  # the primary key: one lookup
                    found.add(src)
        return frozenset(found)

    def translate_masked(self, texts: list[str], src: str, tgt: str) -> list[str]:
        if (src, tgt) in self.pairs:
            return [self._translate_one(t, src, tgt) for t in texts]
        pivot = [self._translate_one(t, src, "en") for t in texts]
        return [self._translate_one(t, "en", tgt) for t in pivot]

    def translate_in_context(self, texts: list[str], src: str, tgt: str, senses: SenseChooser) -> list[str]:
        if (src, tgt) in self.pairs:
            return [self._translate_one(t, src, tgt, senses) for t in texts]
        pivot = [self._translate_one(t, src, "en", senses) for t in texts]
        return [self._translate_one(t, "en", tgt, senses) for t in pivot]

    # -- segmentation -------------------------------------------------------------
    def _segments(self, text: str, src: str) -> list[tuple[str, str | None]]:
        """(surface, lookup form or None when it must be kept) per segment."""
        out: list[tuple[str, str | None]] = []
        for piece in _TOKEN.findall(text):
            if _PLACEHOLDER.match(piece) or not any(c.isalpha() for c in piece):
                out.append((piece, None))
            elif src == "zh" and _HAN.search(piece):
                out.extend(self._zh_segments(piece))
            elif src == "ja" and _CJK.search(piece):
                out.extend(self._ja_segments(piece))
            else:
                out.append((piece, lookup_key(piece, src)))
        return out

    def _zh_segments(self, text: str) -> list[tuple[str, str | None]]:
        """Lindera's tokens with their CC-CEDICT glosses. A token the dictionary lacks (digits,
        Latin letters: "小米10", "iPhone12") has "*" for a gloss and is kept as it is."""
        segs: list[tuple[str, str | None]] = []
        for tok in self._segmenter.chinese_tokens(text):
            if tok.surface in _ZH_PARTICLES:
                continue
            gloss = "/".join(d for d in list(tok.details or [])[7:] if d.strip("*/ "))
            if f"variant of {tok.surface}[" in gloss:
                gloss = self._english_heads(tok.surface) or gloss
            segs.append((tok.surface, "zhgloss:" + gloss if gloss.strip("/ ") else None))
        return segs

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one backend per process
    def _english_heads(self, word: str) -> str:
        """A gloss for a character whose lindera entry is another character's (年 comes with
        秊's "grain/harvest"): the English words the en->zh dictionary renders as it, most
        used first ("year", then "annum"). Empty without that dictionary."""
        if ("en", "zh") not in self.pairs:
            return ""
        import wordfreq

        with self._lock:
            rows = self._db.execute("SELECT head FROM entries WHERE src='en' AND tgt='zh' AND best=?", (word,))
            heads = [r[0] for r in rows.fetchall()]
        return "/".join(sorted(heads, key=lambda h: (-wordfreq.word_frequency(h, "en"), h)))

    def _ja_segments(self, text: str) -> list[tuple[str, str | None]]:
        segs: list[tuple[str, str | None]] = []
        for w in self._segmenter.japanese_words(text):
            pos = getattr(w.feature, "pos1", "") or ""
            if pos in _JA_DROP_POS:
                continue
            lemma = (getattr(w.feature, "lemma", None) or w.surface).split("-")[0]
            segs.append((w.surface, w.surface if lemma == w.surface else f"{w.surface}\t{lemma}"))
        return segs

    # -- lookup -------------------------------------------------------------------
    @functools.lru_cache(maxsize=200_000)  # noqa: B019 - one backend per process; the cache lives as long
    def _lookup(self, src: str, tgt: str, key: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT best FROM entries WHERE src=? AND tgt=? AND head=?", (src, tgt, key)
            ).fetchone()
        return row[0] if row else None

    def _word(self, src: str, tgt: str, key: str, senses: SenseChooser | None = None) -> str | None:
        if senses is not None and senses.handles(tgt):
            readings = self._readings(src, tgt, key)
            return readings[senses.choose(tgt, readings)] if len(readings) > 1 else next(iter(readings), None)
        if key.startswith("zhgloss:"):
            return _best_cedict_sense(key[8:]) if tgt == "en" else None
        forms = key.split("\t")
        for form in forms:
            hit = self._lookup(src, tgt, form)
            if hit:
                return hit
        article = ARTICLES.get(src)
        if article:  # "الأسود" and "أسود" are one word, with and without the article
            bare = forms[0][len(article) :] if forms[0].startswith(article) else article + forms[0]
            hit = self._lookup(src, tgt, bare)
            if hit:
                return hit
        # An inflected word can be read several ways ("negras": negra, the crotchet,
        # or negro, black); a reading in the shop's vocabulary wins, else the first.
        hits = [hit for form in self._inflected(src, forms[0]) if (hit := self._lookup(src, tgt, form))]
        return next((h for h in hits if tgt == "en" and is_product_word(h)), hits[0] if hits else None)

    @functools.lru_cache(maxsize=200_000)  # noqa: B019 - one backend per process
    def _lemma(self, src: str, form: str) -> str | None:
        """The lemma the compiled lexicon lists for an inflected form (dictionaries.py)."""
        if not self._has_lemmas:  # a lexicon compiled before lemmas (until it is compiled again)
            return None
        with self._lock:
            row = self._db.execute("SELECT lemma FROM lemmas WHERE src=? AND form=?", (src, form)).fetchone()
        return row[0] if row else None

    def _inflected(self, src: str, form: str) -> list[str]:
        """The forms an inflected word may come from: its lemma ("было" -> быть), then
        regular endings taken off ("negras" -> negra, negro)."""
        lemma = self._lemma(src, form)
        out = [lemma] if lemma else []
        out += [
            form[: -len(stem_from)] + stem_to
            for stem_from, stem_to in _SUFFIXES.get(src, ())
            if len(form) > len(stem_from) + 2 and form.endswith(stem_from)
        ]
        feminine = _AR_FEMININE.match(form) if src == "ar" else None
        return list(dict.fromkeys(out + (["أ" + feminine.group(1)] if feminine else [])))

    def _entry(self, src: str, tgt: str, key: str) -> list[str]:
        with self._lock:
            row = self._db.execute(
                "SELECT best, alts FROM entries WHERE src=? AND tgt=? AND head=?", (src, tgt, key)
            ).fetchone()
        return [row[0], *json.loads(row[1] or "[]")] if row else []

    def _readings(self, src: str, tgt: str, key: str) -> list[str]:
        """Every reading of a word, the dictionary's order kept: the entry's senses, then
        those of the word without its article and of the forms it may be inflected from
        (a query's context chooses; "blanca" is snow, cocaine... and, as blanco, white)."""
        if key.startswith("zhgloss:"):
            return _cedict_senses(key[8:])[:MAX_READINGS] if tgt == "en" else []
        forms = key.split("\t")
        article = ARTICLES.get(src)
        if article:
            forms.append(forms[0][len(article) :] if forms[0].startswith(article) else article + forms[0])
        forms += self._inflected(src, forms[0])
        readings = [r for form in dict.fromkeys(forms) for r in self._entry(src, tgt, form)]
        return list(dict.fromkeys(r for r in readings if r))[:MAX_READINGS]

    def _translate_one(self, text: str, src: str, tgt: str, senses: SenseChooser | None = None) -> str:
        segs = self._segments(text, src)
        if senses is not None and senses.handles(tgt):
            senses.prepare(tgt, [self._readings(src, tgt, key) for _, key in segs if key is not None])
        out: list[str] = []
        i = 0
        while i < len(segs):
            surface, key = segs[i]
            if key is None:
                out.append(surface)
                i += 1
                continue
            # Longest phrase first: "a bordo", "washing machine", "cell phone".
            done = False
            for n in range(min(_MAX_PHRASE, len(segs) - i), 1, -1):
                keys = [k for _, k in segs[i : i + n]]
                if any(k is None or k.startswith("zhgloss:") for k in keys):
                    continue
                joiner = "" if src in ("zh", "ja") else " "  # CJK headwords have no spaces
                phrase = joiner.join(k.split("\t")[0] for k in keys)  # type: ignore[union-attr]
                hit = self._lookup(src, tgt, phrase)
                if hit:
                    out.append(hit)
                    i += n
                    done = True
                    break
            if not done:
                out.append(self._word(src, tgt, key, senses) or surface)
                i += 1
        return _join(out, tgt)


def _cedict_senses(gloss: str) -> list[str]:
    senses = [s.strip() for s in gloss.split("/") if s.strip() and not _CEDICT_SKIP.match(s.strip())]
    senses = [re.sub(r"\([^)]*\)", "", s).strip() for s in senses]
    return [s for s in senses if s and len(s.split()) <= 4]


def _best_cedict_sense(gloss: str) -> str | None:
    senses = _cedict_senses(gloss)
    # CC-CEDICT lists the main sense first; frequency would prefer "able" to
    # "intelligent". Among the first three, a product word wins ("shoe" over "sole").
    return next((s for s in senses[:3] if is_product_word(s)), senses[0] if senses else None)


def _join(tokens: list[str], tgt: str) -> str:
    """Space-separated, except between CJK tokens of a CJK target."""
    out = ""
    for tok in tokens:
        if not out:
            out = tok
        elif tgt in ("zh", "ja") and _CJK.search(out[-1]) and _CJK.search(tok[0]):
            out += tok
        elif re.fullmatch(r"[.,!?;:)\]」』、。]", tok):
            out += tok
        else:
            out += " " + tok
    return out


def _module_available(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def make_lexicon(settings: Settings) -> LexiconBackend:
    """Word-by-word bilingual dictionaries; no model needed. The configured (index)
    languages missing from the lexicon are compiled on first use; every language
    already compiled is used (``xlsearch dictionaries install`` adds shoppers' others)."""
    from .dictionaries import build_lexicon

    build_lexicon(settings.home_dir, languages=settings.languages)
    return LexiconBackend(settings.home_dir)


def lexicon_pairs(path: Path) -> dict[str, object]:
    """What a compiled lexicon holds: each pair's source, licence and entries, and the
    languages no dictionary covers (read-only; nothing is fetched)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT src, tgt, source, licence, entries FROM sources ORDER BY src, tgt").fetchall()
        uncovered = sorted(r[0] for r in db.execute("SELECT lang FROM languages WHERE pairs = 0"))
    pairs = [dict(zip(("src", "tgt", "source", "licence", "entries"), r, strict=True)) for r in rows]
    return {"path": str(path), "pairs": pairs, "uncovered": uncovered}
