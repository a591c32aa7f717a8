"""Catalog input: streaming readers for JSONL and CSV, and per-record validation.

A record is read, checked and either becomes a ``Product`` or a ``Rejection``
with its line number and a reason; nothing is dropped silently. Files are read
line by line, so memory does not grow with the catalog.

Record schema (JSONL keys or CSV columns; ``--map src=dst`` renames others):

    id (required)           string or integer, at most 512 bytes
    title (required)        non-empty string
    description, brand      strings
    category                string, or a list joined with " > "
    attributes              object of scalar values (CSV: a JSON object string)
    price                   number >= 0;  currency: 3-letter code
    availability            string (in_stock, out_of_stock, preorder, ...)
    language                ISO 639-1 code; detected when missing
    url, image_url          strings
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Iterator, Mapping

from ..errors import XLSearchError
from ..text.normalize import normalize

MAX_ID_BYTES = 512
MAX_TITLE_CHARS = 1_000
MAX_DESCRIPTION_CHARS = 100_000
MAX_FIELD_CHARS = 2_000
KNOWN_FIELDS = ("id", "title", "description", "brand", "category", "attributes", "price", "currency",
                "availability", "language", "url", "image_url")
_LANG = re.compile(r"^[a-z]{2,3}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


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
            "id": self.id, "title": self.title, "description": self.description, "brand": self.brand,
            "category": self.category, "attributes": dict(self.attributes), "price": self.price,
            "currency": self.currency, "availability": self.availability, "language": self.language,
            "url": self.url, "image_url": self.image_url,
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

RawRecord = tuple[int, "dict[str, Any] | None", str, "str | None"]  # line, data, raw text, error


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


def read_jsonl(stream: BinaryIO) -> Iterator[RawRecord]:
    for lineno, raw in enumerate(stream, start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            shown = raw.decode("utf-8", "replace").rstrip("\n")
            yield lineno, None, shown, f"invalid UTF-8 at byte {exc.start}"
            continue
        if not text.strip():
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            yield lineno, None, text.rstrip("\n"), f"broken JSON: {exc.msg} (column {exc.colno})"
            continue
        if not isinstance(data, dict):
            yield lineno, None, text.rstrip("\n"), f"a record must be a JSON object, got {type(data).__name__}"
            continue
        yield lineno, data, text.rstrip("\n"), None


def read_csv(stream: BinaryIO) -> Iterator[RawRecord]:
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline="")
    reader = csv.DictReader(text)
    line = 1
    for row in reader:
        line_start, line = line + 1, reader.line_num
        raw = ",".join(v for v in row.values() if isinstance(v, str))
        if any(isinstance(v, str) and re.search(r"[\udc80-\udcff]", v) for v in row.values()):
            yield line_start, None, raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace"), "invalid UTF-8"
            continue
        if None in row:
            yield line_start, None, raw, f"row has {len(reader.fieldnames or []) + len(row[None])} fields, header has {len(reader.fieldnames or [])}"  # noqa: E501
            continue
        data: dict[str, Any] = {k: v for k, v in row.items() if v not in ("", None)}
        if "attributes" in data:
            try:
                data["attributes"] = json.loads(data["attributes"])
            except json.JSONDecodeError:
                yield line_start, None, raw, "attributes is not a JSON object"
                continue
        if "price" in data:
            try:
                data["price"] = float(data["price"])
            except ValueError:
                yield line_start, None, raw, f"price {data['price']!r} is not a number"
                continue
        yield line_start, data, raw, None


def read_records(path: str, fmt: str) -> Iterator[RawRecord]:
    stream = open_input(path)
    try:
        yield from (read_csv(stream) if fmt == "csv" else read_jsonl(stream))
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


# --------------------------------------------------------------- validation --

def _text(data: Mapping[str, Any], key: str, limit: int = MAX_FIELD_CHARS) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidRecord(f"{key} must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise InvalidRecord(f"{key} is too long ({len(value)} characters, limit {limit})")
    return normalize(value, max_chars=limit)


def validate(line: int, data: Mapping[str, Any], field_map: Mapping[str, str] | None = None) -> Product:
    """Check one record and normalise its text; raises InvalidRecord with the reason."""
    if field_map:
        data = {field_map.get(k, k): v for k, v in data.items()}
    raw_id = data.get("id")
    if raw_id is None or raw_id == "":
        raise InvalidRecord("missing id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)):
        raise InvalidRecord(f"id must be a string or integer, got {type(raw_id).__name__}")
    pid = normalize(str(raw_id))
    if not pid:
        raise InvalidRecord("id is blank")
    if len(pid.encode()) > MAX_ID_BYTES:
        raise InvalidRecord(f"id is longer than {MAX_ID_BYTES} bytes")
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
    for key, value in attributes.items():
        if not isinstance(value, (str, int, float, bool)) and value is not None:
            raise InvalidRecord(f"attribute {key!r} must be a scalar, got {type(value).__name__}")
    attributes = {normalize(str(k)): (normalize(v) if isinstance(v, str) else v)
                  for k, v in attributes.items() if v is not None}
    price = data.get("price")
    if price is not None:
        if isinstance(price, bool) or not isinstance(price, (int, float)) or not math.isfinite(price):
            raise InvalidRecord(f"price must be a number, got {price!r}")
        if price < 0:
            raise InvalidRecord(f"price must not be negative, got {price}")
        price = float(price)
    currency = data.get("currency")
    if currency is not None:
        if not isinstance(currency, str) or not _CURRENCY.match(currency.strip().upper()):
            raise InvalidRecord(f"currency must be a 3-letter code, got {currency!r}")
        currency = currency.strip().upper()
    language = data.get("language")
    if language is not None:
        if not isinstance(language, str) or not _LANG.match(language.strip().lower()):
            raise InvalidRecord(f"language must be an ISO 639-1 code, got {language!r}")
        language = language.strip().lower()
    availability = _text(data, "availability", 64).lower().replace(" ", "_") or None
    return Product(
        line=line, id=pid, title=title, description=_text(data, "description", MAX_DESCRIPTION_CHARS),
        brand=_text(data, "brand", 200), category=_text(data, "category"), attributes=attributes,
        price=price, currency=currency, availability=availability, language=language,
        url=_text(data, "url") or None, image_url=_text(data, "image_url") or None,
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
