"""``--delete-missing``: remove the products a full catalog no longer names,
refusing what looks like a mistake (an empty or truncated catalog)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from elasticsearch import Elasticsearch, helpers

from .options import IngestOptions
from .sink import delete_action, send_bulk
from .source import in_shard


@dataclass(frozen=True)
class CatalogIds:
    """What the catalog named: ids of accepted products, ids on rejected lines (they
    count as present), and rejected lines whose id could not be read at all."""

    seen: Collection[str]
    rejected: Collection[str]
    unreadable_lines: Sequence[int]


@dataclass
class Pruned:
    deleted: int = 0
    skipped: str | None = None  # why nothing was deleted, when refused


def delete_missing(
    client: Elasticsearch,
    target: str,
    ids: CatalogIds,
    options: IngestOptions,
    *,
    records_read: int,
    max_share: float,
    describe: Callable[[Exception], str],
) -> Pruned:
    """Delete documents (of this shard) whose id no line of the catalog names.

    When a rejected line's id could not be read, the step is skipped unless
    forced: that line might name any product. So is a delete of more than
    ``max_share`` of the index, or of everything after an empty catalog.
    """
    force = options.force_delete_missing
    if ids.unreadable_lines and not force:
        lines = ids.unreadable_lines
        shown = ", ".join(map(str, lines[:5])) + (" ..." if len(lines) > 5 else "")
        return Pruned(
            skipped=f"{len(lines)} rejected line(s) (line {shown}) have no readable id, so a product they name "
            "could be deleted by mistake; nothing was deleted. Fix those lines, or pass --force-delete-missing"
        )
    scan = helpers.scan(client, index=target, query={"query": {"match_all": {}}}, _source=False, size=1000)
    present = [h["_id"] for h in scan if in_shard(h["_id"], options.shard)]
    stale = [i for i in present if i not in ids.seen and i not in ids.rejected]
    if not stale:
        return Pruned()
    refusal = mass_delete_refusal(len(stale), len(present), records_read, max_share)
    if refusal and not force:
        return Pruned(skipped=f"{refusal}; nothing was deleted. Pass --force-delete-missing if it is meant")
    result = send_bulk(client, target, [(delete_action(i), None) for i in stale], options.bulk, describe=describe)
    return Pruned(deleted=result.deleted)


def mass_delete_refusal(stale: int, present: int, records_read: int, max_share: float) -> str | None:
    """Why deleting ``stale`` of ``present`` products looks like a mistake, or None
    (``max_share`` is ``Settings.delete_missing_max_share``)."""
    if records_read == 0:
        return f"the catalog had no records, so all {stale} products would be deleted"
    if stale > max_share * present:
        return (
            f"it would delete {stale} of {present} products ({stale / present:.0%}), more than the "
            f"{max_share:.0%} allowed (delete_missing_max_share)"
        )
    return None
