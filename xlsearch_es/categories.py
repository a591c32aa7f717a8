"""One category, one key: the same category written in several catalog languages.

A catalog in five languages has "Clothing > Women > Dresses", "Ropa > Mujer >
Vestidos" and "服装 > 女装 > 连衣裙" for one kind of product. Facets, filters and
the query's product type treat them as one category with one key.

Which paths belong together is decided from the products, not from the words:
each path's products have a mean vector (the multilingual encoder puts a dress
near a dress whatever its language), and paths are linked greedily, closest
first (average linkage), never two paths of one language in one category (a
shop's own taxonomy in one language names different categories differently)
and never below ``LINK_THRESHOLD``. On the sample catalog that rebuilds its 16
categories exactly; a dictionary's translations of the paths cannot (it gives
"garments" for "Vestidos" and "platform" for "ホーム").

The map lives in the index's ``_meta`` (ingest/categories.py writes it); a path
it does not know (written since) is its own key, so nothing breaks before the
next load recomputes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Average cosine between two paths' mean product vectors (multilingual-e5) above
# which they can be one category. On the sample catalog the same category across
# languages links at 0.80-0.95 and any link the language rule allows between
# different categories stays below 0.75.
LINK_THRESHOLD = 0.8
META_KEY = "categories"


@dataclass(frozen=True)
class PathInfo:
    """One category path as the index holds it: its language, its products' mean
    vector and its translations (language -> the path in that language)."""

    path: str
    language: str
    centroid: Sequence[float]
    translations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CategoryMap:
    """Keys to the paths they join (one per language) and their labels per language.

    A key is one of its own paths (the one in the index's first language that has
    one), so a filter on a key and a filter on that path select the same products."""

    members: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # key -> language -> path
    labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # key -> language -> label

    @classmethod
    def parse(cls, raw: Any) -> CategoryMap:
        if not isinstance(raw, Mapping):
            return cls()
        members, labels = raw.get("members"), raw.get("labels")
        members = members if isinstance(members, Mapping) else {}
        labels = labels if isinstance(labels, Mapping) else {}
        return cls(
            members={str(k): dict(v) for k, v in members.items() if isinstance(v, Mapping)},
            labels={str(k): dict(v) for k, v in labels.items() if isinstance(v, Mapping)},
        )

    def as_meta(self) -> dict[str, Any]:
        return {
            "members": {k: dict(v) for k, v in self.members.items()},
            "labels": {k: dict(v) for k, v in self.labels.items()},
        }

    def __bool__(self) -> bool:
        return bool(self.members)

    def key_of(self, path: str) -> str:
        """The key of a path (a path the map does not know is its own key)."""
        return self._keys().get(path, path)

    def paths_of(self, key: str) -> list[str]:
        """Every path a key joins (a key the map does not know: itself, as a path)."""
        members = self.members.get(key)
        return sorted(set(members.values())) if members else [key]

    def label(self, key: str, lang: str) -> str:
        """The key as a shopper writing ``lang`` reads it: the catalog's own path in that
        language, else the pipeline's translation of it, else the key."""
        return (self.members.get(key) or {}).get(lang) or (self.labels.get(key) or {}).get(lang) or key

    def merge_counts(self, counts: Mapping[str, int]) -> dict[str, int]:
        """Path counts (a facet's buckets) summed per key, largest first (ties by key)."""
        out: dict[str, int] = {}
        for path, n in counts.items():
            key = self.key_of(path)
            out[key] = out.get(key, 0) + n
        return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))

    def _keys(self) -> dict[str, str]:
        return {path: key for key, members in self.members.items() for path in members.values()}


def link_categories(
    paths: Sequence[PathInfo], languages: Sequence[str], threshold: float = LINK_THRESHOLD
) -> CategoryMap:
    """Group paths into categories (see the module's docstring) and name each group."""
    if not paths:
        return CategoryMap()
    groups = _link(paths, threshold)
    order = {lang: i for i, lang in enumerate(languages)}
    members: dict[str, dict[str, str]] = {}
    labels: dict[str, dict[str, str]] = {}
    for group in groups:
        infos = sorted((paths[i] for i in group), key=lambda p: (order.get(p.language, len(order)), p.language))
        key = infos[0].path
        members[key] = {p.language: p.path for p in infos}
        translated: dict[str, str] = {}
        for p in infos:  # the key's own translation first, then its other members'
            for lang, text in p.translations.items():
                if lang not in members[key] and text:
                    translated.setdefault(lang, text)
        labels[key] = translated
    return CategoryMap(members=dict(sorted(members.items())), labels=dict(sorted(labels.items())))


def _link(paths: Sequence[PathInfo], threshold: float) -> list[list[int]]:
    """Constrained average-linkage clustering: merge the closest pair of groups that share
    no language, until no pair is at or above ``threshold``. Rows and columns of the merged
    group are updated in place (O(n) per merge, one argmax over n x n to pick the next)."""
    vectors = np.array([np.asarray(p.centroid, dtype=np.float64) for p in paths])
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    n = len(paths)
    sums = vectors @ vectors.T  # sum of pairwise similarities between two groups' members
    sizes = np.ones(n)
    language = np.array([p.language for p in paths])
    clash = language[:, None] == language[None, :]  # the two groups hold a path of the same language
    score = np.where(clash, -np.inf, sums)
    groups: list[list[int] | None] = [[i] for i in range(n)]
    alive = np.ones(n, dtype=bool)
    while True:
        a, b = np.unravel_index(int(np.argmax(score)), score.shape)
        if not np.isfinite(score[a, b]) or score[a, b] < threshold:
            break
        a, b = min(a, b), max(a, b)
        sums[a, :] += sums[b, :]
        sums[:, a] = sums[a, :]
        sizes[a] += sizes[b]
        clash[a, :] |= clash[b, :]
        clash[:, a] = clash[a, :]
        alive[b] = False
        score[a, :] = np.where(clash[a, :] | ~alive, -np.inf, sums[a, :] / (sizes[a] * sizes))
        score[:, a] = score[a, :]
        score[b, :] = score[:, b] = -np.inf
        group_a, group_b = groups[a], groups[b]
        assert group_a is not None and group_b is not None
        groups[a], groups[b] = group_a + group_b, None
    return [g for g in groups if g is not None]
