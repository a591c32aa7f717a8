"""Request bodies checked before any work starts: encoding, depth, types, sizes.

A client's mistake is a 400 with a reason, never a 500: invalid UTF-8, JSON
nested deeper than anything a search needs, a filter that is not a plain
value, a ``size`` that is not a number, more ``xlsearch`` clauses than the
service runs for one request, or a query longer than any shopper types.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from ..errors import XLSearchError
from ..search.query_builder import SearchFilters

MAX_DEPTH = 64  # Elasticsearch's own bool nesting stops well below this
MAX_QUERY_CHARS = 2000
MAX_WINDOW = 10_000
_TEXT_FILTERS = ("category", "brand", "availability", "language")
_NUMBER_FILTERS = ("price_min", "price_max")


def decode_utf8(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise XLSearchError(f"{what} is not valid UTF-8 (byte {exc.start})") from None


def parse_json(raw: bytes, what: str = "the body") -> Any:
    """JSON from bytes: UTF-8, at most MAX_DEPTH levels of nesting."""
    text = decode_utf8(raw, what)
    check_depth_of_text(text, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise XLSearchError(f"{what} is not JSON: {exc.msg} (line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise XLSearchError(f"{what} is nested too deeply") from None


def check_depth_of_text(text: str, what: str) -> None:
    """Refuse deep nesting before the parser recurses into it (brackets in strings skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                raise XLSearchError(f"{what} is nested deeper than {MAX_DEPTH} levels")
        elif ch in "]}":
            depth -= 1


def check_query_text(query: Any, what: str = "query") -> str:
    if not isinstance(query, str):
        raise XLSearchError(f"{what} must be a string")
    if len(query) > MAX_QUERY_CHARS:
        raise XLSearchError(f"{what} is {len(query)} characters; at most {MAX_QUERY_CHARS} are searched")
    return query


def whole_number(value: Any, name: str, low: int, high: int, default: int) -> int:
    """An integer field of a request (``size``, ``from``, ``k``): not a bool, a float with
    a fraction, or a string; within [low, high]."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value != int(value):
        raise XLSearchError(f"{name} must be a whole number, got {json.dumps(value)[:40]}")
    number = int(value)
    if not low <= number <= high:
        raise XLSearchError(f"{name} must be between {low} and {high}, got {number}")
    return number


def search_filters(value: Any) -> SearchFilters:
    """Filters from a request: ``{"brand": "Sony", "price_max": 50}`` or ``["price=10..50"]``."""
    try:
        if isinstance(value, list):
            if not all(isinstance(v, str) for v in value):
                raise XLSearchError('filters as a list are "key=value" strings, such as "price=10..50"')
            return SearchFilters.from_pairs(value)
        if value is None:
            return SearchFilters()
        if not isinstance(value, Mapping):
            raise XLSearchError('filters must be an object such as {"brand": "Sony", "price_max": 50}')
        return SearchFilters(**{key: _filter_value(key, v) for key, v in value.items()})
    except (TypeError, ValueError) as exc:
        raise XLSearchError(f"filters: {exc}") from None


def _filter_value(key: str, value: Any) -> Any:
    if key in _TEXT_FILTERS:
        if value is not None and not isinstance(value, str):
            raise XLSearchError(f"filter {key!r} must be a string, got {type(value).__name__}")
        return value
    if key in _NUMBER_FILTERS:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise XLSearchError(f"filter {key!r} must be a number, got {type(value).__name__}")
        return value
    if key == "exclude_ids":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise XLSearchError("filter 'exclude_ids' must be a list of strings")
        return tuple(value)
    raise XLSearchError(f"unknown filter {key!r}; use {', '.join((*_TEXT_FILTERS, *_NUMBER_FILTERS))}")
