"""Category keys and the focus rules (pure logic: no cluster, no model)."""

from __future__ import annotations

import numpy as np

from xlsearch_es.categories import CategoryMap, PathInfo, link_categories
from xlsearch_es.search.focus import Floor, floor_cut, focus, product_type, reorder
from xlsearch_es.search.fusion import Fused


def _vec(*xs: float) -> list[float]:
    v = np.array(xs, dtype=float)
    return (v / np.linalg.norm(v)).tolist()


def test_paths_link_across_languages_never_within_one():
    paths = [
        PathInfo("Clothing > Dresses", "en", _vec(1, 0.1, 0), {"es": "ropa > vestido"}),
        PathInfo("Ropa > Vestidos", "es", _vec(1, 0.12, 0.02)),
        PathInfo("Clothing > Skirts", "en", _vec(1, 0.3, 0.1)),  # close, but English already has its path
        PathInfo("Electrónica > Móviles", "es", _vec(0, 1, 0)),
        PathInfo("Electronics > Phones", "en", _vec(0.05, 1, 0.1)),
        PathInfo("Spielzeug", "de", _vec(0, 0, 1)),  # nothing near it: its own key
    ]
    mapping = link_categories(paths, ["en", "es", "de"])
    assert mapping.members["Clothing > Dresses"] == {"en": "Clothing > Dresses", "es": "Ropa > Vestidos"}
    assert mapping.members["Electronics > Phones"] == {"en": "Electronics > Phones", "es": "Electrónica > Móviles"}
    assert mapping.members["Clothing > Skirts"] == {"en": "Clothing > Skirts"}
    assert mapping.members["Spielzeug"] == {"de": "Spielzeug"}
    assert mapping.key_of("Ropa > Vestidos") == "Clothing > Dresses"
    assert mapping.label("Clothing > Dresses", "es") == "Ropa > Vestidos"
    assert mapping.label("Clothing > Skirts", "es") == "Clothing > Skirts"  # no Spanish words for it: the key
    assert mapping.merge_counts({"Ropa > Vestidos": 3, "Clothing > Dresses": 2, "Spielzeug": 4}) == {
        "Clothing > Dresses": 5,
        "Spielzeug": 4,
    }
    assert CategoryMap.parse(mapping.as_meta()) == mapping
    assert not CategoryMap.parse(None) and not CategoryMap.parse({"members": "junk"})
    assert mapping.paths_of("Unknown > Path") == ["Unknown > Path"]


def test_the_type_is_the_category_that_dominates_the_top():
    assert product_type(["a", "a", "b", "a", "c"]) == "a"
    assert product_type(["a", "b", "c", "d", "e", "f"]) is None  # a query that names no type
    assert product_type([None, None]) is None


def test_type_before_attribute_and_a_floor_that_only_counts():
    ids = ["red-shoe", "black-jeans", "black-shoe", "black-bag", "white-shoe"]
    paths = {i: ("Shoes" if "shoe" in i else "Other") for i in ids}
    mapping = CategoryMap(members={"Shoes": {"en": "Shoes"}, "Other": {"en": "Other"}})
    focused = focus(ids, {}, paths, mapping)
    assert focused.product_type == "Shoes" and focused.matching == 3
    assert focused.ids == ["red-shoe", "black-shoe", "white-shoe", "black-jeans", "black-bag"]
    # "black shoes": within the type, the black ones first, then the unknown, then other colours
    agreement = {"red-shoe": -1, "black-shoe": 1, "black-jeans": 1, "black-bag": 1}
    by_colour = focus(ids, {}, paths, mapping, agreement=agreement)
    assert by_colour.ids == ["black-shoe", "white-shoe", "red-shoe", "black-jeans", "black-bag"]
    # no categories: the order stays, the total ends at the last product that passes
    scores = {
        "a": {"knn": 0.95, "bm25": 10.0},
        "b": {"knn": 0.80},
        "c": {"bm25": 6.0},
        "d": {"knn": 0.70},
    }
    assert floor_cut(list(scores), scores, Floor(knn_gap=0.03, bm25_share=0.5)) == 3
    unfocused = focus(list(scores), scores, {}, CategoryMap(), Floor(knn_gap=0.03, bm25_share=0.5))
    assert unfocused.ids == list(scores) and unfocused.matching == 3 and unfocused.product_type is None
    fused = [Fused("x", 0.9), Fused("y", 0.5), Fused("z", 0.7)]
    moved = reorder(fused, ["y", "z", "x"])
    assert [f.id for f in moved] == ["y", "z", "x"] and [f.score for f in moved] == [0.9, 0.7, 0.5]


def test_linking_recovers_many_categories_across_five_languages():
    """100 categories, each written once in 5 languages with its own noise: every one
    comes back whole (the incremental linkage must not merge dead groups)."""
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(100, 64))
    paths = [
        PathInfo(f"cat{c}-{lang}", lang, (centres[c] + 0.25 * rng.normal(size=64)).tolist())
        for c in range(100)
        for lang in ("en", "de", "es", "ja", "zh")
    ]
    mapping = link_categories(paths, ["en", "de", "es", "ja", "zh"])
    assert len(mapping.members) == 100
    for key, members in mapping.members.items():
        assert {p.split("-")[0] for p in members.values()} == {key.split("-")[0]} and len(members) == 5
