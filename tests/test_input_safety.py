"""Reading and validating hostile input: fast, no cluster, no model.

Every record, whatever its bytes, ends as a product or a reason; nothing raises.
Property-based tests (hypothesis) look for the inputs we did not think of.
"""

from __future__ import annotations

import io
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xlsearch_es.ingest.source import validated as _validated
from xlsearch_es.ingest.records import InvalidRecord, RawRecord, read_csv, read_jsonl, validate
from xlsearch_es.search.query_builder import SearchFilters
from xlsearch_es.text.languages import iso639_1


def jsonl(*lines: bytes, field_map=None) -> list[RawRecord]:
    return list(read_jsonl(io.BytesIO(b"\n".join(lines) + b"\n"), field_map))


def csv_rows(text: str | bytes, field_map=None) -> list[RawRecord]:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return list(read_csv(io.BytesIO(data), field_map))


# ------------------------------------------------------------- JSONL cases --

def test_pathological_json_is_a_reason_not_a_crash() -> None:
    deep = b'{"id": "deep", "title": "x", "attributes": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_001
    records = jsonl(
        deep,
        b'{"id": ' + b"9" * 5000 + b', "title": "5000-digit id"}',
        b'{"id": "nan", "title": "t", "price": NaN}',
        b'{"id": "inf", "title": "t", "attributes": {"w": Infinity}}',
        b'{"id": "big", "title": "t", "price": 1e400}',
        b'{"id": "ok", "title": "fine"}',
    )
    outcomes = [_validated(r) for r in records]
    reasons = [reason for _, reason in outcomes]
    assert "nested too deeply" in reasons[0]
    assert "digit" in reasons[1]
    assert "non-finite number NaN" in reasons[2] and "Infinity" in reasons[3]
    assert "price must be a finite number" in reasons[4]
    assert outcomes[5][0] is not None and outcomes[5][0].id == "ok"


@pytest.mark.parametrize("field,value,reason", [
    ("id", 10 ** 600, "longer than 512 bytes"),
    ("price", 10 ** 400, "price is out of range"),
    ("price", -(10 ** 30), "must not be negative"),
    ("attributes", {"n": 10 ** 30}, "out of range"),
    ("attributes", {"n": float("nan")}, "not a finite number"),
    ("language", "eng", "ISO 639-1"),
    ("language", "zz", "ISO 639-1"),
    ("id", "a\x00b", "control characters"),
    ("id", "line\nbreak", "control characters"),
    ("id", "bad\ud800surrogate", "control characters"),
    ("id", "   ", "id is blank"),
])
def test_validation_reasons(field, value, reason) -> None:
    with pytest.raises(InvalidRecord, match=reason):
        validate(1, {"id": "p1", "title": "Red dress", field: value})


def test_ids_are_kept_exactly_as_given() -> None:
    for pid in (" ＡＢＣ-１ ", "ﬁ-ligature", "Ünïcödé/≠?#", "e\u0301", "a  b"):
        assert validate(1, {"id": pid, "title": "t"}).id == pid
    assert validate(1, {"id": 12345678901234567890123, "title": "t"}).id == "12345678901234567890123"


def test_language_codes_are_iso_639_1_and_locales_keep_their_language() -> None:
    assert validate(1, {"id": "a", "title": "t", "language": "pt-BR"}).language == "pt"
    assert validate(1, {"id": "a", "title": "t", "language": "ZH"}).language == "zh"
    assert iso639_1("en_US") == "en" and iso639_1("xx") is None and iso639_1(7) is None


def test_utf8_bom_does_not_cost_the_first_record() -> None:
    records = jsonl(b'\xef\xbb\xbf{"id": "first", "title": "with a BOM"}', b'{"id": "second", "title": "t"}')
    assert [_validated(r)[0].id for r in records] == ["first", "second"]


def test_invalid_utf8_keeps_a_readable_id_for_safe_deletes() -> None:
    readable, unreadable, broken = jsonl(b'{"id": "p7", "title": "caf\xc3\x28"}',
                                         b'{"id": "p\xff8", "title": "x"}', b'{"id": "p9", "title": ')
    assert readable.error.startswith("invalid UTF-8") and readable.id == "p7" and readable.id_readable
    assert not unreadable.id_readable and unreadable.id is None
    assert broken.error.startswith("broken JSON") and not broken.id_readable


def test_mapped_fields_in_jsonl_are_renamed_before_validation() -> None:
    (record,) = jsonl(b'{"sku": "s1", "name": "Blue jeans", "cost": 12.5}',
                      field_map={"sku": "id", "name": "title", "cost": "price"})
    product, reason = _validated(record)
    assert reason is None and (product.id, product.title, product.price) == ("s1", "Blue jeans", 12.5)


