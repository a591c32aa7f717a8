"""The translator registry: a name -> a function that builds its backend from Settings.

``make_translator`` wraps the chosen backend with the shared parts (masking,
translation memory). A new translator is one file with a ``Backend`` subclass
and a factory, registered in ``TRANSLATORS``.
"""

from __future__ import annotations

from collections.abc import Callable

from ..config import Settings
from ..errors import ConfigError
from ..registry import Registry
from .base import Backend, NoneBackend, Translator
from .memory import TranslationMemory

BackendFactory = Callable[[Settings], Backend]

TRANSLATORS: Registry[BackendFactory] = Registry(
    "translator",
    {
        "lexicon": "xlsearch_es.translate.lexicon:make_lexicon",
        "seq2seq": "xlsearch_es.translate.seq2seq:make_seq2seq",
        "causal-lm": "xlsearch_es.translate.causal_lm:make_causal_lm",
        "none": "xlsearch_es.translate.factory:make_none",
    },
)


def make_none(settings: Settings) -> Backend:  # the factory signature
    """No translation: BM25 matches the original text only, kNN does the cross-lingual work."""
    return NoneBackend()


def needs_model(name: str, settings: Settings) -> str:
    """The translator model a model-backed translator was configured with."""
    if not settings.translator_model:
        raise ConfigError(
            f"the {name} translator needs a model: --translator-model PATH_OR_HUB_ID (or XLSEARCH_TRANSLATOR_MODEL)"
        )
    return settings.translator_model


def make_translator(settings: Settings, backend: str | None = None) -> Translator:
    """The named (else configured) translator, with the shared translation memory."""
    factory = TRANSLATORS.get(backend or settings.translator)
    return Translator(factory(settings), TranslationMemory(settings.home_dir / "translation-memory.sqlite"))
