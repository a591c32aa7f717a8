"""Colours and materials: extraction (pure) and the soft reorder after fusion (pure)."""

from __future__ import annotations

from xlsearch_es.search.fusion import Fused, attribute_agreement, shift_by_agreement
from xlsearch_es.text.attributes import extract, product_attributes


def test_extraction_folds_variants_and_keeps_order():
    assert extract(["Grey wool coat, gray lining", "Stainless steel bottle"]) == {
        "color": ["grey"],
        "material": ["wool", "steel"],
    }
    assert extract(["slipper black", ""]) == {"color": ["black"]}
    assert extract(["Laptop 32GB"]) == {}
    assert product_attributes("phone case, green", {"color": "green", "material": "silicone", "size": 4}) == {
        "color": ["green"],
        "material": ["silicone"],
    }
    assert product_attributes("", {"color": "negro"}) == {}  # only English vocabulary counts


def test_agreement_and_soft_shift():
    wanted = {"color": ["black"]}
    assert attribute_agreement(wanted, {"color": ["black", "red"]}) == 1
    assert attribute_agreement(wanted, {"color": ["red"]}) == -1
    assert attribute_agreement(wanted, {"color": []}) == 0 and attribute_agreement({}, {"color": ["red"]}) == 0
    fused = [Fused(i, 1.0 - n / 10) for n, i in enumerate("abcdefgh")]
    # a red (contradicts), b black (agrees): b overtakes a; h (black, far down) moves only past g;
    # ties keep the fused order.
    out = [f.id for f in shift_by_agreement(fused, {"a": -1, "b": 1, "h": 1}, places=2)]
    assert out == list("bacdefhg")
    assert [f.id for f in shift_by_agreement(fused, {})] == list("abcdefgh")


def test_shifted_scores_stay_in_rank_order():
    """The score shown is the one the list is in: after the shift, scores never rise down
    the list, and each product's own fused score stays in its components."""
    fused = [Fused(i, 1.0 - n / 10) for n, i in enumerate("abcdefgh")]
    out = shift_by_agreement(fused, {"a": -1, "b": 1, "h": 1}, places=2)
    scores = [f.score for f in out]
    assert scores == sorted(scores, reverse=True) == [f.score for f in fused]
    assert out[0].id == "b" and out[0].scores["fused"] == 0.9
