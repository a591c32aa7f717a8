"""Request bodies for BM25, kNN and their combinations: pure functions, no client.

User text only ever goes into ``match``/``multi_match``/``term`` clauses, never
``query_string``, so ``"`` ``:`` ``(`` ``*`` ``OR`` and friends are just text.
The same filter list is used in the BM25 bool and inside the kNN clause, so
neither side can return a product the filters exclude.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..mapping import ORIGINAL

# Per-field weights; the original-language fields weigh a little more than
# dictionary translations, which are noisier.
FIELD_WEIGHTS = {"title": 3.0, "brand": 2.0, "category": 1.5, "description": 1.0}
ORIGINAL_BOOST = 1.2
PHRASE_BOOST = 2.0
PROTECTED_BOOST = 4.0
# One- and two-word queries need every term, longer ones three in four (shoppers
# add words the product text lacks); dictionary translations carry noise words,
# so they need only half.
MINIMUM_SHOULD_MATCH = "2<75%"
TRANSLATION_MINIMUM_SHOULD_MATCH = "2<50%"
HIGHLIGHT_FIELDS = ("title.*", "description.*")
# The lenient clause: the query as typed, any one word enough, over the original
# text and every language's fields (the scope chosen on the shared sets). Names, numbers, model codes and
# loanwords are shared across languages and survive where no dictionary does;
# the strict clauses above drop a document that lacks most (untranslatable)
# words. Weight and policy measured in benchmarks/bench_lexical.py.
LENIENT_BOOST = 0.5
LENIENT_MINIMUM_SHOULD_MATCH = "1"
# Which fields it reads: the index's languages other than the query's ("others"),
# plus the text as written ("others+original"), or every language too ("all").
LENIENT_SCOPES = ("others", "others+original", "all")
LENIENT_SCOPE = "all"
# Typos: the query's unprotected words, fuzzy (AUTO edits, first letter fixed),
# over the original text; model numbers are left out (1000XM4 is not 1000XM5).
TYPO_BOOST = 0.3
TYPO_PREFIX_LENGTH = 1
# Shoppers misspell product and brand names. Over descriptions too, the fuzzy
# expansion was a fifth to a third of the BM25 request's time (xquad: took p50
# 30-33 -> 24 ms in two runs) and changed no ranking on either set's validation
# split (benchmarks/bench_typo.py).
TYPO_FIELDS = ("title", "brand")
PLAIN_FIELDS = ("title.original", "description.original")
SYNONYM_BOOST = 1.0  # a shop's own synonym counts as much as the words it stands for
# A product carrying the colour or material the query names (attr.<kind>) ranks
# above one that does not: a boost, never a filter.
ATTRIBUTE_BOOST = 3.0
# Chinese/Japanese words cut on the client (text/segment.py): where the index
# has them, they replace that language's character-level fields (title, brand,
# category and description in one field, so weighted as a title).
WORDS_BOOST = FIELD_WEIGHTS["title"]


@dataclass(frozen=True)
class SearchFilters:
    category: str | None = None  # a category key or path, or a path's prefix ("Electronics > Phones")
    category_paths: tuple[str, ...] = ()  # the paths a category key joins (search/plan.py fills it)
    brand: str | None = None  # case-insensitive exact brand
    price_min: float | None = None
    price_max: float | None = None
    availability: str | None = None
    language: str | None = None  # the product's source language
    exclude_ids: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        for name in ("price_min", "price_max"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not math.isfinite(float(value))):
                raise ValueError(f"{name} must be a finite number, got {value!r}")

    @classmethod
    def from_pairs(cls, pairs: Sequence[str]) -> SearchFilters:
        """``key=value`` strings from the CLI (``price=10..50``, ``brand=Sony``).

        ``price=MIN..MAX`` is inclusive; either end may be left out (``price=..50``,
        ``price=10..``); a single number (``price=50``) means exactly that price.
        """
        values: dict[str, Any] = {}
        for pair in pairs:
            if "=" not in pair:
                raise ValueError(f"filter {pair!r} is not key=value")
            key, value = (p.strip() for p in pair.split("=", 1))
            if key == "price":
                lo, dots, hi = value.partition("..")
                if not dots:
                    hi = lo
                if not lo and not hi:
                    raise ValueError("price filter needs a number or a range such as 10..50")
                values["price_min"] = _price_bound("price", lo) if lo else None
                values["price_max"] = _price_bound("price", hi) if hi else None
            elif key in ("price_min", "price_max"):
                values[key] = _price_bound(key, value)
            elif key in ("category", "brand", "availability", "language"):
                values[key] = value
            else:
                raise ValueError(f"unknown filter {key!r}; use category, brand, price, availability, language")
        result = cls(**values)
        if result.price_min is not None and result.price_max is not None and result.price_min > result.price_max:
            raise ValueError(f"price range {result.price_min:g}..{result.price_max:g} is empty (min above max)")
        return result

    def is_empty(self) -> bool:
        return not self.clauses()

    def clauses(self) -> list[dict[str, Any]]:
        return filter_clauses(self)


def _price_bound(key: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{key} filter: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{key} filter: {text!r} is not a finite number")
    return value


def filter_clauses(f: SearchFilters) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if f.category:
        paths = f.category_paths or (f.category,)
        should: list[dict[str, Any]] = [{"terms": {"category_path": list(paths)}}]
        should += [{"prefix": {"category_path": p.rstrip() + " > "}} for p in paths]
        out.append({"bool": {"should": should, "minimum_should_match": 1}})
    if f.brand:
        out.append({"term": {"brand_exact": f.brand.casefold()}})
    if f.price_min is not None or f.price_max is not None:
        rng: dict[str, float] = {}
        if f.price_min is not None:
            rng["gte"] = f.price_min
        if f.price_max is not None:
            rng["lte"] = f.price_max
        out.append({"range": {"price": rng}})
    if f.availability:
        out.append({"term": {"availability": f.availability}})
    if f.language:
        out.append({"term": {"source_language": f.language}})
    if f.exclude_ids:
        out.append({"bool": {"must_not": [{"ids": {"values": list(f.exclude_ids)}}]}})
    return out


@dataclass(frozen=True)
class BM25Boosts:
    """Weights of the BM25 clauses; the defaults are the module constants, tuned
    values come from ``xlsearch tune``."""

    title: float = FIELD_WEIGHTS["title"]
    brand: float = FIELD_WEIGHTS["brand"]
    category: float = FIELD_WEIGHTS["category"]
    description: float = FIELD_WEIGHTS["description"]
    original: float = ORIGINAL_BOOST
    phrase: float = PHRASE_BOOST
    protected: float = PROTECTED_BOOST
    lenient: float = LENIENT_BOOST
    lenient_msm: str = LENIENT_MINIMUM_SHOULD_MATCH
    lenient_scope: str = LENIENT_SCOPE  # "others" | "others+original" | "all" (see LENIENT_SCOPES)
    typo: float = TYPO_BOOST

    def field_weights(self) -> dict[str, float]:
        return {"title": self.title, "brand": self.brand, "category": self.category, "description": self.description}


def bm25_query(
    original: str,
    translations: Mapping[str, str],
    protected: Sequence[str],
    boosts: BM25Boosts = BM25Boosts(),
    synonyms: Sequence[str] = (),
    words: Mapping[str, str] | None = None,
    lenient_languages: Sequence[str] = (),
    attributes: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """Scoring clauses over the original and translated fields (no filters).

    ``synonyms``: phrases the shop's synonyms file brings in, matched as phrases;
    ``words``: language -> the query cut into words, for the ``words.<lang>`` fields;
    ``lenient_languages``: the index's languages other than the query's, which the
    lenient clause reads under the "others" scopes (the default, "all", reads every
    language and the original); ``attributes``: kind -> canonical values the query
    names (text/attributes.py)."""
    fields = _FieldWeights(boosts)
    should: list[dict[str, Any]] = []
    if original:
        should.append(_multi_match(original, fields.of(ORIGINAL, boosts.original), MINIMUM_SHOULD_MATCH))
        should += _phrase(f"title.{ORIGINAL}", original, boosts)
    cut = {lang: text for lang, text in (words or {}).items() if text}
    for lang, text in sorted(translations.items()):
        if not text:
            continue
        if lang in cut:  # the same text, matched as words instead of single characters
            should.append(_words_clause(lang, cut[lang]))
        else:
            should.append(_multi_match(text, fields.of(lang, 1.0), TRANSLATION_MINIMUM_SHOULD_MATCH))
        should += _phrase(f"title.{lang}", text, boosts)
    langs = _lenient_languages(boosts.lenient_scope, lenient_languages, translations)
    if original and boosts.lenient > 0 and langs:
        lenient_fields = [f for lang in langs for f in fields.of(lang, 1.0)]
        should.append(_multi_match(original, lenient_fields, boosts.lenient_msm, boost=boosts.lenient))
    typo_text = _without(original, protected)
    if typo_text and boosts.typo > 0:
        should.append(_typo_clause(typo_text, fields.of(ORIGINAL, 1.0), boosts.typo))
    every_language = [ORIGINAL, *sorted(lang for lang, text in translations.items() if text)]
    for phrase_text in synonyms:
        synonym_fields = [f for lang in every_language for f in fields.of(lang, 1.0)]
        should.append(
            {"multi_match": {"query": phrase_text, "type": "phrase", "fields": synonym_fields, "boost": SYNONYM_BOOST}}
        )
    for kind, values in sorted((attributes or {}).items()):
        if values:
            should.append({"terms": {f"attr.{kind}": list(values), "boost": ATTRIBUTE_BOOST}})
    for token in dict.fromkeys(t.casefold() for t in protected):
        should.append({"term": {"protected_tokens": {"value": token, "boost": boosts.protected}}})
        should.append({"term": {"brand_exact": {"value": token, "boost": boosts.protected}}})
    return {"bool": {"should": should, "minimum_should_match": 1}}


class _FieldWeights:
    """``field.lang^weight`` lists from the boosts' per-field weights."""

    def __init__(self, boosts: BM25Boosts):
        self.weights = boosts.field_weights()

    def of(self, lang: str, boost: float) -> list[str]:
        return [f"{f}.{lang}^{w * boost:g}" for f, w in self.weights.items() if w > 0]


