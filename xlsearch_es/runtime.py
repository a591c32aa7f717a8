"""One index's runtime: what its ``_meta`` records, and the models that match it.

Search, the service, ingest (local and Ray), evaluation and training all need
the same things about an index: its languages, its vector fields and the
embedders that fill them, its translator, the languages it cuts into words, its
attribute fields, its tuning. ``IndexRuntime.open`` reads them once, the same way
for all of them; ``IndexMeta`` is the typed ``_meta`` they come from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from elasticsearch import Elasticsearch

from .categories import META_KEY as CATEGORY_KEY
from .categories import CategoryMap
from .cluster.connection import cluster_errors
from .cluster.indices import is_xlsearch_meta, read_meta
from .config import Settings
from .embed.base import Embedder, as_embedders, load_embedders
from .embed.languages import covers
from .embed.manifest import trained_on
from .errors import XLSearchError
from .mapping import JUDGED_META_KEY, index_models, judged_fields, recorded_encoder
from .service import check_compatible, settings_for_index
from .translate.base import Translator
from .translate.factory import make_translator


@dataclass(frozen=True)
class IndexMeta:
    """An xlsearch index's ``_meta``, typed (older layouts read the same way)."""

    languages: tuple[str, ...]
    models: Mapping[str, Mapping[str, Any]]  # vector field -> recorded model, in the index's field order
    translator: str | None = None
    segmented: tuple[str, ...] = ()  # languages the client cuts into words (words.<lang>)
    attribute_fields: tuple[str, ...] = ()  # attr.<kind> keyword fields
    tuning: Mapping[str, Any] | None = None  # what ``xlsearch tune`` stored (search/tuning.py reads it)
    categories: CategoryMap = field(default_factory=CategoryMap)  # one key per category across languages
    shards: int = 1  # primary shards, as the index recorded its layout (older indices: 1)
    judged: Mapping[str, str] = field(default_factory=dict)  # judged field -> its encoder field (learn/judged.py)
    raw: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, meta: Mapping[str, Any] | None) -> IndexMeta:
        meta = meta or {}
        return cls(
            languages=tuple(meta.get("languages") or ()),
            models=index_models(dict(meta)),
            translator=meta.get("translator"),
            segmented=tuple(meta.get("segmented") or ()),
            attribute_fields=tuple(meta.get("attribute_fields") or ()),
            tuning=meta.get("tuning") if isinstance(meta.get("tuning"), dict) else None,
            categories=CategoryMap.parse(meta.get(CATEGORY_KEY)),
            shards=int((meta.get("layout") or {}).get("shards") or 1),
            judged=judged_fields(meta),
            raw=dict(meta),
        )

    @property
    def vector_fields(self) -> list[str]:
        return list(self.models)

    def encoder_of(self, vector_field: str) -> str:
        """The registered encoder kind that fills ``vector_field``."""
        return recorded_encoder(self.models[vector_field])


