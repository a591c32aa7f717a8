"""Judgments a shop already has, as (query, product, grade) triples, and the split.

Two inputs: a BEIR folder (corpus.jsonl, queries.jsonl with ``lang``,
qrels/*.tsv) or a click/purchase log (JSONL: ``query``, ``product_id``, optional
``clicks``, ``purchases``, ``lang``, ``timestamp``) whose products come from an
index or a catalog file. Logs are streamed and folded into one grade per
(query, product), so memory follows the distinct pairs, not the log's length.

Every query falls in one split by a hash of its language and text, so reruns,
``train``, ``tune`` and ``eval`` all agree, and a query asked twice never lands
on both sides: ``test`` (held out: never trained or tuned on), ``validation``
(early stopping and tuning) and ``train``.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..embed.fingerprints import file_hash
from ..errors import XLSearchError
from ..ingest.document import passage_text
from ..ingest.records import InvalidRecord, Rejection, validate
from ..text.languages import iso639_1
from ..text.normalize import normalize

SPLIT_SALT = "xlsearch-split-v1"
DEFAULT_HOLDOUT = 0.5  # share of queries held out for honest evaluation
DEFAULT_VALIDATION = 0.1  # share of all queries used for early stopping and tuning
SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class SplitPolicy:
    holdout: float = DEFAULT_HOLDOUT
    validation: float = DEFAULT_VALIDATION
    salt: str = SPLIT_SALT

    def __post_init__(self) -> None:
        if not 0 <= self.holdout < 1 or not 0 < self.validation < 1 or self.holdout + self.validation >= 1:
            raise XLSearchError("split shares must satisfy 0 <= holdout, 0 < validation, holdout + validation < 1")

    def split_of(self, lang: str, text: str) -> str:
        key = f"{self.salt}|{lang}|{normalize(text).casefold()}"
        bucket = int(hashlib.sha256(key.encode()).hexdigest()[:12], 16) / float(1 << 48)
        if bucket < self.holdout:
            return "test"
        return "validation" if bucket < self.holdout + self.validation else "train"

    def as_dict(self) -> dict[str, Any]:
        return {"holdout": self.holdout, "validation": self.validation, "salt": self.salt}


@dataclass(frozen=True)
class Query:
    id: str
    text: str
    lang: str


@dataclass
class Judgments:
    """Queries, the passage text of every product they can rank, and grades."""

    name: str
    queries: dict[str, Query]
    passages: dict[str, str]  # product id -> text the encoder sees
    qrels: dict[str, dict[str, int]]  # query id -> product id -> grade (0 = judged not relevant)
    data_hash: str
    rejected: list[Rejection] = field(default_factory=list)

    def relevant(self, qid: str) -> dict[str, int]:
        return {d: g for d, g in self.qrels.get(qid, {}).items() if g > 0 and d in self.passages}

    def split(self, policy: SplitPolicy, which: str) -> list[Query]:
        """Queries of one split that have a relevant product, in a stable order."""
        return [
            q
            for qid, q in sorted(self.queries.items())
            if self.relevant(qid) and policy.split_of(q.lang, q.text) == which
        ]


def _jsonl(path: Path) -> Iterator[tuple[int, str]]:
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            text = raw.decode("utf-8", "replace")
            if text.strip():
                yield lineno, text


def beir_hash(folder: Path) -> str:
    """Identifies a BEIR set by its queries and judgments (what a split is drawn from)."""
    return file_hash([folder / "queries.jsonl", *sorted((folder / "qrels").glob("*.tsv"))])


def corpus_record(doc: dict[str, Any], language: str = "en") -> dict[str, Any]:
    """A BEIR document as a catalog record: its title (else the text's start), the text as description."""
    text = (doc.get("text") or "").strip()
    title = (doc.get("title") or "").strip() or text[:1000]
    record = {"id": doc["_id"], "title": title, "language": language}
    if text and text != title:
        record["description"] = text
    return record


def load_beir(folder: Path) -> Judgments:
    for name in ("corpus.jsonl", "queries.jsonl"):
        if not (folder / name).is_file():
            raise XLSearchError(f"{folder} is not a BEIR folder: {name} is missing")
    qrel_files = sorted((folder / "qrels").glob("*.tsv"))
    if not qrel_files:
        raise XLSearchError(f"{folder} is not a BEIR folder: qrels/*.tsv is missing")
    rejected: list[Rejection] = []
    passages: dict[str, str] = {}
    for lineno, text in _jsonl(folder / "corpus.jsonl"):
        try:
            doc = json.loads(text)
            passages[str(doc["_id"])] = passage_text(validate(lineno, corpus_record(doc)))
        except (ValueError, KeyError, TypeError, InvalidRecord) as exc:
            rejected.append(Rejection(line=lineno, reason=f"corpus.jsonl: {exc}", raw=text[:2000]))
    queries: dict[str, Query] = {}
    for lineno, text in _jsonl(folder / "queries.jsonl"):
        try:
            q = json.loads(text)
            lang = iso639_1(q.get("lang")) or "und"
            queries[str(q["_id"])] = Query(str(q["_id"]), normalize(str(q["text"])), lang)
        except (ValueError, KeyError, TypeError) as exc:
            rejected.append(Rejection(line=lineno, reason=f"queries.jsonl: {exc}", raw=text[:2000]))
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    for path in qrel_files:
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            parts = line.split("\t")
            if len(parts) < 3 or (lineno == 1 and not parts[2].strip().lstrip("-").isdigit()):
                continue
            try:
                qrels[parts[0]][parts[1]] = int(parts[2])
            except ValueError:
                rejected.append(
                    Rejection(line=lineno, reason=f"{path.name}: grade {parts[2]!r} is not an integer", raw=line)
                )
    return Judgments(
        name=folder.name,
        queries=queries,
        passages=passages,
        qrels=dict(qrels),
        data_hash=beir_hash(folder),
        rejected=rejected,
    )


def _grade(record: dict[str, Any]) -> int:
    """Purchases outweigh clicks; a line with neither counts as one click."""
    clicks, purchases = record.get("clicks", 1), record.get("purchases", 0)
    for name, value in (("clicks", clicks), ("purchases", purchases)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value != value:
            raise InvalidRecord(f"{name} must be a non-negative number, got {value!r}")
    return 2 if purchases > 0 else 1 if clicks > 0 else 0


def load_click_log(path: Path, products: dict[str, str], fallback_lang: str = "und") -> Judgments:
    """Fold a click/purchase log into graded pairs; ``products`` maps id -> passage text."""
    if not path.is_file():
        raise XLSearchError(f"click log {path} does not exist")
    rejected: list[Rejection] = []
    pairs: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    texts: dict[tuple[str, str], str] = {}
    for lineno, text in _jsonl(path):
        try:
            record = json.loads(text)
            if not isinstance(record, dict):
                raise InvalidRecord("a log line must be a JSON object")
            query, pid = record.get("query"), record.get("product_id")
            if not isinstance(query, str) or not normalize(query):
                raise InvalidRecord("missing query")
            if isinstance(pid, bool) or not isinstance(pid, (str, int)) or str(pid) == "":
                raise InvalidRecord("missing product_id")
            pid = str(pid)
            if pid not in products:
                raise InvalidRecord(f"product {pid!r} is not in the catalog")
            lang = iso639_1(record.get("lang")) if record.get("lang") is not None else fallback_lang
            if lang is None:
                raise InvalidRecord(f"lang must be an ISO 639-1 code, got {record.get('lang')!r}")
            grade = _grade(record)
        except (ValueError, RecursionError, InvalidRecord) as exc:
            rejected.append(Rejection(line=lineno, reason=str(exc), raw=text.rstrip("\n")))
            continue
        key = (lang, normalize(query).casefold())  # one query, however it was typed
        texts.setdefault(key, normalize(query))
        pairs[key][pid] = max(pairs[key].get(pid, 0), grade)
    if not pairs:
        raise XLSearchError(f"{path} holds no usable (query, product_id) line; see the rejected lines")
    queries, qrels = {}, {}
    for (lang, folded), grades in pairs.items():
        qid = "q" + hashlib.sha1(f"{lang}|{folded}".encode()).hexdigest()[:12]
        queries[qid] = Query(qid, texts[(lang, folded)], lang)
        qrels[qid] = grades
    return Judgments(
        name=path.stem, queries=queries, passages=products, qrels=qrels, data_hash=file_hash([path]), rejected=rejected
    )


def catalog_passages(path: str, field_map: dict[str, str] | None = None) -> dict[str, str]:
    """Product id -> passage text, from a catalog file (invalid records are skipped)."""
    from ..ingest.records import detect_format, read_records
    from ..ingest.source import validated

    out: dict[str, str] = {}
    for record in read_records(path, detect_format(path, None), field_map):
        product, _ = validated(record)
        if product is not None:
            out[product.id] = passage_text(product)
    return out


def index_passages(client: Any, alias: str) -> dict[str, str]:
    """Product id -> passage text, rebuilt from an xlsearch index's documents."""
    from elasticsearch import helpers

    from ..ingest.document import SOURCE_FOR_PASSAGE, passage_from_source

    return {
        hit["_id"]: passage_from_source(hit.get("_source", {}))
        for hit in helpers.scan(client, index=alias, query={"query": {"match_all": {}}}, _source=SOURCE_FOR_PASSAGE)
    }


def load_judgments(data: Path, *, products: dict[str, str] | None = None) -> Judgments:
    """A BEIR folder, or a click log (then ``products`` is required)."""
    if data.is_dir():
        return load_beir(data)
    if products is None:
        raise XLSearchError("a click log needs its products: pass --catalog FILE or --index NAME")
    return load_click_log(data, products)


def load_judgments_from(
    data: Path, *, catalog: str | None = None, index: tuple[Any, str] | None = None, dead_letter: Path
) -> tuple[Judgments, Path | None]:
    """Judgments from a BEIR folder, or a click log whose products come from a
    ``catalog`` file or an ``index`` ((client, alias)). Unusable lines go to
    ``dead_letter`` (returned when there were any): none is dropped silently."""
    products = None
    if not data.is_dir():
        if catalog:
            products = catalog_passages(catalog)
        elif index is not None:
            products = index_passages(*index)
    judgments = load_judgments(data, products=products)
    if not judgments.rejected:
        return judgments, None
    dead_letter.parent.mkdir(parents=True, exist_ok=True)
    with dead_letter.open("w", encoding="utf-8") as fh:
        for rej in judgments.rejected:
            fh.write(json.dumps(rej.as_dict(), ensure_ascii=False) + "\n")
    return judgments, dead_letter
