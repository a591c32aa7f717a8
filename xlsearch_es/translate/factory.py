"""Build the configured translator (backend + shared translation memory)."""

from __future__ import annotations

from ..config import Settings
from ..errors import ConfigError
from .base import NoneBackend, Translator
from .memory import TranslationMemory

BACKENDS = ("lexicon", "seq2seq", "causal-lm", "none")


def make_translator(settings: Settings, backend: str | None = None) -> Translator:
    name = backend or settings.translator
    memory = TranslationMemory(settings.home_dir / "translation-memory.sqlite")
    if name == "none":
        return Translator(NoneBackend(), memory)
    if name == "lexicon":
        from .dictionaries import build_lexicon
        from .lexicon import LexiconBackend

        build_lexicon(settings.home_dir)
        return Translator(LexiconBackend(settings.home_dir), memory)
    if name in ("seq2seq", "causal-lm"):
        if not settings.translator_model:
            raise ConfigError(f"the {name} translator needs a model: --translator-model PATH_OR_HUB_ID "
                              "(or XLSEARCH_TRANSLATOR_MODEL)")
        if name == "seq2seq":
            from .seq2seq import Seq2SeqBackend

            return Translator(Seq2SeqBackend(settings.translator_model, device=settings.device), memory)
        from .causal_lm import CausalLMBackend

        return Translator(CausalLMBackend(settings.translator_model, device=settings.device), memory)
    raise ConfigError(f"unknown translator {name!r}; choose one of {', '.join(BACKENDS)}")
