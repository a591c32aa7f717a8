"""Senses in context: which of a word's dictionary readings a query means.

A dictionary lists a word's readings in its own order ("blanca": snow, cocaine,
half note... and, read as the masculine "blanco", white; "背包": knapsack,
rucksack, infantry pack). A query has two better witnesses than that order:

- the catalog: a reading that no product's text in the target language holds is
  not what a shopper of this shop means ("cocaine", "half note");
- the query itself: the multilingual encoder places each reading near the whole
  query or not ("cafetera blanca" sits nearer "white" than "snow").

And a shop's attribute words come first: a word that reads as a colour or a
material in English ("rosa": pink or rose) means the attribute, so the queried
colour meets the products' ``attr.color`` (text/attributes.py).

Each reading scores CATALOG_BONUS when the catalog holds it, ATTRIBUTE_BONUS when it
is an attribute value, less POSITION_PENALTY per place in the dictionary's order; the first
MAX_CONTENDERS readings the catalog holds (of all, when it could not say) add
EMBED_WEIGHT times their cosine with the query, in queries of up to MAX_CONTEXT_WORDS
words. The backend hands over a query's words first (``prepare``), so the catalog and
the encoder are asked once per query, not once per word; only readings into English
(the pivot) are chosen here.
A cluster that cannot answer leaves the catalog out (never an error: translation
must not fail a search). Weights were set by hand and checked on the colour test
(tests/data/colour_queries.tsv) and on the shared sets (README).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
from elasticsearch import ApiError, Elasticsearch, TransportError

from ..embed.base import Embedder
from ..text.attributes import extract

PIVOT = "en"  # the lexicon bridges through English; the attribute vocabulary is English
CATALOG_BONUS = 1.0
ATTRIBUTE_BONUS = 0.5
EMBED_WEIGHT = 4.0
POSITION_PENALTY = 0.05
# The encoder compares at most this many readings a word (the best by the other evidence),
# and only in queries of at most MAX_CONTEXT_WORDS words: shopper queries are short, and a
# long question's readings would cost an encoder pass of dozens of strings (~40 ms here).
MAX_CONTENDERS = 3
MAX_CONTEXT_WORDS = 6
CATALOG_CACHE = 50_000  # (language, phrase) answers kept per index


class CatalogTerms:
    """Whether a phrase occurs in the catalog's text of a language (title or category),
    asked once per phrase: one _msearch for all of a query's new phrases."""

    def __init__(self, es: Elasticsearch, index: str, max_entries: int = CATALOG_CACHE):
        self.es = es
        self.index = index
        self.max_entries = max_entries
        self._known: OrderedDict[tuple[str, str], bool] = OrderedDict()
        self._lock = threading.Lock()

    def occurs(self, lang: str, phrases: Sequence[str]) -> list[bool] | None:
        """Per phrase, whether any product holds it; None when the cluster could not say."""
        with self._lock:
            todo = [p for p in dict.fromkeys(phrases) if (lang, p) not in self._known]
        if todo:
            found = self._ask(lang, todo)
            if found is None:
                return None
            with self._lock:
                for phrase, hit in zip(todo, found):
                    self._known[(lang, phrase)] = hit
                while len(self._known) > self.max_entries:
                    self._known.popitem(last=False)
        with self._lock:
            return [self._known.get((lang, p), False) for p in phrases]

    def _ask(self, lang: str, phrases: list[str]) -> list[bool] | None:
        fields = [f"title.{lang}", f"category.{lang}"]
        searches: list[dict[str, object]] = []
        for phrase in phrases:
            searches.append({"index": self.index})
            searches.append(
                {
                    "size": 0,
                    "track_total_hits": 1,
                    "query": {"multi_match": {"query": phrase, "type": "phrase", "fields": fields}},
                }
            )
        try:
            answers = self.es.msearch(searches=searches)["responses"]
        except (ApiError, TransportError):  # a cluster that cannot say leaves the catalog out
            return None
        if any("error" in a for a in answers):
            return None
        return [a["hits"]["total"]["value"] > 0 for a in answers]


class ReadingVectors:
    """Unit vectors of readings, shared by every query of a searcher: a shop's words recur
    ("white", "dress"), so most readings are embedded once."""

    def __init__(self, max_entries: int = 20_000):
        self.max_entries = max_entries
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, reading: str) -> np.ndarray | None:
        with self._lock:
            return self._vectors.get(reading)

    def put(self, reading: str, vector: np.ndarray) -> None:
        with self._lock:
            self._vectors[reading] = vector
            while len(self._vectors) > self.max_entries:
                self._vectors.popitem(last=False)


