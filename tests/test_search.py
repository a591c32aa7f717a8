"""Cross-lingual search over the sample catalog, on the real node with real models."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from xlsearch_es.cli import main
from xlsearch_es.errors import ClusterError, IndexMismatchError, XLSearchError
from xlsearch_es.ingest.pipeline import IngestOptions, IngestPipeline
from xlsearch_es.search.client import XLSearchClient, fusion_names
from xlsearch_es.search import query_builder as qb
from xlsearch_es.search.query_builder import BM25Boosts, SearchFilters

pytestmark = [pytest.mark.es, pytest.mark.model]
CATALOG = Path(__file__).resolve().parents[1] / "samples" / "catalog.jsonl"


@pytest.fixture(scope="module")
def catalog_index(es_settings, model_settings, es_client, encoder):
    from xlsearch_es.translate.factory import make_translator

    name = f"test-search-{uuid.uuid4().hex[:8]}"
    settings = es_settings.replace(index=name, languages=("en", "zh", "ja", "de", "es"), home=model_settings.home)
    translator = make_translator(settings)
    summary = IngestPipeline(settings, es_client, encoder, translator, IngestOptions(path=str(CATALOG))).run()
    # One segment: the HNSW graph (and so every kNN answer) no longer depends on flush timing.
    es_client.indices.forcemerge(index=summary.index, max_num_segments=1)
    es_client.indices.refresh(index=summary.index)
    client = XLSearchClient(settings, client=es_client, encoder=encoder, translator=translator)
    yield settings, client
    es_client.indices.delete(index=",".join(es_client.indices.get(index=f"{name}*")))


@pytest.mark.parametrize(
    "query,lang,target",
    [
        ("绿色 连衣裙", "zh", "es-dress-042"),  # Chinese query, Spanish product
        ("青いノートパソコン", "ja", "en-laptop-053"),  # Japanese query, English product
        ("grüne Waschmaschine", "de", "en-washing_machine-061"),  # German query, English product
        ("zapatillas negras", "es", "ja-running_shoes-002"),  # Spanish query, Japanese product
        ("green USB-C charger", "en", "zh-charger-017"),  # English query, Chinese product
    ],
)
def test_cross_lingual_queries_find_the_product(catalog_index, query, lang, target):
    _, client = catalog_index
    resp = client.search(query, k=3)
    assert resp.lang == lang
    ids = [h.id for h in resp.hits]
    assert target in ids, (query, ids, resp.translations)
    assert target.split("-")[0] != lang  # the product is written in another language


def test_bm25_keeps_shared_tokens_and_forgives_typos(catalog_index):
    """A Russian query (no dictionary: nothing translates) still finds the products
    by their model name; a misspelt brand still matches; a model number does not
    match its neighbour fuzzily."""
    _, client = catalog_index
    query = "где купить недорого Redmi Note 12 с доставкой"
    resp = client.search(query, mode="bm25", k=4)
    assert len(resp.hits) == 4 and all("Redmi Note 12" in h.title for h in resp.hits), [h.title for h in resp.hits]
    typo = client.search("Xiaomy Redmi smartphone", mode="bm25", k=3)
    assert "en-smartphone-000" in [h.id for h in typo.hits]
    strict = BM25Boosts(lenient=0.0)  # the typo clause alone would have to make the match
    exact = client.search("WF-1000XM5", mode="bm25", k=10, boosts=strict, use_tuning=False)
    assert "en-earbuds-002" not in [h.id for h in exact.hits]  # WF-1000XM4 is another model
    assert "en-earbuds-002" in [h.id for h in client.search("WF-1000XM4", mode="bm25", k=10, boosts=strict).hits]


def test_synonyms_file_expands_queries(catalog_index, tmp_path):
    """A shop's synonym (here: a made-up house word) finds what its words stand for."""
    settings, client = catalog_index
    rules = tmp_path / "synonyms.txt"
    rules.write_text("zorblat => earbuds\n", encoding="utf-8")
    with_syn = XLSearchClient(
        settings.replace(synonyms=str(rules)), client=client.es, encoder=client.runtime.embedders, translator=client.runtime.translator
    )
    assert not client.search("zorblat", mode="bm25", k=5).hits
    hits = with_syn.search("zorblat", mode="bm25", k=5).hits
    assert hits and all("earbuds" in h.title.lower() for h in hits[:3]), [h.title for h in hits]


