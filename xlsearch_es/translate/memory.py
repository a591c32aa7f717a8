"""Persistent translation memory shared by every backend.

Keyed by (backend fingerprint, source, target, text): a string is translated
once per backend and reused across runs, processes and the query path.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tm (
    backend TEXT NOT NULL, src TEXT NOT NULL, tgt TEXT NOT NULL,
    text TEXT NOT NULL, translation TEXT NOT NULL,
    PRIMARY KEY (backend, src, tgt, text)
) WITHOUT ROWID
"""


class TranslationMemory:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        # A cache: a crash may lose the last commits but never corrupts the file (WAL),
        # and not syncing each batch's commit takes most of a cold ingest's translate time.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)
        self._db.commit()
        self.hits = 0
        self.misses = 0

    def get_many(self, backend: str, src: str, tgt: str, texts: Iterable[str]) -> dict[str, str]:
        wanted = list(dict.fromkeys(texts))
        found: dict[str, str] = {}
        with self._lock:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT text, translation FROM tm WHERE backend=? AND src=? AND tgt=? AND text IN ({marks})",
                    [backend, src, tgt, *chunk],
                ).fetchall()
                found.update(rows)
            self.hits += len(found)
            self.misses += len(wanted) - len(found)
        return found

    def put_many(self, backend: str, src: str, tgt: str, pairs: dict[str, str]) -> None:
        if not pairs:
            return
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO tm VALUES (?, ?, ?, ?, ?)",
                [(backend, src, tgt, text, out) for text, out in pairs.items()],
            )
            self._db.commit()

    def close(self) -> None:
        with self._lock:
            self._db.close()
