"""Pure request-building and fusion logic: no cluster, no model."""

import pytest

from xlsearch_es.search import query_builder as qb
from xlsearch_es.search.fusion import reciprocal_rank, weighted_sum


def test_filters_become_clauses():
    f = qb.SearchFilters.from_pairs(
        ["category=Electronics > Phones", "brand=Sony", "price=10..50", "availability=in_stock", "language=zh"]
    )
    clauses = f.clauses()
    assert {"term": {"brand_exact": "sony"}} in clauses
    assert {"range": {"price": {"gte": 10.0, "lte": 50.0}}} in clauses
    assert {"term": {"availability": "in_stock"}} in clauses
    assert {"term": {"source_language": "zh"}} in clauses
    cat = clauses[0]["bool"]["should"]
    assert {"terms": {"category_path": ["Electronics > Phones"]}} in cat
    assert {"prefix": {"category_path": "Electronics > Phones > "}} in cat
    # a category key joins its paths in every catalog language (search/plan.py fills them in)
    joined = qb.SearchFilters(category="Clothing > Dresses", category_paths=("Clothing > Dresses", "Ropa > Vestidos"))
    should = joined.clauses()[0]["bool"]["should"]
    assert {"terms": {"category_path": ["Clothing > Dresses", "Ropa > Vestidos"]}} in should
    assert {"prefix": {"category_path": "Ropa > Vestidos > "}} in should
    assert qb.SearchFilters.from_pairs(["price=..20"]).clauses() == [{"range": {"price": {"lte": 20.0}}}]
    with pytest.raises(ValueError, match="unknown filter"):
        qb.SearchFilters.from_pairs(["colour=red"])
    with pytest.raises(ValueError, match="key=value"):
        qb.SearchFilters.from_pairs(["red"])
    assert qb.SearchFilters().is_empty()


def test_bm25_query_uses_match_clauses_only_and_protects_tokens():
    text = 'iPhone 12 "case" (red) OR * AND title:x ~2 ^3 \\'
    q = qb.bm25_query(text, {"en": text, "zh": "红色 手机壳"}, ["iPhone 12"])
    kinds = {next(iter(c)) for c in q["bool"]["should"]}
    assert kinds == {"multi_match", "match_phrase", "term"}  # never query_string
    mm = [c["multi_match"] for c in q["bool"]["should"] if "multi_match" in c]
    assert mm[0]["query"] == text and "title.original^3.6" in mm[0]["fields"]
    assert any("title.zh^3" in m["fields"] for m in mm)
    assert {"term": {"protected_tokens": {"value": "iphone 12", "boost": qb.PROTECTED_BOOST}}} in q["bool"]["should"]
    assert mm[0]["minimum_should_match"] == qb.MINIMUM_SHOULD_MATCH
    assert mm[1]["minimum_should_match"] == qb.TRANSLATION_MINIMUM_SHOULD_MATCH


def test_lenient_and_typo_clauses():
    """The query as typed also runs leniently over every language's fields; its
    unprotected words run fuzzily over the original text; plain is the baseline."""
    q = qb.bm25_query(
        "купить Redmi Note 12 WH-1000XM5", {"en": "buy Redmi Note 12"}, ["WH-1000XM5"], lenient_languages=["en", "zh"]
    )
    mm = [c["multi_match"] for c in q["bool"]["should"] if "multi_match" in c]
    lenient = next(m for m in mm if m.get("boost") == qb.LENIENT_BOOST)
    assert lenient["minimum_should_match"] == "1" and lenient["query"].startswith("купить")
    assert {"title.original^3", "title.zh^3", "title.en^3"} <= set(lenient["fields"])  # the default scope: all
    others = qb.bm25_query("x y", {"en": "x y", "ru": "x y"}, [], qb.BM25Boosts(lenient_scope="others"),
                           lenient_languages=["en"])
    scoped = next(c["multi_match"] for c in others["bool"]["should"] if c.get("multi_match", {}).get("boost") == 0.5)
    assert not any(f.startswith(("title.original", "title.ru")) for f in scoped["fields"])
    typo = next(m for m in mm if "fuzziness" in m)
    assert typo["query"] == "купить Redmi Note 12" and typo["prefix_length"] == 1
    assert all(f.split("^")[0].endswith(".original") for f in typo["fields"])
    assert {f.split(".")[0] for f in typo["fields"]} == {"title", "brand"}  # names, not descriptions
    off = qb.bm25_query("x y", {}, [], qb.BM25Boosts(lenient=0, typo=0))
    assert len(off["bool"]["should"]) == 2  # the strict clause and its phrase only
    plain = qb.plain_query("rote Schuhe")["multi_match"]
    assert plain["operator"] == "or" and plain["fuzziness"] == "AUTO"


def test_window_lists_carry_ids_from_doc_values():
    body = qb.ids_only({**qb.bm25_request({"match_all": {}}, qb.SearchFilters(), size=100), "aggs": {}}, ["attr.colour"])
    assert "_source" not in body and body["stored_fields"] == "_none_"
    assert body["docvalue_fields"] == [qb.ID_FIELD, "attr.colour"] and body["size"] == 100 and "aggs" in body
    assert qb.hit_id({"_id": "a-1", "fields": {"id": ["b"]}}) == "a-1"
    assert qb.hit_id({"_score": 1.0, "fields": {"id": ["a-1"]}}) == "a-1"


