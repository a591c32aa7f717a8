"""Metric code against hand-computed values."""

import math

import pytest

from xlsearch_es.relevance.metrics import (mean, mrr_at_k, ndcg_at_k, percentile, rank_by_score,
                                            recall_at_k)


def test_ndcg_graded_gains_by_hand():
    qrels = {"a": 3, "b": 2, "c": 0, "d": 1}
    ranked = ["c", "b", "x", "a"]
    dcg = 0 / math.log2(2) + 2 / math.log2(3) + 0 / math.log2(4) + 3 / math.log2(5)
    idcg = 3 / math.log2(2) + 2 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(ranked, qrels, 10) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(["a", "b", "d"], qrels, 10) == pytest.approx(1.0)
    assert ndcg_at_k(ranked, qrels, 1) == 0.0
    assert ndcg_at_k(["a", "a", "b"], qrels, 2) == pytest.approx(1.0)  # repeated ids count once


def test_ties_are_broken_by_id():
    assert rank_by_score({"b": 1.0, "a": 1.0, "c": 2.0}) == ["c", "a", "b"]
    ranked = rank_by_score({"rel": 0.5, "aaa": 0.5})
    assert ndcg_at_k(ranked, {"rel": 1}, 10) == pytest.approx(1 / math.log2(3))


def test_recall_and_mrr():
    qrels = {"a": 1, "b": 2, "c": 0}
    assert recall_at_k(["x", "b", "y"], qrels, 100) == 0.5
    assert recall_at_k(["x", "b", "a"], qrels, 2) == 0.5
    assert mrr_at_k(["x", "c", "b"], qrels, 10) == pytest.approx(1 / 3)
    assert mrr_at_k(["x", "y"], qrels, 10) == 0.0
    assert mrr_at_k(["x", "a"], qrels, 1) == 0.0


def test_queries_without_relevant_documents_are_undefined_and_skipped():
    only_zero = {"c": 0}
    assert ndcg_at_k(["c"], only_zero) is None
    assert recall_at_k(["c"], only_zero) is None
    assert mrr_at_k(["c"], only_zero) is None
    assert mean([1.0, None, 0.0]) == 0.5 and mean([None]) is None


def test_percentile():
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([5], 95) == 5
    assert percentile([1, 2, 3, 4, 5], 100) == 5
