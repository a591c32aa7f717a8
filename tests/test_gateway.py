"""The gateway's pure parts: where an xlsearch clause may stand, how it becomes
ranked id clauses, and _bulk parsing (fast, no cluster)."""

from __future__ import annotations

import json

import pytest

from xlsearch_es.errors import XLSearchError
from xlsearch_es.serve.gateway import ClauseRequest, bulk_item, bulk_lines, expand_xlsearch, parse_bulk, ranked_clause


def _run(calls):
    def run(clause: ClauseRequest, window: int):
        calls.append((clause, window))
        return [("b", 2.0), ("a", 1.0)]
    return run


def test_ranked_clause_scores_follow_the_fused_order():
    clause = ranked_clause([("x", 9.0), ("y", 5.0), ("z", 1.0)])
    boosts = [(s["constant_score"]["filter"]["ids"]["values"][0], s["constant_score"]["boost"])
              for s in clause["bool"]["should"]]
    assert [b[0] for b in boosts] == ["x", "y", "z"] and boosts[0][1] > boosts[1][1] > boosts[2][1] > 0
    assert ranked_clause([]) == {"match_none": {}}


def test_clauses_are_found_at_the_top_and_inside_compound_queries():
    calls: list = []
    body = {"size": 20, "from": 100, "query": {"bool": {
        "must": [{"xlsearch": {"query": "rote schuhe", "lang": "de"}}],
        "should": {"dis_max": {"queries": [{"xlsearch": "red shoes"}, {"match": {"title": "x"}}]}},
        "filter": [{"constant_score": {"filter": {"term": {"brand_exact": "nike"}}}}]}}}
    assert expand_xlsearch(body, _run(calls)) == 2
    assert [c.query for c, _ in calls] == ["rote schuhe", "red shoes"] and calls[0][0].lang == "de"
    assert calls[0][1] == 120  # the window covers the requested page
    must = body["query"]["bool"]["must"][0]
    assert must["bool"]["should"][0]["constant_score"]["filter"]["ids"]["values"] == ["b"]
    assert body["query"]["bool"]["should"]["dis_max"]["queries"][1] == {"match": {"title": "x"}}
    assert expand_xlsearch({"query": {"match_all": {}}}, _run([])) == 0
    assert expand_xlsearch({"aggs": {}}, _run([])) == 0


@pytest.mark.parametrize("spec,message", [({"text": "x"}, "needs"), ({"query": "x", "colour": "red"}, "unknown"),
                                          (42, "needs")])
def test_bad_clauses_are_clear_errors(spec, message):
    with pytest.raises(XLSearchError, match=message):
        expand_xlsearch({"query": {"xlsearch": spec}}, _run([]))


def test_bulk_parsing_and_answers():
    text = "\n".join([json.dumps({"index": {"_id": "1"}}), json.dumps({"title": "a"}),
                      json.dumps({"delete": {"_index": "other", "_id": "2"}}),
                      json.dumps({"update": {"_id": "3"}}), json.dumps({"doc": {"price": 1}})]) + "\n"
    actions = parse_bulk(text, "products")
    assert [(a.op, a.index, a.id) for a in actions] == [("index", "products", "1"), ("delete", "other", "2"),
                                                         ("update", "products", "3")]
    assert parse_bulk(bulk_lines(actions), None)[0].source == {"title": "a"}
    for bad, message in (("{nope\n", "not JSON"), ('{"index": {}}\n', "no source line"),
                         ('{"merge": {}}\n{}\n', "unknown action"), ('{"index": {}}\n{bad\n', "line 2 is not JSON")):
        with pytest.raises(XLSearchError, match=message):
            parse_bulk(bad, "products")
    assert bulk_item("index", "p", "1", 400, "rejected", "missing title")["index"]["error"]["reason"] == "missing title"
    assert bulk_item("index", "p", "1", 201, "created")["index"]["result"] == "created"
