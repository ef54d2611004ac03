"""A small route table for the simulator's two HTTP APIs: (method, path pattern) -> handler.

A pattern is a tuple of path segments; ``"*"`` matches any one segment and is passed to the
handler as a positional argument, in order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

H = TypeVar("H", bound=Callable[..., object])

ANY = "*"


class Routes(Generic[H]):
    def __init__(self, routes: Sequence[tuple[str, tuple[str, ...], H]]) -> None:
        self._routes = list(routes)

    def match(self, method: str, segments: Sequence[str]) -> tuple[H, list[str]] | None:
        """The handler for ``method`` on ``segments`` and the segments its wildcards matched."""
        for route_method, pattern, handler in self._routes:
            if route_method != method or len(pattern) != len(segments):
                continue
            if all(part in (ANY, segment) for part, segment in zip(pattern, segments, strict=True)):
                return handler, [segment for part, segment in zip(pattern, segments, strict=True) if part == ANY]
        return None