def test_knn_carries_the_same_filters():
    f = qb.SearchFilters(brand="Sony", price_max=100)
    body = qb.knn_request({"embedding": [0.1, 0.2]}, f, k=50, num_candidates=20)
    assert body["knn"]["filter"] == f.clauses()
    assert body["knn"]["num_candidates"] == 50  # never below k
    bm = qb.bm25_request({"match_all": {}}, f, size=10, from_=20)
    assert bm["query"]["bool"]["filter"] == f.clauses() and bm["from"] == 20
    combined = qb.combined_request({"match_all": {}}, {"embedding": [0.1]}, f, 10, 0, 100, 200, knn_boost=5)
    assert combined["knn"]["filter"] == f.clauses() and combined["knn"]["boost"] == 5
    rrf = qb.retriever_request("rrf", {"match_all": {}}, {"embedding": [0.1]}, f, 10, 0, 100, 200)
    retr = rrf["retriever"]["rrf"]
    assert retr["rank_window_size"] == 100 and retr["retrievers"][1]["knn"]["filter"] == f.clauses()
    assert retr["retrievers"][0]["standard"]["filter"] == f.clauses()
    lin = qb.retriever_request("linear", {"match_all": {}}, {"embedding": [0.1]}, f, 10, 0, 100, 200, (1, 2))
    assert lin["retriever"]["linear"]["retrievers"][1]["weight"] == 2


def test_several_vector_fields_share_the_knn_side():
    f = qb.SearchFilters(brand="Sony")
    vectors = {"embedding": [0.1, 0.2], "embedding_use": [0.3]}
    body = qb.knn_request(vectors, f, k=10, num_candidates=100)
    assert [c["field"] for c in body["knn"]] == ["embedding", "embedding_use"]
    assert all(c["filter"] == f.clauses() for c in body["knn"])
    combined = qb.combined_request({"match_all": {}}, vectors, f, 10, 0, 100, 200, knn_boost=6)
    assert [c["boost"] for c in combined["knn"]] == [3, 3]
    lin = qb.retriever_request("linear", {"match_all": {}}, vectors, f, 10, 0, 100, 200, (1, 2))
    assert [r["weight"] for r in lin["retriever"]["linear"]["retrievers"]] == [1, 1, 1]
    rrf = qb.retriever_request("rrf", {"match_all": {}}, vectors, f, 10, 0, 100, 200)
    assert len(rrf["retriever"]["rrf"]["retrievers"]) == 3
    from xlsearch_es.search.fusion import list_weights

    order = ["embedding", "embedding_use"]
    assert list_weights(2.0, {"embedding": 1, "embedding_use": 1}, order) == {
        "bm25": 1.0, "knn": 1.0, "knn:embedding_use": 1.0}
    assert list_weights(2.0, {"embedding": 0.25, "embedding_use": 0.75}, order) == {
        "bm25": 1.0, "knn": 0.5, "knn:embedding_use": 1.5}
    # An encoder with no share (it does not know the query's language) has no list; the
    # other keeps its name (lists are named by the index's field order) and the whole weight.
    assert list_weights(2.0, {"embedding_use": 0.6}, order) == {"bm25": 1.0, "knn:embedding_use": 2.0}


def test_rrf_hand_computed_and_deterministic_ties():
    fused = reciprocal_rank({"bm25": [("a", 9), ("b", 5)], "knn": [("b", 0.9), ("c", 0.8)]}, k=60)
    scores = {f.id: f.score for f in fused}
    assert scores["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert scores["a"] == pytest.approx(1 / 61) and scores["c"] == pytest.approx(1 / 62)
    assert [f.id for f in fused] == ["b", "a", "c"]
    assert fused[0].ranks == {"bm25": 2, "knn": 1}
    tie = reciprocal_rank({"x": [("z", 1)], "y": [("a", 1)]})
    assert [f.id for f in tie] == ["a", "z"]  # equal scores: by id


def test_minmax_and_zscore():
    lists = {"bm25": [("a", 10.0), ("b", 5.0), ("c", 0.0)], "knn": [("c", 0.9), ("a", 0.5)]}
    mm = {f.id: f.score for f in weighted_sum(lists, "minmax")}
    assert mm["a"] == pytest.approx(1.0 + 0.0) and mm["c"] == pytest.approx(0.0 + 1.0)
    assert mm["b"] == pytest.approx(0.5 + 0.0)
    weighted = {f.id: f.score for f in weighted_sum(lists, "minmax", {"bm25": 1, "knn": 2})}
    assert weighted["c"] == pytest.approx(2.0)
    z = {f.id: f.score for f in weighted_sum(lists, "zscore")}
    assert z["a"] == pytest.approx(1.2247 + -1.0, abs=1e-3)
    assert weighted_sum({"only": [("a", 3.0)]}, "minmax")[0].score == 1.0
    with pytest.raises(ValueError):
        weighted_sum(lists, "median")