def _multi_match(text: str, fields: list[str], msm: str, boost: float | None = None) -> dict[str, Any]:
    clause: dict[str, Any] = {
        "query": text,
        "fields": fields,
        "type": "best_fields",
        "tie_breaker": 0.3,
        "minimum_should_match": msm,
    }
    if boost is not None:
        clause["boost"] = boost
    return {"multi_match": clause}


def _phrase(field: str, text: str, boosts: BM25Boosts) -> list[dict[str, Any]]:
    if boosts.phrase <= 0:
        return []
    return [{"match_phrase": {field: {"query": text, "boost": boosts.phrase, "slop": 1}}}]


def _words_clause(lang: str, words: str) -> dict[str, Any]:
    return {
        "match": {
            f"words.{lang}": {
                "query": words,
                "minimum_should_match": TRANSLATION_MINIMUM_SHOULD_MATCH,
                "boost": WORDS_BOOST,
            }
        }
    }


def _lenient_languages(scope: str, others: Sequence[str], translations: Mapping[str, str]) -> list[str]:
    langs = sorted(others)
    if scope in ("others+original", "all"):
        langs = [ORIGINAL, *langs]
    if scope == "all":
        langs += sorted(lang for lang, text in translations.items() if text and lang not in langs)
    return langs


def _typo_clause(text: str, fields: list[str], boost: float) -> dict[str, Any]:
    """Fuzzy matching of ``text`` over those of ``fields`` that hold names (TYPO_FIELDS)."""
    return {
        "multi_match": {
            "query": text,
            "fields": [f for f in fields if f.split(".")[0] in TYPO_FIELDS],
            "type": "best_fields",
            "fuzziness": "AUTO",
            "prefix_length": TYPO_PREFIX_LENGTH,
            "max_expansions": 20,
            "minimum_should_match": MINIMUM_SHOULD_MATCH,
            "boost": boost,
        }
    }


