"""Client-side highlighting: pure logic, no cluster."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from xlsearch_es.search.highlight import QueryTerms, best_title_highlight, fold


def test_words_match_across_case_accents_width_and_plurals():
    terms = QueryTerms(["Robe ROUGE", "red dress"])
    marked, count = terms.mark("Red Dresses for summer, robe rouge élégante")
    assert marked == "<em>Red</em> <em>Dresses</em> for summer, <em>robe</em> <em>rouge</em> élégante"
    assert count == 4
    assert fold("ＡＢＣ Café") == "abc cafe"
    assert QueryTerms(["cafe"]).mark("Café noir")[0] == "<em>Café</em> noir"


def test_short_words_and_model_numbers_match_only_exactly():
    terms = QueryTerms(["tv", "WH-1000XM5"])
    assert terms.mark("tvs and tv")[0] == "tvs and <em>tv</em>"
    marked, _ = terms.mark("Sony WH-1000XM5 headphones, WH-1000XM4 older")
    assert "<em>WH</em>-<em>1000XM5</em>" in marked and "<em>1000XM4</em>" not in marked


def test_cjk_runs_match_whole_or_by_two_character_pieces():
    assert QueryTerms(["红色 连衣裙"]).mark("夏季红色连衣裙")[0] == "夏季<em>红色连衣裙</em>"
    marked, count = QueryTerms(["蓝牙耳机"]).mark("无线蓝牙运动耳机")
    assert marked == "无线<em>蓝牙</em>运动<em>耳机</em>" and count == 2


def test_best_title_prefers_original_then_query_language_then_most_matches():
    terms = QueryTerms(["zapatillas negras", "black sneakers"])
    titles = {"original": "Black running sneakers", "es": "Zapatillas negras para correr"}
    fragment, key = best_title_highlight(titles, terms, ("original", "es"))
    assert key == "original" and fragment == "<em>Black</em> running <em>sneakers</em>"
    fragment, key = best_title_highlight({"original": "Laufschuhe", "es": "zapatillas"}, terms, ("original", "es"))
    assert key == "es" and fragment == "<em>zapatillas</em>"
    assert best_title_highlight({"original": "Laufschuhe"}, terms, ("original",)) == (None, None)
    assert best_title_highlight({"original": "x"}, QueryTerms([""]), ("original",)) == (None, None)


TEXT = st.characters(blacklist_characters="\x00\x01")


@given(st.text(TEXT, max_size=60), st.text(TEXT, max_size=30))
def test_marking_never_changes_the_text(title, query):
    marked, count = QueryTerms([query]).mark(title, pre="\x00", post="\x01")
    assert marked.replace("\x00", "").replace("\x01", "") == title
    assert marked.count("\x00") == count == marked.count("\x01")
