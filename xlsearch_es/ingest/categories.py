"""Recording the category map (xlsearch_es/categories.py) at the end of a load.

Every distinct path is read back from the index with a sample of its products'
vectors, so a load that adds a language or a few products relinks the whole
catalog, not only what it sent. Vectors the index keeps out of ``_source``
cannot be sampled; the map is then left empty (each path its own facet), with a
note, rather than guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from elasticsearch import Elasticsearch

from ..categories import META_KEY, CategoryMap, PathInfo, link_categories
from ..cluster.indices import index_meta
from ..mapping import ORIGINAL

SAMPLE_PER_PATH = 16
PAGE = 200


def read_paths(es: Elasticsearch, index: str, vector_field: str) -> list[PathInfo]:
    """Each category path in the index: its language (its products' most common source
    language), the mean of up to ``SAMPLE_PER_PATH`` product vectors, its translations."""
    out: list[PathInfo] = []
    after: dict[str, Any] | None = None
    while True:
        composite: dict[str, Any] = {"size": PAGE, "sources": [{"path": {"terms": {"field": "category_path"}}}]}
        if after:
            composite["after"] = after
        aggs = {
            "paths": {
                "composite": composite,
                "aggs": {
                    "lang": {"terms": {"field": "source_language", "size": 1}},
                    "sample": {
                        "top_hits": {
                            "size": SAMPLE_PER_PATH,
                            "sort": [{"id": "asc"}],
                            "_source": {"includes": [vector_field, "category"]},
                        }
                    },
                },
            }
        }
        resp = es.search(index=index, size=0, aggs=aggs)
        result = resp["aggregations"]["paths"]
        for bucket in result["buckets"]:
            info = _path_info(bucket, vector_field)
            if info is not None:
                out.append(info)
        after = result.get("after_key")
        if not result["buckets"] or not after:
            return out


def _path_info(bucket: dict[str, Any], vector_field: str) -> PathInfo | None:
    sources = [h.get("_source", {}) for h in bucket["sample"]["hits"]["hits"]]
    vectors = [s[vector_field] for s in sources if isinstance(s.get(vector_field), list)]
    if not vectors:
        return None
    langs = bucket["lang"]["buckets"]
    translations = {k: v for k, v in (sources[0].get("category") or {}).items() if k != ORIGINAL and isinstance(v, str)}
    return PathInfo(
        path=bucket["key"]["path"],
        language=langs[0]["key"] if langs else "",
        centroid=np.mean(np.asarray(vectors, dtype=np.float64), axis=0).tolist(),
        translations=translations,
    )


def record_categories(es: Elasticsearch, index: str, vector_field: str, languages: Sequence[str]) -> CategoryMap:
    """Link the index's category paths and write the map into its ``_meta``."""
    paths = read_paths(es, index, vector_field)
    mapping = link_categories(paths, languages)
    meta = index_meta(es, index)
    meta[META_KEY] = mapping.as_meta()
    es.indices.put_mapping(index=index, meta=meta)
    return mapping