def test_chinese_and_japanese_are_indexed_as_words(catalog_index, es_client):
    """On a node without smartcn/kuromoji the client cuts words: 连衣裙 (dress) is one
    term, so the single character 衣 no longer matches it, while the char-level
    title field still does."""
    settings, client = catalog_index
    assert set(client.runtime.segmented) == {"zh", "ja"}

    def ids(query: dict) -> list[str]:
        return [h["_id"] for h in es_client.search(index=settings.index, query=query, size=50)["hits"]["hits"]]

    dresses = ids({"match": {"words.zh": "连衣裙"}})
    assert dresses and all("-dress-" in i for i in dresses), dresses
    assert ids({"match": {"words.zh": "衣"}}) == [] and ids({"match": {"title.zh": "衣"}})
    assert ids({"match": {"words.ja": "ノート"}})
    resp = client.search("绿色连衣裙", mode="bm25", k=3)  # no space: the client cuts the query the same way
    assert resp.hits and all("-dress-" in h.id for h in resp.hits), [h.id for h in resp.hits]


@pytest.mark.parametrize("query,colour", [
    ("绿色 连衣裙", "green"), ("青いノートパソコン", "blue"), ("grüne Waschmaschine", "green"),
    ("zapatillas negras", "black"), ("green USB-C charger", "green"),
])
def test_demo_top_hit_carries_the_queried_colour(catalog_index, es_client, query, colour):
    settings, client = catalog_index
    assert client.planner.query_attributes(client.understand(query)) == {"color": [colour]}
    top = client.search(query, k=1).hits[0]
    held = es_client.get(index=settings.index, id=top.id, source_includes=["attr"])["_source"]
    assert colour in held.get("attr", {}).get("color", []), (query, top.id, top.title)


def test_colour_test_queried_colour_at_top_1(catalog_index):
    """51 queries in 12 languages and 5 scripts (tests/data/colour_queries.tsv): the top hit
    carries the queried colour in at least 90% (measured 1.0; 0.96 with the dictionary's order,
    benchmarks/results/colours.json)."""
    from xlsearch_es.evaluation.colours import colour_test, load_colour_queries

    _, client = catalog_index
    result = colour_test(client, load_colour_queries(Path(__file__).parent / "data" / "colour_queries.tsv"))
    assert result["queries"] == 51 and len(result["per_language"]) == 12
    assert result["colour_top1"] >= 0.9, result["misses"]
    assert result["colour_and_type_top1"] >= 0.8, result["misses"]


FILTER_CASES = [
    SearchFilters(brand="Sony"),
    SearchFilters(price_min=50, price_max=120),
    SearchFilters(category="Electronics > Audio"),
    SearchFilters(availability="in_stock", language="de"),
]


@pytest.mark.parametrize("mode,fusion", [("bm25", "rrf"), ("knn", "rrf")] + [("hybrid", f) for f in fusion_names()])
def test_no_hit_violates_a_filter(catalog_index, es_client, mode, fusion):
    settings, client = catalog_index
    for f in FILTER_CASES:
        resp = client.search("wireless headphones", filters=f, k=20, mode=mode, fusion=fusion)
        for hit in resp.hits:
            src = es_client.get(index=settings.index, id=hit.id)["_source"]
            if f.brand:
                assert src["brand_exact"] == f.brand.casefold()
            if f.price_min is not None:
                assert f.price_min <= src["price"] <= f.price_max
            if f.category:
                assert src["category_path"].startswith(f.category)
            if f.availability:
                assert src["availability"] == f.availability and src["source_language"] == f.language


