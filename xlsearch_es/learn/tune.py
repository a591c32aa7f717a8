"""``xlsearch tune``: learn the search parameters of one index from judgments.

On the validation split (by query hash, so never the held-out queries), each
query's BM25 and kNN lists are fetched once per setting that changes them
(BM25 boosts, translation blend) and fused offline for every fusion method,
kNN weight: the same ``fuse`` the client runs, so what is measured here is
what search does. Coordinate ascent from the defaults, then per-language kNN
weights shrunk toward the global one by how few queries a language has.

Tuning must carry to queries it never saw. With ~60 validation queries per
language a single split's winner is mostly noise, so the whole procedure is
also run k-fold: tuned on k-1 folds, scored against the defaults on the fold
it did not see. The tuned parameters are kept only when that out-of-fold gain
beats its own noise (NOISE_Z standard errors); otherwise the defaults stay.
When the whole procedure does not carry and the index has judged vectors, the
judged weight alone is tried the same way, on every query outside the test
split whose judged lists can be cross-fitted (learn/crossfit.py): thousands of
queries where validation has hundreds.
The result is stored, versioned, in the index ``_meta``; the client applies it
without flags.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from ..embed.adapter import adapter_fingerprint
from ..errors import XLSearchError
from ..relevance.judgments import Judgments, Query, SplitPolicy
from ..relevance.metrics import mean, ndcg_at_k
from ..search.client import DEFAULT_RANK_WINDOW, XLSearchClient
from ..search.focus import focus
from ..search.fusion import FUSIONS, RRF, ClientFusion, fuse_lists, knn_list_name
from ..search.query_builder import BM25Boosts
from ..search.tuning import META_KEY, SearchParams, Tuning
from .crossfit import CrossFit, for_tuning

DEPTH = 200
# From BM25 nearly alone (1/16) to kNN nearly alone (64, where BM25 only breaks ties):
# a tuned hybrid can always become its best component where that is what the judgments say.
KNN_WEIGHT_GRID = (0.0625, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 64.0)
TRANSLATION_GRID = (0.0, 1.0, 4.0)
BOOST_GRID = (
    BM25Boosts(phrase=0.0),
    BM25Boosts(phrase=4.0),
    BM25Boosts(original=1.0),
    BM25Boosts(original=2.0),
    BM25Boosts(category=3.0),
    BM25Boosts(description=0.5),
    BM25Boosts(title=2.0, category=2.0),
)
# Bumped when the search space or its measurement changes (2: the kNN weight's split
# between vector fields; 3: the grid's ends, per-language field splits; 4: the judged
# fields' weight; 5: judged lists cross-fitted, the judged weight's default by redundancy);
# a stored tuning from an older tuner is not reused by evaluation.
TUNER_VERSION = 5
JUDGED_GRID = (0.0, 0.25, 0.5, 1.0, 2.0)  # judged fields' share of their encoder field's (0: left out)
MIN_GAIN = 0.002  # below this a tuned value is noise: keep the defaults
MIN_LANGUAGE_QUERIES = 30
MIN_LANGUAGE_GAIN = 0.02
# A language with n validation queries moves n / (n + SHRINK_QUERIES) of the way (in log
# space) from the global kNN weight to its own best: 60 queries move it 3/8 of the way.
SHRINK_QUERIES = 100
FOLDS = 5
NOISE_Z = 2.0  # the out-of-fold gain must exceed this many of its standard errors
MIN_FOLD_QUERIES = 40  # fewer validation queries than this: no k-fold check (too few to say)


@dataclass
class _Lists:
    """Per validation query: its analysis and cached ranked lists by setting."""

    query: Query
    analysis: Any
    bm25: dict[BM25Boosts, list[tuple[str, float]]]
    knn: dict[float | None, dict[str, list[tuple[str, float]]]]  # translation weight -> kNN lists
    agreement: dict[str, int] = field(default_factory=dict)  # id -> carries the queried attributes (+1/0/-1)
    paths: dict[str, str] = field(default_factory=dict)  # id -> category path (indices with category keys)


class Tuner:
    def __init__(
        self,
        client: XLSearchClient,
        judgments: Judgments,
        queries: list[Query],
        say: Callable[[str], None],
        cross_fit: CrossFit | None = None,
    ):
        self.client, self.judgments, self.say, self.cross_fit = client, judgments, say, cross_fit
        self.fields: list[str] = list(client.runtime.vector_fields)  # what the split divides
        self.parts: list[str] = list(client.runtime.knn_fields)  # every kNN list, judged fields too
        self.items = [
            _Lists(q, client.understand(q.text, q.lang if q.lang != "und" else None), {}, {}) for q in queries
        ]

    def _bm25(self, item: _Lists, boosts: BM25Boosts) -> list[tuple[str, float]]:
        if boosts not in item.bm25:
            item.bm25[boosts] = self.client.bm25_ranked(item.analysis, DEPTH, boosts)
        return item.bm25[boosts]

    def _knn(self, item: _Lists, weight: float | None) -> dict[str, list[tuple[str, float]]]:
        if weight not in item.knn:
            if self.cross_fit is None:
                item.knn[weight] = self.client.knn_lists(item.analysis, DEPTH, weight)
            else:  # the judged lists from centroids learnt without this query (learn/crossfit.py)
                vectors = self.client.query_vectors(item.analysis, weight)
                own = {f: v for f, v in vectors.items() if f not in self.cross_fit.fields}
                lists = self.client.knn_lists(item.analysis, DEPTH, weight, own)
                item.knn[weight] = {**lists, **self.cross_fit.lists(item.query, vectors, DEPTH)}
        return item.knn[weight]

    def ranking(self, p: SearchParams, item: _Lists) -> list[str]:
        """The ids hybrid search returns for this query with these (complete) parameters,
        fused by the same function search runs (attribute shift included)."""
        window = p.rank_window or DEFAULT_RANK_WINDOW
        knn = self._knn(item, p.translation_weight)
        lists = {
            "bm25": self._bm25(item, p.boosts or BM25Boosts())[:window],
            **{name: ranked[:window] for name, ranked in knn.items()},
        }
        fusion = FUSIONS.get(p.fusion) if p.fusion else RRF
        assert isinstance(fusion, ClientFusion)
        planner = self.client.planner
        shares = planner.field_shares(item.analysis, p.knn_shares, p.judged_weight)
        order = self.client.runtime.knn_fields
        listed = {d for ranked in lists.values() for d, _ in ranked}
        agreement = self._agreement(item, listed)
        weight = planner.knn_weight_for(item.analysis, p.knn_weight or 1.0, shares)
        fused = fuse_lists(fusion, lists, weight, shares, order, agreement)
        # the query's product type first, as search serves it (the floor only counts: no reorder)
        categories = self.client.runtime.meta.categories
        return focus([f.id for f in fused], {}, self._paths(item, listed), categories, agreement=agreement).ids

    def _paths(self, item: _Lists, ids: set[str]) -> dict[str, str]:
        missing = sorted(ids - set(item.paths))
        if missing and self.client.runtime.meta.categories:
            item.paths.update(self.client.category_paths(missing))
        return item.paths

    def _agreement(self, item: _Lists, ids: set[str]) -> dict[str, int]:
        missing = ids - set(item.agreement)
        if missing:
            item.agreement.update(self.client.attribute_agreement(item.analysis, sorted(missing)))
        return item.agreement

    def component_ranking(self, p: SearchParams, item: _Lists, component: str) -> list[str]:
        """The ids one list alone gives (``bm25`` or a vector field), focused as search focuses."""
        if component == "bm25":
            ranked = self._bm25(item, p.boosts or BM25Boosts())
        else:
            name = knn_list_name(component, self.parts.index(component))
            ranked = self._knn(item, p.translation_weight)[name]
        ids = {d for d, _ in ranked}
        categories = self.client.runtime.meta.categories
        paths, agreement = self._paths(item, ids), self._agreement(item, ids)
        return focus([d for d, _ in ranked], {}, paths, categories, agreement=agreement).ids

    def components(self, p: SearchParams, items: list[_Lists] | None = None) -> dict[str, float]:
        """Mean nDCG@10 of each part alone (BM25, each vector field) under ``p``'s lists."""
        out = {}
        for component in ["bm25", *self.parts]:
            values = [
                ndcg_at_k(self.component_ranking(p, item, component), self.judgments.qrels.get(item.query.id, {}), 10)
                for item in (items if items is not None else self.items)
            ]
            out[component] = round(float(mean([v for v in values if v is not None]) or 0.0), 4)
        return out

    def score(self, p: SearchParams, items: list[_Lists] | None = None) -> float:
        """Mean validation nDCG@10 of hybrid search with these (complete) parameters."""
        values = [
            ndcg_at_k(self.ranking(p, item), self.judgments.qrels.get(item.query.id, {}), 10)
            for item in (items if items is not None else self.items)
        ]
        return float(mean([v for v in values if v is not None]) or 0.0)

    def best_fusion(self, base: SearchParams, items: list[_Lists] | None = None) -> tuple[SearchParams, float]:
        """Every client-side fusion x kNN weight, lists fetched once. The rank window is
        not a free parameter (it trades recall for speed; nDCG@10 barely sees it)."""
        grid = [replace(base, fusion=f, knn_weight=w) for f, w in itertools.product(client_fusions(), KNN_WEIGHT_GRID)]
        scored = [(self.score(p, items), p) for p in grid]
        best_score, best = max(scored, key=lambda sp: sp[0])
        return best, best_score

    def best_of(self, candidates: list[SearchParams], items: list[_Lists] | None = None) -> tuple[SearchParams, float]:
        scored = [(self.score(p, items), p) for p in candidates]
        best_score, best = max(scored, key=lambda sp: sp[0])
        return best, best_score


