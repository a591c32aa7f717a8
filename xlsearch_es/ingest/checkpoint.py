"""Progress of one (input file, alias, shard) load, saved atomically after each batch."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from .options import IngestOptions
from .tally import LoadProgress

log = logging.getLogger(__name__)


class Checkpoint:
    def __init__(self, home: Path, options: IngestOptions, alias: str):
        self.enabled = options.path != "-"
        src = str(Path(options.path).resolve()) if self.enabled else "-"
        key = hashlib.sha256(f"{src}|{alias}|{options.shard}|{options.rebuild}".encode()).hexdigest()[:16]
        self.path = home / "checkpoints" / f"{alias}-{key}.json"
        self.fingerprint = self._file_fingerprint(options.path) if self.enabled else {}

    @staticmethod
    def _file_fingerprint(path: str) -> dict[str, Any]:
        st = Path(path).stat()
        return {"input": str(Path(path).resolve()), "size": st.st_size, "mtime": st.st_mtime}

    def load(self) -> LoadProgress | None:
        """The saved progress, or None (none saved, unreadable, from an older version, or
        the input changed since)."""
        if not self.enabled or not self.path.is_file():
            return None
        try:
            state = json.loads(self.path.read_text())
        except json.JSONDecodeError:
            return None
        if {k: state.get(k) for k in self.fingerprint} != self.fingerprint:
            log.warning("input changed since the checkpoint %s; starting over", self.path)
            return None
        return LoadProgress.from_dict(state)

    def save(self, progress: LoadProgress) -> None:
        if not self.enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({**self.fingerprint, **progress.as_dict()}))
        os.replace(tmp, self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def resume_hint(self) -> str:
        """What a failure message adds so the user knows the run can resume."""
        return f"; progress is kept in {self.path}, run the same command again to resume" if self.enabled else ""