class QuerySenses:
    """The SenseChooser for one query (translate/base.py). It decides the readings into
    English only: the pivot every other target is bridged through and the attribute
    vocabulary's language. Legs out of English keep the dictionary's compiled choice.
    So a query costs at most one catalog request and one encoder call."""

    def __init__(
        self,
        query: str,
        catalog: CatalogTerms | None,
        embedder: Embedder | None,
        shared: ReadingVectors | None = None,
    ):
        self.query = query
        self.catalog = catalog
        self.embedder = embedder
        self.shared = shared or ReadingVectors()
        self.use_encoder = embedder is not None and len(query.split()) <= MAX_CONTEXT_WORDS
        self._query_vector: np.ndarray = np.zeros(0, dtype=np.float32)
        self._vectors: dict[str, np.ndarray] = {}  # reading -> unit vector, for this query
        self._chosen: dict[tuple[str, tuple[str, ...]], int] = {}  # the English pivot recurs per target

    @property
    def choices(self) -> list[tuple[str, list[str], str]]:
        """(language, readings, chosen) per word decided: for tests and traces."""
        return [(tgt, list(readings), readings[i]) for (tgt, readings), i in self._chosen.items()]

    def handles(self, tgt: str) -> bool:
        return tgt == PIVOT

    def prepare(self, tgt: str, words: Sequence[Sequence[str]]) -> None:
        """Ask the catalog about every word's readings at once (one request), then embed the
        readings left to compare (one encoder call): a query costs two calls per language,
        not two per word."""
        phrases = list(dict.fromkeys(r for readings in words if len(readings) > 1 for r in readings))
        if not phrases:
            return
        occurs = self.catalog.occurs(tgt, phrases) if self.catalog else None
        held = dict(zip(phrases, occurs)) if occurs is not None else None
        if not self.use_encoder:
            return
        compare = [
            r
            for readings in words
            for r in self._contenders(readings, held)
            if len(self._contenders(readings, held)) > 1
        ]
        self._embed(compare)

    def choose(self, tgt: str, readings: Sequence[str]) -> int:
        key = (tgt, tuple(readings))
        if key not in self._chosen:
            self._chosen[key] = self._best(tgt, readings)
        return self._chosen[key]

    def _best(self, tgt: str, readings: Sequence[str]) -> int:
        scores = [-POSITION_PENALTY * i for i in range(len(readings))]
        if tgt == PIVOT:
            scores = [s + ATTRIBUTE_BONUS * bool(extract([r])) for s, r in zip(scores, readings)]
        occurs = self.catalog.occurs(tgt, readings) if self.catalog else None  # cached by prepare
        held = dict(zip(readings, occurs)) if occurs is not None else None
        if held is not None:
            scores = [s + CATALOG_BONUS * held[r] for s, r in zip(scores, readings)]
        contenders = self._contenders(readings, held)
        if self.use_encoder and len(contenders) > 1:
            self._embed(contenders)
            for i, r in enumerate(readings):
                if r in contenders:
                    scores[i] += EMBED_WEIGHT * float(self._vectors[r] @ self._query_vector)
        return max(range(len(readings)), key=lambda i: scores[i])

    @staticmethod
    def _contenders(readings: Sequence[str], held: dict[str, bool] | None) -> list[str]:
        """The readings the query's embedding compares: the first MAX_CONTENDERS the catalog
        holds (of all, when it could not say); a reading no product holds needs no encoder."""
        found = list(readings) if held is None else [r for r in readings if held.get(r)]
        return found[:MAX_CONTENDERS]

    def _embed(self, readings: Sequence[str]) -> None:
        assert self.embedder is not None
        for r in readings:
            if r not in self._vectors and (known := self.shared.get(r)) is not None:
                self._vectors[r] = known
        todo = [r for r in dict.fromkeys(readings) if r not in self._vectors]
        if not todo and self._query_vector.size:
            return
        texts = todo if self._query_vector.size else [self.query, *todo]
        vectors = _unit(self.embedder.encode(texts, role="query"))
        if not self._query_vector.size:
            self._query_vector, vectors = vectors[0], vectors[1:]
        self._vectors.update(zip(todo, vectors))
        for r, v in zip(todo, vectors):
            self.shared.put(r, v)


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
