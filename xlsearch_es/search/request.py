"""What a search is asked and what it answers, and what passes between its stages.

``SearchRequest`` (frozen) goes in; ``SearchPlan`` is the request after
analysis and tuning; a ``RankedWindow`` is what retrieval found; a
``SearchResponse`` of ``Hit``s comes out. ``Trace`` collects timings and notes
on the way and enforces the request's deadline between stages.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ..categories import CategoryMap
from ..errors import DeadlineExceeded, XLSearchError
from . import query_builder as qb
from .tuning import SearchParams
from .understand import QueryAnalysis

if TYPE_CHECKING:
    from .fusion import FusionStrategy

Mode = Literal["hybrid", "bm25", "knn"]
MODES: tuple[Mode, ...] = ("hybrid", "bm25", "knn")  # the one list of modes: CLI, service and checks read it
HYBRID, BM25, KNN = MODES
QUERY_VECTORS = ("mean", "original")
LEXICAL = ("xlsearch", "plain")
OURS, PLAIN = LEXICAL
AUTO_FUSION = "auto"  # resolved per catalog (search/fusion.py registers it)
DEFAULT_RANK_WINDOW = 100
# A judged field's kNN share, relative to its encoder field's (learn/judged.py;
# picked on cikm's validation split with each language left out: benchmarks/bench_judged.py).
DEFAULT_JUDGED_WEIGHT = 1.0
# ... and where the encoder that searches them learnt from the same judgments (a model
# fine-tuned or a query adapter trained on them), half that: both carry the same clicks,
# so at full weight they count them twice. Validation picked 0.5 for such a configuration
# with 9 of 10 languages left out, and test agreed (benchmarks/results/learn3/).
REDUNDANT_JUDGED_WEIGHT = 0.5


def default_judged_weight(redundant: bool) -> float:
    """The judged weight an untuned search uses (``IndexRuntime.judged_redundant``)."""
    return REDUNDANT_JUDGED_WEIGHT if redundant else DEFAULT_JUDGED_WEIGHT


# The kNN split between encoders, for keyword queries and for questions (text/question.py).
# On shop keywords USE ranks better than e5; on questions e5 ranks answers better, and
# BM25 over a word-by-word translated question adds little. Chosen together on both
# shared sets' train and validation queries with each language left out, each query
# weighed as search serves it (benchmarks/choose_defaults.py): z-score, kNN 4:1, e5 40%
# of the kNN weight for keywords and 70% for questions, with no extra kNN weight.
KEYWORD_WIDEST_ODDS = 2 / 3  # the widest encoder's share odds against each other field's: e5 40%, USE 60%
QUESTION_KNN_FACTOR = 1.0  # a question's kNN weight over a keyword query's
QUESTION_WIDEST_ODDS = 3.5  # ... and its widest-encoder odds times this: 40/60 becomes 70/30


# Elasticsearch caps a kNN search's num_candidates (and so k) at 10,000.
KNN_MAX_CANDIDATES = 10_000
MAX_K = 1000
T = TypeVar("T")


@dataclass
class Hit:
    id: str
    score: float
    title: str
    lang: str | None
    source_language: str | None
    brand: str | None = None
    category: str | None = None
    price: float | None = None
    currency: str | None = None
    highlight: str | None = None
    components: dict[str, Any] = field(default_factory=dict)
    localized_title: str | None = None  # the title in the query's language, where the index has one
    image_url: str | None = None


@dataclass
class SearchResponse:
    query: str
    lang: str
    mode: str
    fusion: str | None
    page: int
    size: int
    total: int
    hits: list[Hit]
    facets: dict[str, dict[str, int]]
    translations: dict[str, str]
    took_ms: float
    timings_ms: dict[str, float]
    truncated: bool = False
    notes: list[str] = field(default_factory=list)
    tuning: dict[str, Any] = field(default_factory=dict)  # tuned parameters that applied, and their source
    # facet -> bucket value -> its label in the query's language
    facet_labels: dict[str, dict[str, str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SearchRequest:
    """Everything one search asks for. Ranking knobs left at None/"auto" take the
    index's tuned values (``xlsearch tune``) when it has them, else the defaults.
    ``query_languages`` limits which index languages the query is expressed in
    (None: all; (): the original fields only); ``translate_query=False`` keeps the
    query untranslated: both exist to measure what each part adds."""

    query: str
    lang: str | None = None
    filters: qb.SearchFilters = field(default_factory=qb.SearchFilters)
    k: int = 10
    page: int = 1
    mode: Mode = HYBRID
    fusion: str = AUTO_FUSION
    explain: bool = False
    rank_window: int | None = None
    knn_weight: float | None = None
    query_vector: str = QUERY_VECTORS[0]
    translate_query: bool = True
    query_languages: tuple[str, ...] | None = None
    translation_weight: float | None = None
    boosts: qb.BM25Boosts | None = None
    knn_shares: tuple[float, ...] | None = None  # the kNN weight's split between vector fields (index order)
    judged_weight: float | None = None  # judged fields' share of their encoder field's; 0 leaves them out
    use_tuning: bool = True
    rerank: bool = True
    rerank_blend: bool | None = None  # None: the settings' choice (see Settings.rerank_blend)
    highlight: bool = True  # False: ids and scores only (evaluation, bulk scoring)
    # True: what matches the query (its product type, else above the relevance floor) first,
    # and only that counted in the total and facets (search/focus.py); False: the whole window.
    focus: bool = True
    lexical: str = LEXICAL[0]  # "plain": BM25 as a default Elasticsearch setup runs it (the baseline)
    # time.monotonic() by which the search must be done (the service's request budget):
    # checked before each stage, and cluster requests time out by then. None: no budget.
    deadline: float | None = None

    def check(self, fusions: tuple[str, ...]) -> None:
        """Refuse what no stage could run (``fusions``: the names the registry holds)."""
        if self.k < 1 or self.k > MAX_K:
            raise XLSearchError(f"k must be between 1 and {MAX_K}")
        if self.page < 1:
            raise XLSearchError("page must be 1 or more")
        if self.mode not in MODES:
            raise XLSearchError(f"unknown mode {self.mode!r}; use {', '.join(MODES)}")
        if self.lexical not in LEXICAL:
            raise XLSearchError(f"lexical must be one of {', '.join(LEXICAL)}")
        if self.query_vector not in QUERY_VECTORS:
            raise XLSearchError(f"query_vector must be one of {', '.join(QUERY_VECTORS)}")
        if self.judged_weight is not None and not 0 <= self.judged_weight <= 100:
            raise XLSearchError("judged_weight must be between 0 and 100")
        if self.fusion not in fusions:
            raise XLSearchError(f"unknown fusion {self.fusion!r}; use one of {', '.join(fusions)}")

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.k


@dataclass(frozen=True)
class SearchPlan:
    """How a request will run: its parameters after tuning, and the fusion on this cluster."""

    request: SearchRequest
    analysis: QueryAnalysis
    params: SearchParams
    bm25: dict[str, Any]
    strategy: FusionStrategy | None  # None outside hybrid mode
    knn_weight: float
    window: int
    num_candidates: int
    tuning: dict[str, Any]
    attributes: dict[str, list[str]] = field(default_factory=dict)  # colours/materials the query names
    field_shares: dict[str, float] = field(default_factory=dict)  # vector field -> its part of the kNN weight
    # the request's filters, a category key widened to its paths in every catalog language
    filters: qb.SearchFilters = field(default_factory=qb.SearchFilters)
    categories: CategoryMap = field(default_factory=CategoryMap)  # its keys (xlsearch_es/categories.py)


@dataclass
class Trace:
    """Timings and notes one search collects on its way."""

    start: float = field(default_factory=time.perf_counter)
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    deadline: float | None = None

    def check_deadline(self, stage: str) -> None:
        """Stop between stages once the request's budget is spent (the caller has answered already)."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise DeadlineExceeded(f"the search ran out of time before its {stage} stage")

    def remaining(self) -> float | None:
        """Seconds left for a cluster request, or None without a budget."""
        return None if self.deadline is None else max(0.05, self.deadline - time.monotonic())

    def timed(self, name: str, fn: Callable[[], T]) -> T:
        self.check_deadline(name)
        t0 = time.perf_counter()
        out = fn()
        self.add(name, t0)
        return out

    def add(self, name: str, since: float) -> None:
        """Add the time since ``since`` (a perf_counter reading) to stage ``name``."""
        self.timings[name] = self.timings.get(name, 0.0) + (time.perf_counter() - since) * 1e3


@dataclass
class RankedWindow:
    """What retrieval found: hits (the whole window, or one page for server-side requests)."""

    hits: list[Hit]
    total: int
    facets: dict[str, dict[str, int]]
    paged: bool = False  # the cluster already applied from/size
    highlighted: bool = False  # the hits carry highlights already
    sourced: bool = True  # False: ids and scores only; the page's fields are fetched after paging
    pending_facets: Future[dict[str, dict[str, int]]] | None = None  # facets still being counted

    def facets_now(self) -> dict[str, dict[str, int]]:
        """The facets, waiting for them if the cluster is still counting."""
        if self.pending_facets is not None:
            self.facets, self.pending_facets = self.pending_facets.result(), None
        return self.facets
