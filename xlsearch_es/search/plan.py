"""Planning a search: analyse the query, check the page is reachable, take the
index's tuned parameters, pick the fusion for this catalog and cluster, and
build the BM25 query. Each runs once per search."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import XLSearchError
from ..runtime import IndexRuntime
from ..text.attributes import extract as extract_attributes
from ..text.langid import DEFAULT_CANDIDATES, LanguageDetector
from ..text.question import is_question
from ..text.segment import Segmenter
from . import query_builder as qb
from .fusion import FUSIONS, Catalog, FusionStrategy
from .request import (
    AUTO_FUSION,
    BM25,
    DEFAULT_RANK_WINDOW,
    HYBRID,
    KEYWORD_WIDEST_ODDS,
    KNN_MAX_CANDIDATES,
    PLAIN,
    QUESTION_KNN_FACTOR,
    QUESTION_WIDEST_ODDS,
    SearchPlan,
    SearchRequest,
    Trace,
    default_judged_weight,
)
from .senses import CatalogTerms, QuerySenses, ReadingVectors
from .synonyms import Synonyms
from .tuning import SearchParams, Tuning
from .understand import QueryAnalysis, analyze

# Languages a query may be in beyond the detector's defaults, where the translator brings them in.
EXTRA_QUERY_LANGUAGES = ("zh", "ja", "ko", "ar")


def query_detector(runtime: IndexRuntime) -> LanguageDetector:
    """A query can only be in a language we can match: an index language, or
    one the translator brings into one. Fewer candidates, fewer wild guesses."""
    languages = runtime.languages
    supports = runtime.translator.backend.supports
    sources = [
        c for c in DEFAULT_CANDIDATES + EXTRA_QUERY_LANGUAGES if any(c == t or supports(c, t) for t in languages)
    ]
    return LanguageDetector(
        candidates=tuple(dict.fromkeys(sources + languages)),
        fallback=runtime.settings.fallback_language,
        vocabulary=runtime.translator.backend.word_languages,
    )


def check_depth(mode: str, k: int, page: int, rank_window: int, max_result_window: int) -> None:
    """A page past what the cluster can return is a clear error naming the last page."""
    limit = max_result_window if mode == BM25 else min(max_result_window, KNN_MAX_CANDIDATES)
    if (page - 1) * k + k <= limit and (mode == BM25 or rank_window <= limit):
        return
    if rank_window > limit:
        raise XLSearchError(f"rank window {rank_window} is over the cluster's limit of {limit} results")
    why = "index.max_result_window" if limit == max_result_window else "the kNN candidate limit"
    raise XLSearchError(
        f"page {page} is past the last page: with k={k} the last page is {limit // k} ({limit} results at most, {why})"
    )


@dataclass
class Planner:
    """Turns requests into plans for one index."""

    runtime: IndexRuntime
    catalog: Catalog
    max_result_window: int
    tuning: Tuning | None
    detector: LanguageDetector
    synonyms: Synonyms
    segmenter: Segmenter
    catalog_terms: CatalogTerms | None = None  # None: a word's readings in the dictionary's order
    reading_vectors: ReadingVectors = field(default_factory=ReadingVectors)
    question_knn_factor: float = QUESTION_KNN_FACTOR  # 1 and 1: questions weighed as keywords
    question_widest_odds: float = QUESTION_WIDEST_ODDS
    keyword_widest_odds: float = KEYWORD_WIDEST_ODDS

    def analyze(
        self, query: str, lang: str | None, translate: bool = True, query_languages: tuple[str, ...] | None = None
    ) -> QueryAnalysis:
        languages = self.runtime.languages
        targets = languages if query_languages is None else [lg for lg in languages if lg in query_languages]
        return analyze(
            query,
            targets,
            self.runtime.translator,
            self.detector,
            lang,
            translate=translate,
            senses=self.senses if self.catalog_terms is not None else None,
        )

    def senses(self, text: str) -> QuerySenses:
        """The chooser of a word's readings for this query: the catalog and the primary encoder."""
        embedder = next(iter(self.runtime.embedders.values()), None)
        return QuerySenses(text, self.catalog_terms, embedder, self.reading_vectors)

    def plan(self, request: SearchRequest, trace: Trace) -> SearchPlan:
        """Explicit arguments over the index's tuned values, the fusion resolved for this
        catalog and cluster, and the rank window every page shares."""
        request.check(FUSIONS.names())
        trace.check_deadline("analysis")
        analysis = self.analyze(request.query, request.lang, request.translate_query, request.query_languages)
        trace.timings.update(analysis.timings_ms)
        if analysis.truncated:
            trace.notes.append(f"query truncated to {len(analysis.text)} characters")
        explicit = SearchParams(
            fusion=None if request.fusion == AUTO_FUSION else request.fusion,
            knn_weight=request.knn_weight,
            rank_window=request.rank_window,
            translation_weight=request.translation_weight,
            boosts=request.boosts,
            knn_shares=request.knn_shares,
            judged_weight=request.judged_weight,
        )
        params, tuning = self.params(explicit, analysis.lang, request.use_tuning)
        rank_window = params.rank_window or DEFAULT_RANK_WINDOW
        check_depth(request.mode, request.k, request.page, rank_window, self.max_result_window)
        strategy = self.strategy(params.fusion or AUTO_FUSION, trace.notes) if request.mode == HYBRID else None
        knn_weight = params.knn_weight if params.knn_weight is not None else (strategy.knn_weight if strategy else 1.0)
        field_shares = self.field_shares(analysis, params.knn_shares, params.judged_weight)
        question_weight = self.knn_weight_for(analysis, knn_weight, field_shares)
        if request.mode == HYBRID and weighed_as_question(self.runtime, analysis, field_shares):
            trace.notes.append(self.question_note(field_shares, question_weight, knn_weight))
        window = max(rank_window, request.offset + request.k)
        plain = request.lexical == PLAIN
        attributes = {} if plain else self.query_attributes(analysis)
        return SearchPlan(
            request=request,
            analysis=analysis,
            params=params,
            bm25=qb.plain_query(analysis.text) if plain else self.bm25_query(analysis, params.boosts, attributes),
            strategy=strategy,
            knn_weight=question_weight,
            window=window,
            num_candidates=knn_candidates(window),
            tuning=tuning,
            attributes=attributes,
            field_shares=field_shares,
            filters=self.filters(request.filters),
            categories=self.runtime.meta.categories,
        )

    def filters(self, filters: qb.SearchFilters) -> qb.SearchFilters:
        """A category filter on a key selects the key's paths in every catalog language."""
        if not filters.category:
            return filters
        return replace(filters, category_paths=tuple(self.runtime.meta.categories.paths_of(filters.category)))

    def params(self, explicit: SearchParams, lang: str, use_tuning: bool) -> tuple[SearchParams, dict[str, Any]]:
        """Explicit arguments over the index's tuned values (the query language's override first)."""
        if self.tuning is None or not use_tuning:
            return explicit, {}
        tuned, source = self.tuning.for_language(lang)
        applied = {k: v for k, v in tuned.as_dict().items() if getattr(explicit, k) is None}
        return explicit.over(tuned), ({"source": source, "applied": applied} if applied else {})

    def strategy(self, name: str, notes: list[str]) -> FusionStrategy:
        """The fusion to use for this catalog on this cluster (native retrievers only where probed)."""
        return FUSIONS.get(name).resolve(self.catalog, notes)

    def bm25_query(
        self, analysis: QueryAnalysis, boosts: qb.BM25Boosts | None, attributes: dict[str, list[str]] | None = None
    ) -> dict[str, Any]:
        """Our BM25 clauses, with the synonyms the query (or a translation of it) brings
        in, and its words when it is Chinese or Japanese and the index has client-cut words."""
        expansions: list[str] = list(analysis.alternates)  # an ambiguous query read in its runner-up language
        if self.synonyms:
            for text in dict.fromkeys([analysis.text, *analysis.translations.values()]):
                expansions += [p for p in self.synonyms.expand(text) if p not in expansions]
        # Only the query as typed is cut: a dictionary's word-by-word output in
        # Chinese or Japanese is no better matched as words than as characters.
        words = (
            {analysis.lang: self.segmenter.segment(analysis.text, analysis.lang)}
            if analysis.lang in self.runtime.segmented
            else {}
        )
        return qb.bm25_query(
            analysis.text,
            analysis.translations,
            analysis.protected,
            boosts or qb.BM25Boosts(),
            expansions,
            words,
            lenient_languages=[lang for lang in analysis.translations if lang != analysis.lang],
            attributes=self.query_attributes(analysis) if attributes is None else attributes,
        )

    def field_shares(
        self, analysis: QueryAnalysis, tuned: tuple[float, ...] | None = None, judged_weight: float | None = None
    ) -> dict[str, float]:
        """Each kNN field's part of the kNN weight for this query: the tuned split (by
        default the widest encoder's odds ``keyword_widest_odds`` against each other field's)
        times the probability that the query is in a language the field's encoder knows. No
        field knows it: the encoder that declares the most languages (or none, trusting itself
        with all) takes the whole weight. A question (text/question.py) multiplies the widest
        encoder's share by ``question_widest_odds``. A judged field (learn/judged.py) takes
        ``judged_weight`` times its encoder field's part (by default 1, or 0.5 where the
        encoders learnt from the judgments the judged vectors came from). Fields with no part
        are left out."""
        runtime, fields = self.runtime, self.runtime.vector_fields
        widest = runtime.widest_field()
        if tuned and len(tuned) == len(fields) and sum(tuned) > 0:
            base = list(tuned)
        else:  # one field alone has no split
            base = [self.keyword_widest_odds if f == widest and len(fields) > 1 else 1.0 for f in fields]
        probs = analysis.lang_scores or {analysis.lang: 1.0}
        shares = {f: s * sum(p for lg, p in probs.items() if runtime.covers(f, lg)) for f, s in zip(fields, base)}
        if sum(shares.values()) <= 0:
            shares = {widest: 1.0}
        elif weighed_as_question(runtime, analysis, shares):
            shares[widest] = shares.get(widest, 0.0) * self.question_widest_odds
        weight = default_judged_weight(runtime.judged_redundant) if judged_weight is None else judged_weight
        for judged in runtime.knn_fields[len(fields) :]:
            shares[judged] = weight * shares.get(runtime.query_field_of(judged), 0.0)
        return {f: round(v, 6) for f, v in shares.items() if v > 0}

    def question_note(self, shares: Mapping[str, float], weight: float, keyword_weight: float) -> str:
        """What the question profile did to this search, for its notes."""
        widest = self.runtime.widest_field()
        part = shares.get(widest, 0.0) / max(sum(shares.get(f, 0.0) for f in self.runtime.vector_fields), 1e-12)
        return f"asked as a question: kNN weight {weight:g} (keywords {keyword_weight:g}), {part:.0%} of it {widest}'s"

    def knn_weight_for(self, analysis: QueryAnalysis, weight: float, shares: Mapping[str, float]) -> float:
        """The kNN side's weight for this query: a question searched by more than one encoder
        weighs it ``question_knn_factor`` times the keyword weight (tuned or default), so tuning
        moves both together."""
        return weight * self.question_knn_factor if weighed_as_question(self.runtime, analysis, shares) else weight

    def query_attributes(self, analysis: QueryAnalysis) -> dict[str, list[str]]:
        """Colours and materials the query names, read from its English form."""
        fields = self.runtime.attribute_fields
        if not fields:
            return {}
        english = analysis.text if analysis.lang == "en" else analysis.translations.get("en", "")
        return {k: v for k, v in extract_attributes([english]).items() if k in fields}


def weighed_as_question(runtime: IndexRuntime, analysis: QueryAnalysis, shares: Mapping[str, float]) -> bool:
    """Whether the question profile applies: a question (text/question.py) that more than one
    encoder searches, with ``question_weights`` on. With one encoder there is no split to move,
    and the kNN factor was chosen with the split (e5 alone on questions is better at 4:1 than 8:1)."""
    encoders = sum(shares.get(f, 0.0) > 0 for f in runtime.vector_fields)
    return encoders > 1 and runtime.settings.question_weights and is_question(analysis.original)


def knn_candidates(window: int) -> int:
    """How many candidates each kNN search considers for a window (2x, at least 100, the cluster's cap at most)."""
    return min(max(2 * window, 100), KNN_MAX_CANDIDATES)
