"""Catalog input: streaming readers for JSONL and CSV, and per-record validation.

A record is read, checked and either becomes a ``Product`` or a ``Rejection``
with its line number and a reason; nothing is dropped silently. Files are read
line by line, so memory does not grow with the catalog. Readers and validation
never raise for a record's content: whatever the bytes, the result is a record
or a reason.

Record schema (JSONL keys or CSV columns; ``--map src=dst`` renames others):

    id (required)           string or integer, stored exactly as given; at most 512
                            bytes, no control characters
    title (required)        non-empty string
    description, brand      strings
    category                string, or a list joined with " > "
    attributes              object of scalar values: strings, booleans, finite numbers,
                            integers within 64 bits (CSV: a JSON object string)
    price                   finite number >= 0;  currency: 3-letter code
    availability            string (in_stock, out_of_stock, preorder, ...)
    language                ISO 639-1 code (a locale such as pt-BR keeps its language);
                            detected when missing
    url, image_url          strings
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import XLSearchError
from ..text.languages import iso639_1
from ..text.normalize import normalize

MAX_ID_BYTES = 512
MAX_TITLE_CHARS = 1_000
MAX_DESCRIPTION_CHARS = 100_000
MAX_FIELD_CHARS = 2_000
KNOWN_FIELDS = (
    "id",
    "title",
    "description",
    "brand",
    "category",
    "attributes",
    "price",
    "currency",
    "availability",
    "language",
    "url",
    "image_url",
)
MAX_ATTRIBUTES = 200
MAX_LONG, MIN_LONG = 2**63 - 1, -(2**63)
_CURRENCY = re.compile(r"^[A-Z]{3}$")
# C0/C1 controls and unpaired surrogates: invisible, and unsafe in URLs and logs.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass(frozen=True)
class Product:
    line: int
    id: str
    title: str
    description: str = ""
    brand: str = ""
    category: str = ""
    attributes: Mapping[str, Any] = field(default_factory=dict)
    price: float | None = None
    currency: str | None = None
    availability: str | None = None
    language: str | None = None
    url: str | None = None
    image_url: str | None = None

    def content(self) -> dict[str, Any]:
        """The fields that define the product (what the content hash covers)."""
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "brand": self.brand,
            "category": self.category,
            "attributes": dict(self.attributes),
            "price": self.price,
            "currency": self.currency,
            "availability": self.availability,
            "language": self.language,
            "url": self.url,
            "image_url": self.image_url,
        }


@dataclass(frozen=True)
class Rejection:
    line: int
    reason: str
    raw: str
    id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "id": self.id, "reason": self.reason, "raw": self.raw[:2000]}


class InvalidRecord(ValueError):
    pass


# ------------------------------------------------------------------ readers --


@dataclass(frozen=True)
class RawRecord:
    """One input record as read, before validation.

    ``data`` is None when the text could not be read as a record; ``error`` then
    says why. ``id_readable`` is False when the text might hold an id we could
    not read (broken JSON, an unclosed CSV quote that swallowed lines): a
    ``--delete-missing`` run must then not trust its list of catalog ids.
    """

    line: int
    data: dict[str, Any] | None
    raw: str
    error: str | None = None
    end_line: int | None = None
    id_readable: bool = True

    @property
    def id(self) -> str | None:
        """The record's id as given, where one can be read (for rejections and deletes)."""
        value = self.data.get("id") if isinstance(self.data, dict) else None
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            return None
        return _id_text(value)


def open_input(path: str) -> BinaryIO:
    if path == "-":
        return sys.stdin.buffer
    p = Path(path)
    if not p.is_file():
        raise XLSearchError(f"input file {path} does not exist")
    return p.open("rb")


def detect_format(path: str, explicit: str | None) -> str:
    if explicit:
        if explicit not in ("jsonl", "csv"):
            raise XLSearchError(f"unknown format {explicit!r}; use jsonl or csv")
        return explicit
    suffix = Path(path).suffix.lower()
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json") or path == "-":
        return "jsonl"
    raise XLSearchError(f"cannot tell the format of {path}; pass --format jsonl or --format csv")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name} (JSON has no NaN or Infinity)")


def _rename(data: dict[str, Any], field_map: Mapping[str, str] | None) -> dict[str, Any]:
    return {field_map.get(k, k): v for k, v in data.items()} if field_map else data


