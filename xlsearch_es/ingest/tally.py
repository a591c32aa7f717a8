"""Where every record of a load went, and the progress a checkpoint saves.

One ``Tally`` per load: each record read is counted once, as it is decided
(read and rejected by the reader, unchanged and rejected by enrichment,
indexed and rejected by the cluster), so ``read == indexed + rejected +
unchanged`` once the last batch is sent. ``LoadProgress`` is what the
checkpoint holds after each batch: the tally at that batch's end, the last
input line fully done, and where the load writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any


@dataclass
class Tally:
    read: int = 0
    rejected: int = 0  # by validation or enrichment (the reader's side)
    unchanged: int = 0
    other_shards: int = 0  # read, but another shard's worker loads them (not counted in read)
    indexed: int = 0
    rejected_by_cluster: int = 0

    def copy(self) -> Tally:
        return replace(self)

    @property
    def rejected_total(self) -> int:
        return self.rejected + self.rejected_by_cluster

    def balanced(self) -> bool:
        """Every record read ended indexed, unchanged or rejected."""
        return self.read == self.indexed + self.rejected_total + self.unchanged

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Tally:
        return cls(**{f.name: int(data.get(f.name, 0)) for f in fields(cls)})


@dataclass
class LoadProgress:
    """A load's state after its last completed batch (the checkpoint's content)."""

    index: str
    fresh: bool  # the index started empty with this load
    dead_letter: str
    line: int = 0  # the last input line fully done
    tally: Tally = field(default_factory=Tally)

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "fresh": self.fresh,
            "dead_letter": self.dead_letter,
            "line": self.line,
            "tally": self.tally.as_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoadProgress | None:
        """The saved progress, or None when it is not one this version wrote."""
        if not isinstance(data.get("tally"), dict) or not data.get("index"):
            return None
        return cls(
            index=str(data["index"]),
            fresh=bool(data.get("fresh")),
            dead_letter=str(data.get("dead_letter") or ""),
            line=int(data.get("line", 0)),
            tally=Tally.from_dict(data["tally"]),
        )