def _without(text: str, protected: Sequence[str]) -> str:
    """``text`` less its protected tokens (whole words, any case)."""
    if not protected:
        return text
    drop = {t.casefold() for t in protected}
    return " ".join(w for w in text.split() if w.casefold() not in drop)


def plain_query(text: str) -> dict[str, Any]:
    """What a default Elasticsearch setup runs (Haystack's BM25 retriever, for one):
    an OR ``multi_match`` with ``fuzziness: AUTO`` over the text as indexed. The
    evaluation's baseline row, so the comparison is with a fair default."""
    return {"multi_match": {"query": text, "fields": list(PLAIN_FIELDS), "fuzziness": "AUTO", "operator": "or"}}


def filtered(query: dict[str, Any], filters: SearchFilters) -> dict[str, Any]:
    clauses = filters.clauses()
    if not clauses:
        return query
    return {"bool": {"must": [query], "filter": clauses}}


def knn_clause(
    vector: Sequence[float], field: str, k: int, num_candidates: int, filters: SearchFilters, boost: float | None = None
) -> dict[str, Any]:
    clause: dict[str, Any] = {
        "field": field,
        "query_vector": [float(x) for x in vector],
        "k": k,
        "num_candidates": max(num_candidates, k),
    }
    clauses = filters.clauses()
    if clauses:
        clause["filter"] = clauses
    if boost is not None:
        clause["boost"] = boost
    return clause


def highlight_body(query: dict[str, Any] | None = None, fields: Sequence[str] = HIGHLIGHT_FIELDS) -> dict[str, Any]:
    body: dict[str, Any] = {
        "fields": {f: {"number_of_fragments": 1, "fragment_size": 160} for f in fields},
        "pre_tags": ["<em>"],
        "post_tags": ["</em>"],
    }
    if query is not None:
        body["highlight_query"] = query
    return body


SOURCE_FIELDS = [
    "id",
    "title",
    "brand",
    "category_path",
    "brand_exact",
    "price",
    "currency",
    "availability",
    "source_language",
    "url",
    "image_url",
]


