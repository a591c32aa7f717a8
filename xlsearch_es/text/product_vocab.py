"""English words that shops use: the domain prior for choosing a dictionary sense.

A general dictionary lists "zapatilla" as "slipper" and "sneaker", "verde" as
"green" and "unripe"; the most common English word is not always the product
one. When the lexicon is compiled, a candidate found here outranks one that is
not (see ``translate.dictionaries.rank_candidates``). The list holds product
types, sizes, units and the attribute vocabularies of ``text.attributes``; it is
a prior, not a glossary: the dictionary still decides which candidates exist.
"""

from __future__ import annotations

from .attributes import COLORS, MATERIALS

_TYPES = """
accessory adapter apron armchair backpack bag ball bandage basket bathrobe battery bead bed bedsheet belt bib bicycle
bike bikini blanket blazer blender blouse boot bottle bowl box bra bracelet brake briefcase broom brooch brush bucket
bulb bumper button cabinet cable calendar camera candle cap car card cardigan carpet cart case chain chair charger
clip clock coat collar comb computer cooker cord cot costume cup curtain cushion desk diaper dishwasher doll door
drawer dress drill dryer duvet earphone earring envelope eraser fan faucet filter flashlight folder fork frame
freezer fryer gasket glove glue goggles guitar hairdryer hammer handbag hanger hat headband headphone heater helmet
hoodie hook hose iron jacket jar jeans jersey jewelry jewellery kettle key keyboard keychain knife ladder lamp
laptop leash lens lid light lighter lipstick lock mask mat mattress microphone microwave mirror mitten monitor mop
mouse mug nail napkin necklace needle notebook oven pacifier pad paint pan panties pants pen pencil pendant perfume
phone pillow pillowcase plate plug pot printer pump purse quilt racket radio rack razor refrigerator remote ring robe
rug ruler sandal saucepan saw scarf scissors screen screw screwdriver sheet shelf shirt shoe shorts shovel skirt
slipper sneaker soap sock sofa spatula speaker sponge spoon stool stove strap stroller suit suitcase sunglasses
sweater sweatshirt swimsuit switch table tablet tape teapot tent thermometer tie tights tire toaster toothbrush
torch towel toy tracksuit trainer tray tripod trousers t-shirt tshirt tyre umbrella underwear vacuum vase vest wallet
washer watch wheel wig wire wrench zipper
"""
_SIZES_AND_SHAPES = """
small large big little tiny huge medium long short wide narrow thick thin tall high low deep flat round square
heavy light soft hard loose tight slim mini maxi oversize oversized size xl xxl plus kids children child baby men
women woman man girl boy unisex waterproof wireless portable rechargeable electric digital automatic manual
foldable adjustable new used vintage summer winter spring autumn
"""
_UNITS = """
meter metre centimeter centimetre millimeter millimetre kilometer inch foot feet yard kilogram gram milligram pound
ounce liter litre milliliter gallon watt volt ampere hertz pair piece pack set dozen roll box bundle
"""

PRODUCT_WORDS: frozenset[str] = frozenset(
    _TYPES.split() + _SIZES_AND_SHAPES.split() + _UNITS.split() + list(COLORS) + list(MATERIALS)
)


def is_product_word(text: str) -> bool:
    """True when a candidate (a word or a short phrase) ends in a product word: "running shoe", "red"."""
    words = text.casefold().split()
    if not words:
        return False
    last = words[-1]
    return last in PRODUCT_WORDS or (last.endswith("s") and last[:-1] in PRODUCT_WORDS)
