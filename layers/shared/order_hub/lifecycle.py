"""Per-container caches that ``reset()`` finds by itself.

Every factory whose result lives as long as the container (settings, clients, sessions, adapters,
services) is decorated with ``@per_container`` instead of ``functools.cache``; ``reset()`` clears all
of them (tests, or after the environment changed), so no hand-kept list can miss one.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import _lru_cache_wrapper, cache
from typing import Protocol, TypeVar


class _Cached(Protocol):
    def cache_clear(self) -> None: ...


_REGISTRY: list[_Cached] = []
T = TypeVar("T")


def per_container(factory: Callable[..., T]) -> _lru_cache_wrapper[T]:
    """``functools.cache`` plus registration for ``reset()``."""
    cached = cache(factory)
    _REGISTRY.append(cached)
    return cached


def reset() -> None:
    """Forget every per-container value created so far."""
    for cached in _REGISTRY:
        cached.cache_clear()


def registered() -> list[_Cached]:
    return list(_REGISTRY)