def share_grid(fields: list[str]) -> list[tuple[float, ...]]:
    """Splits of the kNN weight between an index's vector fields (none with one field):
    each field alone, and for two fields the quarter steps between them."""
    n = len(fields)
    if n < 2:
        return []
    alone = [tuple(1.0 if i == j else 0.0 for i in range(n)) for j in range(n)]
    steps = [(a, 1.0 - a) for a in (0.25, 0.5, 0.75)] if n == 2 else [tuple([1.0] * n)]
    return alone + steps


def client_fusions() -> list[str]:
    """The registered fusions tuning can replay from cached lists (client-side ones)."""
    return [name for name, fusion in FUSIONS.items() if isinstance(fusion, ClientFusion)]


def defaults_for(client: XLSearchClient) -> SearchParams:
    """The built-in defaults, spelt out (what an untuned search does)."""
    fusion = client.default_fusion()
    return SearchParams(
        fusion=fusion,
        knn_weight=FUSIONS.get(fusion).knn_weight,
        rank_window=DEFAULT_RANK_WINDOW,
        translation_weight=None,
        boosts=BM25Boosts(),
    )


def tune(
    client: XLSearchClient,
    judgments: Judgments,
    split: SplitPolicy,
    say: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> dict[str, Any]:
    """Find better parameters on the validation split; keep them only if they carry
    out of fold. A report with before/after and the out-of-fold check."""
    queries = [q for q in judgments.split(split, "validation")]
    if len(queries) < 10:
        raise XLSearchError(f"only {len(queries)} validation queries with a relevant product; tuning needs 10 or more")
    t0 = time.perf_counter()
    cross_fit, pool = for_tuning(client, judgments, split)
    if cross_fit is not None:
        say(f"tune: judged lists cross-fitted over {cross_fit.learnt_from} learning queries ({len(pool)} can score)")
    tuner = Tuner(client, judgments, queries, say, cross_fit)
    defaults = defaults_for(client)
    base_score = tuner.score(defaults)
    say(f"tune: {len(queries)} validation queries; defaults score nDCG@10 {base_score:.4f}")
    best, per_language = _fit(tuner, defaults, tuner.items, say)
    overall = _overall(tuner, best, per_language)
    say(f"tune: in sample {overall:.4f} with {best.as_dict()}")
    carry = out_of_fold(tuner, defaults, say)
    if carry is None:
        improved = overall >= base_score + MIN_GAIN
    else:
        improved = carries(carry)
        say(
            f"tune: out of fold ({FOLDS} folds) {carry['gain']:+.4f} ± {carry['stderr']:.4f}: "
            + ("kept" if improved else "within noise, defaults kept")
        )
        if not improved and len(tuner.parts) > len(tuner.fields):
            # fewer free parameters: the judged fields' weight alone, checked the same way, on
            # every query that can measure it without leaking (validation alone without a cross-fit)
            wide = tuner if cross_fit is None else Tuner(client, judgments, pool, say, cross_fit)
            narrow = out_of_fold(wide, defaults, say, fit=_fit_judged)
            if narrow is not None:
                narrow["queries_scored"] = len(wide.items)
                narrow["by_weight"] = {w: round(wide.score(replace(defaults, judged_weight=w)), 4) for w in JUDGED_GRID}
                say(
                    f"tune: the judged weight alone out of fold {narrow['gain']:+.4f} ± {narrow['stderr']:.4f} "
                    f"({len(wide.items)} queries; by weight {narrow['by_weight']})"
                )
            if narrow is not None and carries(narrow):
                best, per_language = _fit_judged(wide, defaults, wide.items, say)
                overall, carry, improved = tuner.score(best), {**narrow, "only": "judged_weight"}, True
    return {
        "queries": len(queries),
        "defaults": round(base_score, 4),
        "tuned": round(overall, 4),
        "improved": improved,
        "params": best,
        "per_language": per_language if improved else {},
        "out_of_fold": carry,
        "components": components_report(tuner, best if improved else defaults, per_language if improved else {}),
        "seconds": round(time.perf_counter() - t0, 1),
    }


def components_report(tuner: Tuner, best: SearchParams, per_language: dict[str, SearchParams]) -> dict[str, Any]:
    """In sample, per language: the hybrid as it will be served beside each of its parts
    alone (BM25, every vector field), so a hybrid below its best part is seen, not assumed."""
    by_lang: dict[str, list[_Lists]] = {}
    for item in tuner.items:
        by_lang.setdefault(item.query.lang, []).append(item)
    rows = {}
    for lang, mine in sorted(by_lang.items()):
        served = per_language[lang].over(best) if lang in per_language else best
        rows[lang] = {"hybrid": round(tuner.score(served, mine), 4), **tuner.components(served, mine)}
    below = sorted(lang for lang, r in rows.items() if r["hybrid"] < max(v for k, v in r.items() if k != "hybrid"))
    return {"per_language": rows, "hybrid_below_a_part": below}


def _fit(
    tuner: Tuner, defaults: SearchParams, items: list[_Lists], say: Callable[[str], None]
) -> tuple[SearchParams, dict[str, SearchParams]]:
    """The whole procedure on ``items``: global search, then shrunk per-language weights."""
    best, _ = search_global(tuner, defaults, items)
    return best, _per_language(tuner, best, items, say)


def _fit_judged(
    tuner: Tuner, defaults: SearchParams, items: list[_Lists], say: Callable[[str], None]
) -> tuple[SearchParams, dict[str, SearchParams]]:
    """One free parameter, the judged fields' weight: what is tried when the whole procedure
    does not carry (a new model's judged vectors may want another weight than the default)."""
    best, _ = tuner.best_of([defaults] + [replace(defaults, judged_weight=w) for w in JUDGED_GRID], items)
    return best, {}


def carries(check: dict[str, Any]) -> bool:
    """Whether an out-of-fold gain is above the noise (and worth a change at all)."""
    return bool(check["gain"] > max(MIN_GAIN, NOISE_Z * check["stderr"]))


def fold_of(item: _Lists, folds: int = FOLDS) -> int:
    """A query's fold, by a hash of its id: stable across runs and machines."""
    return int(hashlib.sha256(item.query.id.encode()).hexdigest()[:8], 16) % folds


def out_of_fold(
    tuner: Tuner, defaults: SearchParams, say: Callable[[str], None], fit: Callable[..., Any] | None = None
) -> dict[str, Any] | None:
    """Tune on k-1 folds (``fit``: the whole procedure by default), score the fold left out
    against the defaults; per query the gain in nDCG@10. Mean gain, its standard error,
    and the mean per language."""
    if len(tuner.items) < MIN_FOLD_QUERIES:
        return None
    gains: list[tuple[str, float]] = []
    quiet: Callable[[str], None] = lambda _m: None  # the folds' own overrides are not news
    for k in range(FOLDS):
        held = [i for i in tuner.items if fold_of(i) == k]
        rest = [i for i in tuner.items if fold_of(i) != k]
        if not held or not rest:
            continue
        best, per_language = (fit or _fit)(tuner, defaults, rest, quiet)
        for item in held:
            tuned = per_language[item.query.lang].over(best) if item.query.lang in per_language else best
            gains.append((item.query.lang, tuner.score(tuned, [item]) - tuner.score(defaults, [item])))
        say(f"tune: fold {k + 1}/{FOLDS} scored ({len(held)} queries)")
    values = [g for _, g in gains]
    by_lang: dict[str, list[float]] = {}
    for lang, g in gains:
        by_lang.setdefault(lang, []).append(g)
    stderr = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else float("inf")
    return {
        "folds": FOLDS,
        "queries": len(values),
        "gain": round(statistics.fmean(values), 4),
        "stderr": round(stderr, 4),
        "per_language": {lang: round(statistics.fmean(v), 4) for lang, v in sorted(by_lang.items())},
    }


def search_global(tuner: Tuner, start: SearchParams, items: list[_Lists] | None = None) -> tuple[SearchParams, float]:
    """Coordinate ascent from ``start`` on ``items`` (all the tuner's by default): fusion x kNN
    weight x window, translation blend, BM25 boosts, the vector fields' split, the judged
    fields' weight (where the index has them), fusion again."""
    best, _ = tuner.best_fusion(start, items)
    best, _ = tuner.best_of([best] + [replace(best, translation_weight=t) for t in TRANSLATION_GRID], items)
    best, _ = tuner.best_of([best] + [replace(best, boosts=b) for b in BOOST_GRID], items)
    best, _ = tuner.best_of([best] + [replace(best, knn_shares=s) for s in share_grid(tuner.fields)], items)
    if len(tuner.parts) > len(tuner.fields):
        best, _ = tuner.best_of([best] + [replace(best, judged_weight=w) for w in JUDGED_GRID], items)
    return tuner.best_fusion(best, items)


def _per_language(
    tuner: Tuner, best: SearchParams, items: list[_Lists], say: Callable[[str], None]
) -> dict[str, SearchParams]:
    """Per language, the kNN weight and (with several vector fields) its split between
    them: the language's own best on its queries, shrunk toward the global setting by
    how few queries back it, kept where the shrunk setting still gains MIN_LANGUAGE_GAIN.
    The split is what lets an encoder that serves one language badly step back there."""
    out = {}
    by_lang: dict[str, list[_Lists]] = {}
    for item in items:
        by_lang.setdefault(item.query.lang, []).append(item)
    global_weight = best.knn_weight or 1.0
    grid = share_grid(tuner.fields)
    for lang, mine in sorted(by_lang.items()):
        if len(mine) < MIN_LANGUAGE_QUERIES:
            continue
        global_score = tuner.score(best, mine)
        share = len(mine) / (len(mine) + SHRINK_QUERIES)
        own, _ = tuner.best_of([replace(best, knn_weight=w) for w in KNN_WEIGHT_GRID], mine)
        weight = round(math.exp(share * math.log(own.knn_weight or 1.0) + (1 - share) * math.log(global_weight)), 3)
        shares = None
        if grid:
            at_weight = replace(best, knn_weight=weight)
            split, _ = tuner.best_of([at_weight] + [replace(at_weight, knn_shares=g) for g in grid], mine)
            if split.knn_shares is not None and split.knn_shares != best.knn_shares:
                shares = shrink_shares(split.knn_shares, best.knn_shares, len(tuner.fields), share)
        candidate = replace(best, knn_weight=weight, knn_shares=shares or best.knn_shares)
        score = tuner.score(candidate, mine)
        if score >= global_score + MIN_LANGUAGE_GAIN:
            out[lang] = SearchParams(knn_weight=weight, knn_shares=shares)
            split_text = f", split {shares}" if shares else ""
            say(
                f"tune: {lang} kNN weight {weight}{split_text} ({global_score:.4f} -> {score:.4f}, {len(mine)} queries)"
            )
    return out


def shrink_shares(
    own: tuple[float, ...], global_shares: tuple[float, ...] | None, n: int, share: float
) -> tuple[float, ...]:
    """``share`` of the way from the global split (even when unset) to a language's own, both
    normalised to sum 1."""
    norm = lambda v: [x / sum(v) for x in v] if sum(v) > 0 else [1.0 / n] * n
    g = norm(list(global_shares) if global_shares and len(global_shares) == n else [1.0] * n)
    o = norm(list(own))
    return tuple(round(share * a + (1 - share) * b, 4) for a, b in zip(o, g))


def _overall(tuner: Tuner, best: SearchParams, per_language: dict[str, SearchParams]) -> float:
    values = []
    for item in tuner.items:
        p = per_language[item.query.lang].over(best) if item.query.lang in per_language else best
        values.append(tuner.score(p, [item]))
    return float(mean(values) or 0.0)


def store(
    client: XLSearchClient, result: dict[str, Any], judgments: Judgments, split: SplitPolicy | None = None
) -> Tuning | None:
    """Write the tuning into the index ``_meta`` (next version), or clear it when defaults won."""
    from ..cluster.indices import index_meta, resolve_alias

    es = client.es
    target = resolve_alias(es, client.alias) or client.alias
    meta = index_meta(es, target)
    previous = (meta.get(META_KEY) or {}).get("version", 0) if isinstance(meta.get(META_KEY), dict) else 0
    history = list(meta.get("tuning_history") or [])
    tuning = None
    if result["improved"]:
        tuning = Tuning(
            version=int(previous) + 1,
            params=result["params"],
            per_language=result["per_language"],
            data=judgments.name,
            data_hash=judgments.data_hash,
            model_fingerprint=str((meta.get("model") or {}).get("fingerprint", "")),
            validation={
                "queries": result["queries"],
                "ndcg@10_defaults": result["defaults"],
                "ndcg@10_tuned": result["tuned"],
                "split": (split or SplitPolicy()).as_dict(),
                "tuner": TUNER_VERSION,
                "query_adapter": adapter_fingerprint(client.settings.query_adapter),
            },
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        meta[META_KEY] = tuning.as_meta()
        history.append(
            {
                "version": tuning.version,
                "created_at": tuning.created_at,
                "data": judgments.name,
                "validation": tuning.validation,
            }
        )
    else:
        meta.pop(META_KEY, None)
        history.append(
            {
                "version": int(previous),
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "data": judgments.name,
                "kept_defaults": True,
                "validation": {"ndcg@10_defaults": result["defaults"], "ndcg@10_tuned": result["tuned"]},
            }
        )
    meta["tuning_history"] = history[-10:]
    es.indices.put_mapping(index=target, meta=meta)
    client.planner.tuning = tuning
    return tuning
