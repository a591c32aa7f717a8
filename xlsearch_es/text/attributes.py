"""Colours and materials as canonical English keywords, for products and queries.

A shopper's "negras" and a product's "ブラック" meet in English: both sides are
read from their English text (the original when it is English, else the
dictionary translation every index carries), so one English vocabulary serves
every language the lexicon translates. Products get ``attr.color`` /
``attr.material`` keyword fields at ingest; a query naming a colour or material
boosts the products that carry it (never a filter: a product without the
attribute still ranks, just below one that has it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .fold import WORD, fold

# word -> canonical value (spelling variants and near-synonyms folded together)
COLORS = {
    **{c: c for c in ("black", "white", "red", "green", "blue", "yellow", "orange", "purple", "pink", "brown")},
    **{c: c for c in ("beige", "navy", "silver", "gold", "turquoise", "violet", "khaki", "burgundy", "cream")},
    "grey": "grey",
    "gray": "grey",
}
MATERIALS = {
    **{m: m for m in ("cotton", "leather", "wool", "silk", "linen", "denim", "polyester", "nylon", "cashmere")},
    **{m: m for m in ("silicone", "plastic", "metal", "steel", "wood", "glass", "ceramic", "rubber", "bamboo")},
    "aluminium": "aluminium",
    "aluminum": "aluminium",
    "wooden": "wood",
    "stainless": "steel",
}
VOCABULARIES = {"color": COLORS, "material": MATERIALS}
ATTRIBUTE_FIELDS = tuple(VOCABULARIES)


def extract(texts: Iterable[str]) -> dict[str, list[str]]:
    """Attribute kind -> canonical values found in English ``texts`` (in order, no repeats)."""
    found: dict[str, list[str]] = {}
    for text in texts:
        for word in WORD.findall(text or ""):
            folded = fold(word)
            for kind, vocabulary in VOCABULARIES.items():
                value = vocabulary.get(folded)
                if value and value not in found.setdefault(kind, []):
                    found[kind].append(value)
    return {kind: values for kind, values in found.items() if values}


def product_attributes(english_title: str, attributes: Mapping[str, object]) -> dict[str, list[str]]:
    """From the English title and the record's own attribute values (those that are
    English vocabulary words: "color": "black" counts, "color": "negro" does not)."""
    values = [str(v) for k, v in attributes.items() if isinstance(v, str | int | float) and str(v).strip()]
    return extract([english_title, *values])
