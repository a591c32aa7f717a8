"""What every encoder offers, and the registry of encoder kinds.

An index can hold vectors from several encoders, one ``dense_vector`` field
each. An ``EncoderKind`` names its field and knows how to describe and load its
model from ``Settings``; ``Embedder`` is the loaded model. A new encoder is one
file that defines both and registers the kind in ``ENCODERS``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..config import Settings
from ..errors import ConfigError
from ..mapping import DEFAULT_ENCODER, ModelMeta
from ..registry import Registry

ROLES = ("query", "passage")


class Embedder(Protocol):
    """A loaded encoder: L2-normalised float32 rows, one per text."""

    name: str
    fingerprint: str
    dims: int

    def meta(self) -> ModelMeta: ...

    def encode(self, texts: Sequence[str], role: str = "passage") -> np.ndarray: ...


@dataclass(frozen=True)
class EncoderKind:
    name: str
    vector_field: str
    description: str
    load: Callable[[Settings], Embedder]
    # The metadata an index records; should not need the weights in memory.
    describe: Callable[[Settings], ModelMeta]


ENCODERS: Registry[EncoderKind] = Registry(
    "encoder",
    {
        DEFAULT_ENCODER: "xlsearch_es.embed.transformers_kind:TRANSFORMERS",
        "use": "xlsearch_es.embed.use:USE_KIND",
    },
)


def encoder_kinds(settings: Settings) -> list[EncoderKind]:
    """The configured kinds, in order; two kinds may not share a vector field."""
    kinds = [ENCODERS.get(name) for name in settings.encoders]
    fields = [k.vector_field for k in kinds]
    if len(set(fields)) != len(fields):
        raise ConfigError(f"encoders {', '.join(settings.encoders)} write to the same vector field")
    return kinds


def load_embedders(settings: Settings) -> dict[str, Embedder]:
    """vector field -> loaded embedder, for every configured encoder (its query vectors
    through the configured query adapter, where that has one for its kind)."""
    if not settings.query_adapter:
        return {kind.vector_field: kind.load(settings) for kind in encoder_kinds(settings)}
    from .adapter import adapt, load_query_adapters

    adapters = load_query_adapters(settings.query_adapter)
    return {kind.vector_field: adapt(kind.load(settings), kind.name, adapters) for kind in encoder_kinds(settings)}


def describe_embedders(settings: Settings) -> dict[str, ModelMeta]:
    """vector field -> what the index records about its model (models converted/prepared if needed)."""
    return {kind.vector_field: kind.describe(settings) for kind in encoder_kinds(settings)}


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    return role


def as_embedders(given: Embedder | Mapping[str, Embedder]) -> dict[str, Embedder]:
    """vector field -> embedder, from a mapping or from one embedder (its kind's field)."""
    if isinstance(given, Mapping):
        return dict(given)
    return {ENCODERS.get(given.meta().encoder).vector_field: given}


class DescribedEmbedder:
    """An encoder known by its metadata only (the driver of a distributed load,
    whose workers hold the weights); it cannot encode."""

    def __init__(self, meta: ModelMeta):
        self._meta = meta
        self.name, self.fingerprint, self.dims = meta.name, meta.fingerprint, meta.dims

    def meta(self) -> ModelMeta:
        return self._meta

    def encode(self, texts: Sequence[str], role: str = "passage") -> np.ndarray:
        raise RuntimeError(f"{self.name} is loaded on the workers, not here")
