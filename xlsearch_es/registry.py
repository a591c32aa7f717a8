"""Named strategies (encoders, translators, fusions), each registered once.

A registry maps a name to an object. Built-ins are listed as ``module:attr``
paths and imported on first use, so naming a heavy backend costs nothing until
it is chosen. Everything that offers a choice (CLI options, evaluation
variants, docs) reads the names from here, so a strategy added with
``REGISTRY.register(name, obj)`` is offered everywhere at once.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Generic, TypeVar

from .errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class _Lazy:
    path: str  # "module:attr"


class Registry(Generic[T]):
    def __init__(self, kind: str, builtins: dict[str, str] | None = None):
        self.kind = kind
        self._entries: dict[str, T | _Lazy] = {name: _Lazy(path) for name, path in (builtins or {}).items()}

    def register(self, name: str, item: T, *, replace: bool = False) -> T:
        """Add ``item`` under ``name``; a name is taken once unless ``replace``."""
        if not name or not name.replace("-", "").replace("_", "").isalnum():
            raise ConfigError(f"{self.kind} name {name!r} must be letters, digits, '-' or '_'")
        if name in self._entries and not replace:
            raise ConfigError(f"a {self.kind} named {name!r} is already registered")
        self._entries[name] = item
        return item

    def unregister(self, name: str) -> None:
        self._entries.pop(name, None)

    def get(self, name: str) -> T:
        if name not in self._entries:
            raise ConfigError(f"unknown {self.kind} {name!r}; choose one of {', '.join(self.names())}")
        entry = self._entries[name]
        if isinstance(entry, _Lazy):
            module, _, attr = entry.path.partition(":")
            entry = self._entries[name] = getattr(importlib.import_module(module), attr)
        return entry

    def names(self) -> tuple[str, ...]:
        """In registration order, built-ins first."""
        return tuple(self._entries)

    def items(self) -> list[tuple[str, T]]:
        return [(name, self.get(name)) for name in self._entries]

    def __contains__(self, name: object) -> bool:
        return name in self._entries
