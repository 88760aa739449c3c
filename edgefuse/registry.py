"""A small typed name -> object registry shared by models, metrics, methods and backends."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from edgefuse.errors import UnknownNameError, did_you_mean

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names (and aliases) to objects; unknown names raise with suggestions.

    Idea from timm's and pyiqa's registries: explicit registration by decorator, lookup by
    name, ``fnmatch`` filtering for listings.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._aliases: dict[str, str] = {}

    def add(self, name: str, obj: T, aliases: tuple[str, ...] = (), override: bool = False) -> T:
        """Register ``obj`` under ``name`` (and ``aliases``)."""
        for key in (name, *aliases):
            if not override and (key in self._items or key in self._aliases):
                raise ValueError(f"{self.kind} {key!r} is already registered")
        self._items[name] = obj
        for alias in aliases:
            self._aliases[alias] = name
        return obj

    def register(
        self, name: str | None = None, aliases: tuple[str, ...] = (), override: bool = False
    ) -> Callable[[T], T]:
        """Decorator form of :meth:`add`; the name defaults to the object's ``__name__``."""

        def deco(obj: T) -> T:
            self.add(name or obj.__name__, obj, aliases, override)  # type: ignore[attr-defined]
            return obj

        return deco

    def canonical(self, name: str) -> str:
        """Resolve an alias to its registered name; raise ``UnknownNameError`` if unknown."""
        if name in self._items:
            return name
        if name in self._aliases:
            return self._aliases[name]
        known = sorted(self._items) + sorted(self._aliases)
        raise UnknownNameError(
            f"unknown {self.kind} {name!r}.{did_you_mean(name, known)}"
            f" Known: {', '.join(sorted(self._items))}."
        )

    def get(self, name: str) -> T:
        """Return the object registered as ``name`` (or an alias of it)."""
        return self._items[self.canonical(name)]

    def names(self, pattern: str = "*") -> list[str]:
        """Registered names matching the shell-style ``pattern``, sorted."""
        return sorted(n for n in self._items if fnmatch.fnmatch(n, pattern))

    def __contains__(self, name: object) -> bool:
        return name in self._items or name in self._aliases

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)