@pytest.mark.parametrize("fusion", ["rrf", "minmax", "zscore"])
def test_pagination_has_no_duplicates_or_gaps(catalog_index, fusion):
    _, client = catalog_index
    pages = [client.search("running shoes", k=10, page=p, fusion=fusion) for p in range(1, 6)]
    ids = [h.id for page in pages for h in page.hits]
    assert len(ids) == 50 and len(set(ids)) == 50
    assert ids == [h.id for h in client.search("running shoes", k=50, fusion=fusion).hits]
    bm25_pages = [h.id for p in range(1, 6) for h in client.search("running shoes", k=10, page=p, mode="bm25").hits]
    assert len(set(bm25_pages)) == len(bm25_pages)


@pytest.mark.parametrize(
    "query",
    ['"', ":", "(", ")", "*", "\\", "OR", "AND", "~", "^", 'title:(red OR "blue) AND *~^2 \\', "[]{}!/?<>=&|+-"],
)
def test_query_syntax_characters_are_just_text(catalog_index, query):
    _, client = catalog_index
    client.search(query, k=5)
    client.search(query, k=5, mode="bm25")


def test_empty_huge_and_bad_arguments(catalog_index):
    _, client = catalog_index
    for empty in ("", "   ", "\u200b\x00"):
        with pytest.raises(XLSearchError, match="the query is empty"):
            client.search(empty)
    resp = client.search("red dress " * 1000, k=5)  # 10,000 characters
    assert resp.truncated and resp.hits and "truncated" in resp.notes[0]
    with pytest.raises(XLSearchError, match="k must be"):
        client.search("x", k=0)
    with pytest.raises(XLSearchError, match="unknown fusion"):
        client.search("x", fusion="magic")
    with pytest.raises(XLSearchError, match="unknown language code"):
        client.search("x", lang="english")


def test_results_explain_facets_and_timings(catalog_index):
    _, client = catalog_index
    resp = client.search("Sony WF-1000XM4", k=5, explain=True)
    top = resp.hits[0]
    assert "WF-1000XM4" in top.title and top.brand == "Sony"
    assert set(top.components["ranks"]) <= {"bm25", "knn"} and top.components["translations"]
    assert resp.facets["brand"].get("sony", 0) >= 1
    # Facets describe the results a shopper can page through: they add up to the total.
    assert 0 < sum(resp.facets["category"].values()) <= resp.total
    assert sum(resp.facets["brand"].values()) <= resp.total
    for stage in ("normalize", "detect", "translate", "embed", "bm25", "knn", "fuse"):
        assert stage in resp.timings_ms
    assert resp.took_ms >= resp.timings_ms["embed"]
    hl = client.search("wireless earbuds", k=3, mode="bm25").hits[0]
    assert "<em>" in hl.highlight and hl.lang


def test_window_lists_read_ids_from_doc_values(catalog_index, es_client):
    """The id-only lists fusion reads (no stored fields) name the same products, in
    the same order, as a search that returns ``_id``."""
    _, client = catalog_index
    analysis = client.understand("wireless earbuds")
    plain = es_client.search(
        index=client.alias, **qb.bm25_request(client.planner.bm25_query(analysis, None), qb.SearchFilters(), size=50)
    )
    want = [(h["_id"], h["_score"]) for h in plain["hits"]["hits"]]
    assert len(want) > 5 and client.bm25_ranked(analysis, 50) == want
    field, vector = next(iter(client.retrieval.embed(analysis, "mean").items()))
    plain = es_client.search(index=client.alias, **qb.knn_request({field: vector}, qb.SearchFilters(), 20, 100))
    assert client.knn_lists(analysis, 20)["knn"] == [(h["_id"], h["_score"]) for h in plain["hits"]["hits"]]


def test_native_retrievers_fall_back_when_missing(catalog_index):
    _, client = catalog_index
    resp = client.search("red dress", fusion="native-rrf", k=5)
    if client.caps.rrf_retriever:
        assert resp.fusion == "native-rrf"
    else:
        assert resp.fusion == "rrf" and "no rrf retriever" in resp.notes[0]
    assert resp.hits


