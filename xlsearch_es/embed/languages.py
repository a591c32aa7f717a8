"""The languages each encoder was trained on, from its model card.

Search gives an encoder's vectors no weight for a query in a language the
encoder never saw (a vector from a model that cannot read the query only adds
noise: USE-multilingual cost Greek, Hindi and Vietnamese 0.13-0.21 MRR@10 when
it was weighted like e5 there). An empty tuple means "not declared": the
encoder is trusted with every language.
"""

from __future__ import annotations

from collections.abc import Iterable

# XLM-RoBERTa's 100 pre-training languages (Conneau et al. 2020, "Unsupervised Cross-lingual
# Representation Learning at Scale", Table 6), the ones with an ISO 639-1 code. The
# multilingual-e5 model card (intfloat/multilingual-e5-small) says it is initialised from
# Multilingual-MiniLM (XLM-R's vocabulary) and supports the languages XLM-R does.
XLMR_LANGUAGES = tuple(
    "af am ar as az be bg bn br bs ca cs cy da de el en eo es et eu fa fi fr fy ga gd gl gu ha he hi hr hu hy "
    "id is it ja jv ka kk km kn ko ku ky la lo lt lv mg mk ml mn mr ms my ne nl no om or pa pl ps pt ro ru sa "
    "sd si sk sl so sq sr su sv sw ta te th tl tr ug uk ur uz vi xh yi zh".split()
)

# The TF Hub model card of universal-sentence-encoder-multilingual/3: "16 languages (Arabic,
# Chinese-simplified, Chinese-traditional, English, French, German, Italian, Japanese, Korean,
# Dutch, Polish, Portuguese, Spanish, Thai, Turkish, Russian)"; both Chinese scripts are zh.
USE_LANGUAGES = ("ar", "de", "en", "es", "fr", "it", "ja", "ko", "nl", "pl", "pt", "ru", "th", "tr", "zh")

# Model names (or hub ids) whose card lists their languages; matched on the name's last part.
_BY_MODEL = {
    "multilingual-e5-small": XLMR_LANGUAGES,
    "multilingual-e5-base": XLMR_LANGUAGES,
    "multilingual-e5-large": XLMR_LANGUAGES,
}


def model_languages(*names: str | None) -> tuple[str, ...]:
    """The declared languages of the first name known here (a model, then its base for a
    fine-tuned one); () when none is: not declared, trusted with every language."""
    for name in names:
        if name and name.rsplit("/", 1)[-1] in _BY_MODEL:
            return _BY_MODEL[name.rsplit("/", 1)[-1]]
    return ()


def covers(languages: Iterable[str], lang: str) -> bool:
    """Whether an encoder declared to know ``languages`` reads ``lang`` (() = every language)."""
    declared = tuple(languages)
    return not declared or lang in declared