def _parse_json_line(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """(record, None) or (None, reason); never raises for any input text."""
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        return None, f"broken JSON: {exc.msg} (column {exc.colno})"
    except RecursionError:
        return None, "JSON nested too deeply"
    except ValueError as exc:  # integers past Python's digit limit, NaN/Infinity
        return None, f"unreadable JSON value: {str(exc).split(';')[0]}"
    if not isinstance(data, dict):
        return None, f"a record must be a JSON object, got {type(data).__name__}"
    return data, None


def read_jsonl(stream: BinaryIO, field_map: Mapping[str, str] | None = None) -> Iterator[RawRecord]:
    for lineno, raw in enumerate(stream, start=1):
        if lineno == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            shown = raw.decode("utf-8", "replace").rstrip("\r\n")
            # The id may still be readable around the bad bytes; a replaced id is not.
            data, _ = _parse_json_line(shown)
            data = _rename(data, field_map) if data else None
            rid = data.get("id") if data else None
            readable = isinstance(rid, (str, int)) and "\ufffd" not in str(rid)
            yield RawRecord(
                lineno,
                {"id": rid} if readable else None,
                shown,
                f"invalid UTF-8 at byte {exc.start}",
                id_readable=readable,
            )
            continue
        if not text.strip():
            continue
        text = text.rstrip("\r\n")
        data, error = _parse_json_line(text)
        if data is None:
            yield RawRecord(lineno, None, text, error, id_readable=error is not None and "JSON object" in error)
            continue
        yield RawRecord(lineno, _rename(data, field_map), text)


def _coerce_csv(data: dict[str, Any]) -> str | None:
    """CSV cells are strings: parse the typed columns in place; a reason on failure."""
    if "attributes" in data:
        try:
            data["attributes"] = json.loads(data["attributes"], parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            return "attributes is not a JSON object"
    if "price" in data:
        try:
            data["price"] = float(data["price"])
        except ValueError:
            return f"price {data['price'][:40]!r} is not a number"
    return None


def read_csv(stream: BinaryIO, field_map: Mapping[str, str] | None = None) -> Iterator[RawRecord]:
    """Rows as records. Strict quoting: a quote left open is reported with the
    lines it swallowed instead of silently merging them into one row."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    reader = csv.reader(text, strict=True)
    header: list[str] | None = None
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            end = reader.line_num
            span = f"line {start}" if end <= start else f"lines {start}-{end}"
            if "unexpected end of data" in str(exc) or "',' expected" in str(exc):
                reason = f"unclosed or stray quote: the row spans {span}; the lines in it were not loaded"
            else:
                reason = f"unreadable CSV row ({exc})"
            yield RawRecord(start, None, "", reason, end_line=end, id_readable=False)
            continue
        end = reader.line_num
        if header is None:
            header = [field_map.get(h.strip(), h.strip()) if field_map else h.strip() for h in row]
            continue
        if not row or (len(row) == 1 and not row[0]):
            continue
        raw = ",".join(row)
        if any(re.search(r"[\udc80-\udcff]", v) for v in row):
            yield RawRecord(
                start,
                None,
                raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace"),
                "invalid UTF-8",
                end_line=end,
                id_readable=False,
            )
            continue
        if len(row) != len(header):
            span = f"line {start}" if end == start else f"lines {start}-{end}"
            yield RawRecord(
                start,
                None,
                raw,
                f"row has {len(row)} fields, header has {len(header)} ({span})",
                end_line=end,
                id_readable=False,
            )
            continue
        data: dict[str, Any] = {k: v for k, v in zip(header, row) if v != ""}
        error = _coerce_csv(data)
        yield RawRecord(start, {"id": data.get("id")} if error else data, raw, error, end_line=end)


def read_records(path: str, fmt: str, field_map: Mapping[str, str] | None = None) -> Iterator[RawRecord]:
    stream = open_input(path)
    try:
        yield from (read_csv(stream, field_map) if fmt == "csv" else read_jsonl(stream, field_map))
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


# --------------------------------------------------------------- validation --


def _id_text(value: str | int) -> str:
    """An id as given: strings untouched, integers in decimal."""
    if isinstance(value, int):
        try:
            return str(value)
        except ValueError:  # more digits than Python prints
            return "<integer too long>"
    return value


def _check_id(raw_id: Any) -> str:
    if raw_id is None or raw_id == "":
        raise InvalidRecord("missing id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)):
        raise InvalidRecord(f"id must be a string or integer, got {type(raw_id).__name__}")
    pid = _id_text(raw_id)
    if not pid.strip():
        raise InvalidRecord("id is blank")
    if _CONTROL.search(pid):
        raise InvalidRecord("id contains control characters or unpaired surrogates; ids are stored as given")
    if len(pid.encode("utf-8")) > MAX_ID_BYTES:
        raise InvalidRecord(f"id is longer than {MAX_ID_BYTES} bytes")
    return pid


def _text(data: Mapping[str, Any], key: str, limit: int = MAX_FIELD_CHARS) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidRecord(f"{key} must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise InvalidRecord(f"{key} is too long ({len(value)} characters, limit {limit})")
    return normalize(value, max_chars=limit)


def _scalar(key: str, value: Any) -> Any:
    """An attribute value Elasticsearch and JSON can both carry, or InvalidRecord."""
    if isinstance(value, str):
        return normalize(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not MIN_LONG <= value <= MAX_LONG:
            raise InvalidRecord(f"attribute {key!r} is an integer out of range (more than 64 bits)")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidRecord(f"attribute {key!r} is not a finite number")
        return value
    raise InvalidRecord(f"attribute {key!r} must be a scalar, got {type(value).__name__}")


def _price(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidRecord(f"price must be a number, got {str(value)[:40]!r}")
    try:
        price = float(value)
    except OverflowError:
        raise InvalidRecord("price is out of range") from None
    if not math.isfinite(price):
        raise InvalidRecord(f"price must be a finite number, got {price}")
    if price < 0:
        raise InvalidRecord(f"price must not be negative, got {price}")
    return price


def validate(line: int, data: Mapping[str, Any]) -> Product:
    """Check one record (already renamed by ``--map``) and normalise its text.

    Raises InvalidRecord with the reason. Ids are kept exactly as given.
    """
    pid = _check_id(data.get("id"))
    title = _text(data, "title", MAX_TITLE_CHARS)
    if not title:
        raise InvalidRecord("missing title")
    category = data.get("category")
    if isinstance(category, list):
        if not all(isinstance(c, str) for c in category):
            raise InvalidRecord("category list must hold strings")
        category = " > ".join(c.strip() for c in category if c.strip())
        data = {**data, "category": category}
    attributes = data.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise InvalidRecord(f"attributes must be an object, got {type(attributes).__name__}")
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidRecord(f"too many attributes ({len(attributes)}, limit {MAX_ATTRIBUTES})")
    attributes = {normalize(str(k), max_chars=200): _scalar(str(k), v) for k, v in attributes.items() if v is not None}
    if "" in attributes:
        raise InvalidRecord("attribute names must not be blank")
    currency = data.get("currency")
    if currency is not None:
        if not isinstance(currency, str) or not _CURRENCY.match(currency.strip().upper()):
            raise InvalidRecord(f"currency must be a 3-letter code, got {str(currency)[:40]!r}")
        currency = currency.strip().upper()
    language = data.get("language")
    if language is not None:
        code = iso639_1(language)
        if code is None:
            raise InvalidRecord(f"language must be an ISO 639-1 code such as en or zh, got {str(language)[:40]!r}")
        language = code
    availability = _text(data, "availability", 64).lower().replace(" ", "_") or None
    return Product(
        line=line,
        id=pid,
        title=title,
        description=_text(data, "description", MAX_DESCRIPTION_CHARS),
        brand=_text(data, "brand", 200),
        category=_text(data, "category"),
        attributes=attributes,
        price=_price(data.get("price")),
        currency=currency,
        availability=availability,
        language=language,
        url=_text(data, "url") or None,
        image_url=_text(data, "image_url") or None,
    )


def parse_field_map(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``--map name=title`` options -> {source column: schema field}."""
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise XLSearchError(f"--map expects SOURCE=FIELD, got {pair!r}")
        src, dst = (p.strip() for p in pair.split("=", 1))
        if dst not in KNOWN_FIELDS:
            raise XLSearchError(f"--map target {dst!r} is not a schema field ({', '.join(KNOWN_FIELDS)})")
        out[src] = dst
    return out