def test_similar_products(catalog_index):
    _, client = catalog_index
    resp = client.similar("en-laptop-053", k=5)
    assert "en-laptop-053" not in [h.id for h in resp.hits]
    assert sum("laptop" in h.id for h in resp.hits) >= 3
    only_de = client.similar("en-laptop-053", filters=SearchFilters(language="de"), k=5)
    assert all(h.id.startswith("de-") for h in only_de.hits)
    with pytest.raises(XLSearchError, match="no product with id"):
        client.similar("nope")


def test_thread_safe_concurrent_searches(catalog_index):
    from concurrent.futures import ThreadPoolExecutor

    _, client = catalog_index
    queries = ["红色 连衣裙", "ワイヤレスイヤホン", "Laufschuhe", "cafetera", "laptop backpack"] * 4
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda q: client.search(q, k=5), queries))
    single = {q: [h.id for h in client.search(q, k=5).hits] for q in set(queries)}
    for q, r in zip(queries, results):
        assert [h.id for h in r.hits] == single[q]


def test_refuses_an_index_built_with_another_model(catalog_index, es_client, encoder):
    settings, _ = catalog_index
    from dataclasses import replace

    other = replace(encoder.meta(), fingerprint="different")

    class OtherEncoder:
        def meta(self):
            return other

    with pytest.raises(IndexMismatchError, match="rebuild"):
        XLSearchClient(settings, client=es_client, encoder=OtherEncoder())  # type: ignore[arg-type]


