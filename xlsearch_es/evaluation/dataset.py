"""A BEIR-layout relevance set: its queries (one hash split, optionally a seeded
sample per language), its judgments, and its corpus as a catalog to ingest."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import XLSearchError
from ..relevance.judgments import SplitPolicy, corpus_record
from ..text.languages import iso639_1
from ..text.normalize import normalize

SPLITS = ("test", "validation", "train", "all")


@dataclass
class Dataset:
    name: str
    path: Path
    queries: list[dict[str, str]]
    qrels: dict[str, dict[str, int]]

    @property
    def languages(self) -> list[str]:
        return sorted({q.get("lang") or "und" for q in self.queries})


def load_dataset(
    path: Path,
    sample: int | None = None,
    seed: int = 13,
    languages: list[str] | None = None,
    split: str = "all",
    policy: SplitPolicy | None = None,
) -> Dataset:
    """Queries and qrels of a BEIR folder; ``split`` keeps one hash split of the
    queries (see ``learn.judgments``), ``sample`` then keeps N per language."""
    for name in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
        if not (path / name).is_file():
            raise XLSearchError(f"{path} is not a BEIR dataset: {name} is missing")
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    with (path / "qrels" / "test.tsv").open(encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            parts = line.rstrip("\n").split("\t")
            if i == 0 and not parts[-1].lstrip("-").isdigit():
                continue  # header
            if len(parts) >= 3:
                qrels[parts[0]][parts[1]] = int(parts[2])
    queries = [q for q in _read_jsonl(path / "queries.jsonl") if q["_id"] in qrels]
    if languages:
        queries = [q for q in queries if q.get("lang") in languages]
    if split != "all":
        policy = policy or SplitPolicy()
        queries = [
            q for q in queries if policy.split_of(iso639_1(q.get("lang")) or "und", normalize(str(q["text"]))) == split
        ]
    if sample:
        by_lang: dict[str, list[dict]] = defaultdict(list)
        for q in queries:
            by_lang[q.get("lang") or "und"].append(q)
        rng = random.Random(seed)
        queries = [
            q
            for lang in sorted(by_lang)
            for q in sorted(rng.sample(by_lang[lang], min(sample, len(by_lang[lang]))), key=lambda q: q["_id"])
        ]
    return Dataset(name=path.name, path=path, queries=queries, qrels=dict(qrels))


def _read_jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def corpus_as_catalog(path: Path, out: Path, doc_language: str = "en") -> int:
    """BEIR documents -> catalog records (title, else the text's start; text as description)."""
    n = 0
    with out.open("w", encoding="utf-8") as fh:
        for doc in _read_jsonl(path / "corpus.jsonl"):
            fh.write(json.dumps(corpus_record(doc, doc_language), ensure_ascii=False) + "\n")
            n += 1
    return n