# --------------------------------------------------------------- CSV cases --

def test_csv_bom_header_and_mapped_columns_get_native_types() -> None:
    text = "\ufeffsku,name,cost,attributes\nA1,Green shirt,19.90,\"{\"\"size\"\": \"\"M\"\"}\"\nA2,Red shirt,abc,\n"
    first, second = csv_rows(text, {"sku": "id", "name": "title", "cost": "price"})
    product, reason = _validated(first)
    assert reason is None and product.id == "A1" and product.price == 19.9 and product.attributes == {"size": "M"}
    assert _validated(second)[1] == "price 'abc' is not a number" and second.id == "A2"


def test_csv_unclosed_quote_is_reported_with_the_lines_it_spans() -> None:
    text = 'id,title,price\n1,"Unclosed title,10\n2,Good,20\n3,Fine,30\n'
    (record,) = csv_rows(text)
    assert record.data is None and record.line == 2 and record.end_line == 4
    assert "lines 2-4" in record.error and not record.id_readable
    text = 'id,title,price\n1,"Unclosed title,10\n2,"Good",20\n3,Fine,30\n'
    bad, good = csv_rows(text)
    assert "lines 2-3" in bad.error and _validated(good)[0].id == "3"


def test_csv_multiline_quoted_fields_still_load() -> None:
    (record,) = csv_rows('id,title,description\n1,Lamp,"line one\nline two, with a comma"\n')
    product, reason = _validated(record)
    assert reason is None and product.description == "line one line two, with a comma"


def test_csv_field_over_the_csv_module_limit_is_one_rejection() -> None:
    text = "id,title,description\n1,Huge," + "x" * 200_000 + "\n2,Small,fine\n"
    first, second = csv_rows(text)
    assert first.data is None and "field larger than field limit" in first.error
    assert _validated(second)[0].id == "2"


# ------------------------------------------------------------------ filters --

def test_price_filter_single_number_means_exactly_that_price() -> None:
    assert SearchFilters.from_pairs(["price=50"]) == SearchFilters(price_min=50.0, price_max=50.0)
    assert SearchFilters.from_pairs(["price=..50"]) == SearchFilters(price_max=50.0)
    assert SearchFilters.from_pairs(["price=10.5.."]) == SearchFilters(price_min=10.5)


@pytest.mark.parametrize("pair,message", [
    ("price=nan", "not a finite number"), ("price=inf..", "not a finite number"),
    ("price=..1e400", "not a finite number"), ("price_min=-inf", "not a finite number"),
    ("price=50..10", "is empty"), ("price=..", "needs a number"), ("price=ten", "not a number"),
])
def test_bad_price_filters_are_clear_errors(pair, message) -> None:
    with pytest.raises(ValueError, match=message):
        SearchFilters.from_pairs([pair])
    with pytest.raises(ValueError, match="finite"):
        SearchFilters(price_min=math.nan)


# ----------------------------------------------------------- property-based --

_json_scalars = (st.none() | st.booleans() | st.text(max_size=30)
                 | st.integers(min_value=-(10 ** 700), max_value=10 ** 700)
                 | st.floats(allow_nan=True, allow_infinity=True))
_json_values = st.recursive(_json_scalars, lambda inner: st.lists(inner, max_size=4)
                            | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
_fields = st.sampled_from(["id", "title", "description", "brand", "category", "attributes", "price",
                           "currency", "availability", "language", "url", "image_url", "extra"])
records = st.dictionaries(_fields, _json_values | st.text(max_size=60), max_size=8)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records)
def test_any_json_record_validates_or_gives_a_reason(record: dict) -> None:
    try:
        line = json.dumps(record).encode()
    except ValueError:  # integers past Python's print limit: write them as text
        line = repr(record).encode()
    for raw in jsonl(line):
        product, reason = _validated(raw)
        assert (product is None) != (reason is None)
        if product is not None:  # what reaches Elasticsearch is strict JSON
            json.dumps(product.content(), allow_nan=False).encode("utf-8")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=6))
def test_any_bytes_as_jsonl_never_raise(lines: list[bytes]) -> None:
    for raw in read_jsonl(io.BytesIO(b"\n".join(lines))):
        _validated(raw)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_as_csv_never_raise(data: bytes) -> None:
    for raw in csv_rows(b"id,title,price,attributes\n" + data):
        product, reason = _validated(raw)
        assert (product is None) != (reason is None)