def page_source_fields(query_lang: str) -> list[str]:
    """The fields a result page shows: the product's own title and the one in the
    query's language, not every language the index holds."""
    return [f for f in SOURCE_FIELDS if f != "title"] + [f"title.{ORIGINAL}", f"title.{query_lang}"]


ID_FIELD = "id"


def ids_only(body: dict[str, Any], docvalue_fields: Sequence[str] = ()) -> dict[str, Any]:
    """A window list's request that carries each hit's id from doc values, not the
    stored fields: reading ``_id`` inflates a block of stored fields, each holding
    the product's ``_source`` (every language's text and, for Kibana, its vectors),
    so a list of 100 hits cost 12 of its 15 ms on a 1,180-product index."""
    out = {k: v for k, v in body.items() if k != "_source"}
    return {**out, "stored_fields": "_none_", "docvalue_fields": [ID_FIELD, *docvalue_fields]}


def hit_id(hit: Mapping[str, Any]) -> str:
    """A hit's product id, from ``_id`` or (for an ``ids_only`` request) the id's doc value."""
    return str(hit["_id"]) if "_id" in hit else str(hit["fields"][ID_FIELD][0])


def bm25_request(
    query: dict[str, Any], filters: SearchFilters, size: int, from_: int = 0, highlight: bool = True
) -> dict[str, Any]:
    body = {
        "query": filtered(query, filters),
        "size": size,
        "from": from_,
        "_source": SOURCE_FIELDS,
        "track_total_hits": True,
    }
    if highlight:
        body["highlight"] = highlight_body()
    return body


def knn_clauses(
    vectors: Mapping[str, Sequence[float]],
    k: int,
    num_candidates: int,
    filters: SearchFilters,
    boost: float | None = None,
) -> list[dict[str, Any]]:
    """One kNN clause per vector field; a boost is shared evenly between them."""
    share = None if boost is None else boost / max(1, len(vectors))
    return [knn_clause(vector, field, k, num_candidates, filters, boost=share) for field, vector in vectors.items()]


def _knn_body(clauses: list[dict[str, Any]]) -> dict[str, Any] | list[dict[str, Any]]:
    return clauses[0] if len(clauses) == 1 else clauses


def knn_request(
    vectors: Mapping[str, Sequence[float]], filters: SearchFilters, k: int, num_candidates: int
) -> dict[str, Any]:
    """kNN over every vector field; with several, Elasticsearch adds their similarities."""
    return {"knn": _knn_body(knn_clauses(vectors, k, num_candidates, filters)), "size": k, "_source": SOURCE_FIELDS}


def combined_request(
    query: dict[str, Any],
    vectors: Mapping[str, Sequence[float]],
    filters: SearchFilters,
    size: int,
    from_: int,
    window: int,
    num_candidates: int,
    knn_boost: float,
) -> dict[str, Any]:
    """One request: BM25 bool plus kNN clauses; Elasticsearch adds the scores."""
    return {
        "query": filtered(query, filters),
        "knn": _knn_body(knn_clauses(vectors, window, num_candidates, filters, boost=knn_boost)),
        "size": size,
        "from": from_,
        "_source": SOURCE_FIELDS,
        "highlight": highlight_body(query),
        "track_total_hits": True,
    }


def retriever_request(
    kind: str,
    query: dict[str, Any],
    vectors: Mapping[str, Sequence[float]],
    filters: SearchFilters,
    size: int,
    from_: int,
    window: int,
    num_candidates: int,
    weights: tuple[float, float] = (1.0, 1.0),
    rank_constant: int = 60,
) -> dict[str, Any]:
    """The cluster's own ``rrf`` or ``linear`` retriever over BM25 and one kNN retriever per vector field."""
    standard = {"standard": {"query": query, **({"filter": filters.clauses()} if filters.clauses() else {})}}
    knns = [{"knn": clause} for clause in knn_clauses(vectors, window, num_candidates, filters)]
    if kind == "rrf":
        retriever = {
            "rrf": {"retrievers": [standard, *knns], "rank_window_size": window, "rank_constant": rank_constant}
        }
    elif kind == "linear":
        knn_weight = weights[1] / max(1, len(knns))
        retriever = {
            "linear": {
                "retrievers": [
                    {"retriever": standard, "weight": weights[0], "normalizer": "minmax"},
                    *({"retriever": knn, "weight": knn_weight, "normalizer": "minmax"} for knn in knns),
                ],
                "rank_window_size": window,
            }
        }
    else:
        raise ValueError(f"unknown retriever {kind!r}")
    return {
        "retriever": retriever,
        "size": size,
        "from": from_,
        "_source": SOURCE_FIELDS,
        "highlight": highlight_body(query),
    }