def test_cli_search_json_table_and_stopped_cluster(catalog_index):
    settings, _ = catalog_index
    runner = CliRunner()
    args = ["--url", settings.es_url, "search", "ワイヤレスイヤホン", "--index", settings.index, "--k", "3"]
    out = runner.invoke(main, args + ["--json", "--filter", "price=0..1000000"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output[out.output.index("{") :])
    assert len(data["hits"]) == 3 and {"id", "score", "title"} <= set(data["hits"][0])
    assert data["took_ms"] > 0 and "embed" in data["timings_ms"]
    table = runner.invoke(main, args + ["--explain"])
    assert table.exit_code == 0 and " 1. " in table.output and "ranks" in table.output
    bad = runner.invoke(main, args + ["--filter", "colour=red"])
    assert bad.exit_code == 1 and "unknown filter" in bad.output
    down = runner.invoke(main, ["--url", "http://127.0.0.1:9", "search", "x", "--index", settings.index])
    assert down.exit_code == 1 and "cannot reach Elasticsearch" in down.output
    sim = runner.invoke(
        main, ["--url", settings.es_url, "similar", "en-laptop-053", "--index", settings.index, "--json"]
    )
    assert sim.exit_code == 0 and json.loads(sim.output[sim.output.index("{") :])["hits"]


def test_cluster_stopping_mid_session_is_a_clear_error(catalog_index, es_client, encoder):
    settings, client = catalog_index
    broken = XLSearchClient(settings, client=es_client, encoder=encoder, translator=client.runtime.translator)
    broken.es = es_client.options(request_timeout=1, max_retries=0)
    broken.es = type(es_client)("http://127.0.0.1:9", max_retries=0, request_timeout=1)
    with pytest.raises(ClusterError, match="cannot reach Elasticsearch"):
        broken.search("red dress")


def test_tuning_scores_the_ranking_search_returns(catalog_index):
    """One fuse for both: the ranking ``tune`` scores for a set of parameters is the one
    search serves with them (attribute shift included: "red" names a colour)."""
    from xlsearch_es.learn.tune import Tuner
    from xlsearch_es.relevance.judgments import Judgments, Query
    from xlsearch_es.search.query_builder import BM25Boosts
    from xlsearch_es.search.tuning import SearchParams

    _, client = catalog_index
    queries = [Query("q1", "red dress", "en"), Query("q2", "zapatillas negras", "es"), Query("q3", "grüne Jacke", "de"),
               Query("q4", "which laptop is the lightest?", "en")]  # a question (text/question.py)
    tuner = Tuner(client, Judgments("toy", {q.id: q for q in queries}, {}, {}, ""), queries, say=lambda m: None)
    for fusion, weight, window in (("rrf", 1.0, 50), ("zscore", 2.0, 100), ("minmax", 4.0, 50)):
        p = SearchParams(fusion=fusion, knn_weight=weight, rank_window=window, translation_weight=1.0,
                         boosts=BM25Boosts())
        for item in tuner.items:
            served = client.search(item.query.text, lang=item.query.lang, k=10, fusion=fusion, knn_weight=weight,
                                   rank_window=window, translation_weight=1.0, use_tuning=False, rerank=False)
            assert tuner.ranking(p, item)[:10] == [h.id for h in served.hits], (fusion, item.query.text)
    # Each part alone, as the tuner's components report scores it: a vector field's part
    # holds what a kNN request on that field alone returns (not an empty list under another name).
    from xlsearch_es.learn.tune import DEPTH
    from xlsearch_es.search import query_builder as qb
    from xlsearch_es.search.request import QUERY_VECTORS

    p = SearchParams(translation_weight=1.0, boosts=BM25Boosts())
    for item in tuner.items:
        vectors = client.retrieval.embed(item.analysis, QUERY_VECTORS[0], 1.0)
        for field in client.runtime.vector_fields:
            body = qb.ids_only(qb.knn_request({field: vectors[field]}, qb.SearchFilters(), k=DEPTH,
                                              num_candidates=DEPTH))
            alone = {qb.hit_id(h) for h in client.es.search(index=client.alias, body=body)["hits"]["hits"]}
            part = tuner.component_ranking(p, item, field)
            assert part and set(part) == alone, (field, item.query.text)


SHOPPER_QUERIES = [
    ("绿色 连衣裙", "dress"),
    ("青いノートパソコン", "laptop"),
    ("grüne Waschmaschine", "washing_machine"),
    ("zapatillas negras", "running_shoes"),
    ("green USB-C charger", "charger"),
]


@pytest.mark.parametrize("query,kind", SHOPPER_QUERIES)
def test_what_a_shopper_sees_is_about_the_queried_type(catalog_index, query, kind):
    """Issue 28's done-when on the sample catalog (20 products of each type, in 5
    languages): the largest category facet is the queried type, in one bucket for
    all languages, labelled in the query's language; the first five results are of
    that type; scores never rise down the list; the total counts about that type."""
    _, client = catalog_index
    resp = client.search(query, k=10)
    kinds = [h.id.split("-", 1)[1].rsplit("-", 1)[0] for h in resp.hits]
    assert kinds[:5] == [kind] * 5, (query, kinds)
    scores = [h.score for h in resp.hits]
    assert scores == sorted(scores, reverse=True), scores
    (top_key, top_count), *_ = resp.facets["category"].items()
    members = client.runtime.meta.categories.members[top_key]
    assert len(members) >= 4 and 15 <= top_count <= 20, (top_key, members, resp.facets)
    assert resp.facet_labels["category"][top_key] == members.get(resp.lang, resp.facet_labels["category"][top_key])
    assert 15 <= resp.total <= 60, resp.total
    assert sum(resp.facets["category"].values()) == resp.total
    everything = client.search(query, k=10, focus=False)
    assert everything.total > resp.total  # --all: the whole window counts


def test_a_category_key_filters_every_catalog_language(catalog_index):
    _, client = catalog_index
    key = client.runtime.meta.categories.key_of("Ropa > Mujer > Vestidos")
    assert key == "Clothing > Women > Dresses"  # the index's first language names the key
    resp = client.search("summer", k=50, filters=SearchFilters(category=key))
    assert {h.source_language for h in resp.hits} == {"en", "zh", "ja", "de", "es"}
    assert all("-dress-" in h.id for h in resp.hits), [h.id for h in resp.hits]
    one_path = client.search("summer", k=50, filters=SearchFilters(category="Ropa > Mujer > Vestidos"))
    assert {h.source_language for h in one_path.hits} == {"es"}  # a path that is not a key stays a path