@dataclass
class IndexRuntime:
    """An index and the models that search or fill it, loaded once."""

    alias: str
    settings: Settings  # adopted to the index: its encoders and their precision
    meta: IndexMeta
    embedders: dict[str, Embedder]  # vector field -> embedder, the index's fields only, in its order
    translator: Translator

    @classmethod
    def open(
        cls,
        settings: Settings,
        es: Elasticsearch,
        *,
        embedders: Embedder | Mapping[str, Embedder] | None = None,
        translator: Translator | None = None,
        adopt: bool = True,
    ) -> IndexRuntime:
        """The runtime of ``settings.index``. With ``embedders`` given they must match
        the index's recorded models; without, the index's encoders load (``adopt``
        also takes their precision). An alias that is missing or not ours is refused."""
        alias = settings.index
        with cluster_errors(settings):
            raw = read_meta(es, alias)
        if raw is None:
            raise XLSearchError(f"no index named {alias!r}; load a catalog with 'xlsearch ingest FILE --index {alias}'")
        if not is_xlsearch_meta(raw):
            raise XLSearchError(f"{alias!r} is not an index xlsearch manages; load a catalog into it first")
        return cls.from_meta(settings, raw, embedders=embedders, translator=translator, adopt=adopt)

    @classmethod
    def from_meta(
        cls,
        settings: Settings,
        raw: Mapping[str, Any],
        *,
        embedders: Embedder | Mapping[str, Embedder] | None = None,
        translator: Translator | None = None,
        adopt: bool = True,
    ) -> IndexRuntime:
        meta = IndexMeta.parse(raw)
        if embedders is None:
            settings = settings_for_index(settings, dict(raw), precision=adopt)
            loaded = load_embedders(settings)
        else:
            loaded = as_embedders(embedders)
        check_compatible(dict(raw), {f: e.meta() for f, e in loaded.items()}, settings.index)
        order = [f for f in meta.vector_fields if f in loaded] or list(loaded)
        return cls(
            alias=settings.index,
            settings=settings,
            meta=meta,
            embedders={f: loaded[f] for f in order},
            translator=translator or make_translator(settings, meta.translator),
        )

    @property
    def languages(self) -> list[str]:
        return list(self.meta.languages or self.settings.languages)

    @property
    def vector_fields(self) -> list[str]:
        return list(self.embedders)

    @property
    def knn_fields(self) -> list[str]:
        """Every field a kNN list is searched on, in list order: the encoder fields, then
        the judged fields of those encoders (their position names their lists)."""
        judged = [j for j, source in self.meta.judged.items() if source in self.embedders]
        return self.vector_fields + judged

    @cached_property
    def judged_redundant(self) -> bool:
        """Whether the served model or query adapter was trained on the judgments the index's
        judged vectors came from (their manifests' data hash): the two then carry the same
        evidence, and search gives the judged lists less weight by default."""
        learnt = self.meta.raw.get(JUDGED_META_KEY)
        source = learnt.get("data_hash") if isinstance(learnt, Mapping) else None
        if not source or not self.meta.judged:
            return False
        return bool(trained_on(self.settings.model_ref, self.settings.query_adapter, source))

    def query_field_of(self, knn_field: str) -> str:
        """The encoder field whose query vector searches ``knn_field`` (itself, for an encoder field)."""
        return self.meta.judged.get(knn_field, knn_field)

    @property
    def dfs(self) -> bool:
        """Whether scored queries gather the whole index's term statistics first."""
        chosen = self.settings.search_dfs
        return self.meta.shards > 1 if chosen is None else chosen

    @property
    def segmented(self) -> tuple[str, ...]:
        return self.meta.segmented

    @property
    def attribute_fields(self) -> tuple[str, ...]:
        return self.meta.attribute_fields

    def encoder_languages(self, vector_field: str) -> tuple[str, ...]:
        """The languages the field's encoder declares (as the index recorded them, else as
        the loaded encoder declares them); () = not declared, trusted with every language."""
        recorded = self.meta.models.get(vector_field, {}).get("languages")
        return tuple(recorded) if recorded else self.embedders[vector_field].meta().languages

    def widest_field(self) -> str:
        """The vector field whose encoder declares the most languages (undeclared: all of them)."""
        return max(self.vector_fields, key=lambda f: len(self.encoder_languages(f)) or 10_000)

    def covers(self, vector_field: str, lang: str) -> bool:
        """Whether the field's encoder reads ``lang`` (``Settings.uncovered_languages`` can
        declare a pair uncovered, to see how search routes a language no encoder knows)."""
        kind = self.meta.encoder_of(vector_field) if vector_field in self.meta.models else ""
        kind = kind or self.embedders[vector_field].meta().encoder
        if f"{kind}:{lang}" in self.settings.uncovered_languages:
            return False
        return covers(self.encoder_languages(vector_field), lang)


__all__ = ["IndexMeta", "IndexRuntime"]
