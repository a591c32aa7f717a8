"""The source: catalog records read, validated and assigned to a shard.

Every record comes out as a product or a reason; no record content can raise
out of here (a validator bug costs one record, not the run).
"""

from __future__ import annotations

import zlib

from ..errors import XLSearchError
from .records import InvalidRecord, Product, RawRecord, validate


def validated(record: RawRecord) -> tuple[Product | None, str | None]:
    """(product, None) or (None, reason)."""
    if record.error is not None or record.data is None:
        return None, record.error or "invalid record"
    try:
        return validate(record.line, record.data), None
    except InvalidRecord as exc:
        return None, str(exc)
    except RecursionError:
        return None, "record nested too deeply"
    except Exception as exc:  # a validator bug must cost one record, not the run
        return None, f"could not be validated: {type(exc).__name__}: {exc}"


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``i/N`` (1-based) from the CLI."""
    if not text:
        return None
    try:
        i, n = (int(p) for p in text.split("/"))
    except ValueError:
        raise XLSearchError(f"--shard expects i/N such as 1/4, got {text!r}") from None
    if n < 1 or not 1 <= i <= n:
        raise XLSearchError(f"--shard {text}: i must be between 1 and N")
    return i, n


def in_shard(product_id: str, shard: tuple[int, int] | None) -> bool:
    """Stable assignment of a product to one of N shards (CRC32 of its id)."""
    if not shard:
        return True
    i, n = shard
    return zlib.crc32(product_id.encode()) % n == i - 1
