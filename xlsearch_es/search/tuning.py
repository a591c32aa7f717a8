"""Search parameters learnt by ``xlsearch tune``, as stored in an index's ``_meta``.

Pure data: the client reads a ``Tuning`` from the index it searches and, for a
query in language L, applies L's override when tuning found one, else the
global parameters. Anything the caller passes explicitly wins over both.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from .query_builder import BM25Boosts

META_KEY = "tuning"


@dataclass(frozen=True)
class SearchParams:
    """Ranking knobs; None means "not set here" (fall through to the next layer)."""

    fusion: str | None = None
    knn_weight: float | None = None
    rank_window: int | None = None
    translation_weight: float | None = None
    boosts: BM25Boosts | None = None
    knn_shares: tuple[float, ...] | None = None  # the kNN weight's split between vector fields (index order)
    judged_weight: float | None = None  # a judged field's share, of its encoder field's (learn/judged.py)

    def over(self, base: SearchParams) -> SearchParams:
        """These values where set, ``base``'s elsewhere."""
        return replace(
            base, **{f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}
        )

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if v is not None}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> SearchParams:
        data = dict(data or {})
        boosts = data.pop("boosts", None)
        shares = data.pop("knn_shares", None)
        known = {f.name for f in fields(cls)}
        return cls(
            **{k: v for k, v in data.items() if k in known},
            boosts=BM25Boosts(**boosts) if isinstance(boosts, dict) else None,
            knn_shares=tuple(float(s) for s in shares) if isinstance(shares, list | tuple) else None,
        )


@dataclass(frozen=True)
class Tuning:
    version: int
    params: SearchParams
    per_language: dict[str, SearchParams] = field(default_factory=dict)
    data: str = ""
    data_hash: str = ""
    model_fingerprint: str = ""
    validation: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""

    def for_language(self, lang: str) -> tuple[SearchParams, str]:
        """The parameters for a query in ``lang`` and where they came from."""
        if lang in self.per_language:
            return self.per_language[lang].over(self.params), f"v{self.version}, {lang} override"
        return self.params, f"v{self.version}"

    def as_meta(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "params": self.params.as_dict(),
            "per_language": {k: v.as_dict() for k, v in sorted(self.per_language.items())},
            "data": self.data,
            "data_hash": self.data_hash,
            "model_fingerprint": self.model_fingerprint,
            "validation": self.validation,
            "created_at": self.created_at,
        }

    @classmethod
    def from_meta(cls, meta: dict[str, Any] | None) -> Tuning | None:
        """The tuning stored in an index ``_meta``, or None (none, or made for other vectors)."""
        data = (meta or {}).get(META_KEY)
        if not isinstance(data, dict) or not data.get("params"):
            return None
        model = ((meta or {}).get("model") or {}).get("fingerprint")
        if data.get("model_fingerprint") and model and data["model_fingerprint"] != model:
            return None
        return cls(
            version=int(data.get("version", 1)),
            params=SearchParams.from_dict(data["params"]),
            per_language={k: SearchParams.from_dict(v) for k, v in (data.get("per_language") or {}).items()},
            data=data.get("data", ""),
            data_hash=data.get("data_hash", ""),
            model_fingerprint=data.get("model_fingerprint", ""),
            validation=data.get("validation", {}),
            created_at=data.get("created_at", ""),
        )
