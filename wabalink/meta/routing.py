"""Route tables for the simulator's Graph API and sandbox: each resource module declares its
routes as `Route(method, pattern, handler)`, with patterns like `/{waba_id}/phone_numbers`.
A `{name}` segment matches one path segment that `RouteTable`'s placeholder pattern accepts
(Graph: a numeric Meta id) and reaches the handler as `args[name]`."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

H = TypeVar("H", bound=Callable[..., Any])
# A route is read-only, so a route to a narrower handler (one returning a plain dict) is a route to
# the wider handler type its table holds.
H_co = TypeVar("H_co", bound=Callable[..., Any], covariant=True)
_PLACEHOLDER = re.compile(r"^\{([a-z_]+)\}$")


@dataclass(frozen=True)
class Route(Generic[H_co]):
    method: str
    pattern: str
    handler: H_co

    def segments(self) -> list[str]:
        return [s for s in self.pattern.split("/") if s]


@dataclass(frozen=True)
class Match(Generic[H]):
    handler: H
    args: dict[str, str]


class RouteTable(Generic[H]):
    """Routes grouped by segment count, tried in declaration order (literal segments and
    placeholders alike, so declare `/debug_token` before `/{object_id}`)."""

    def __init__(self, routes: Iterable[Route[H]], *, placeholder: str = r"[^/]+") -> None:
        self._placeholder = re.compile(placeholder)
        self._by_length: dict[int, list[tuple[str, list[tuple[str | None, str]], H]]] = {}
        for route in routes:
            parts: list[tuple[str | None, str]] = []
            for segment in route.segments():
                found = _PLACEHOLDER.match(segment)
                parts.append((found.group(1), "") if found else (None, segment))
            self._by_length.setdefault(len(parts), []).append((route.method.upper(), parts, route.handler))

    def match(self, method: str, segments: list[str]) -> Match[H] | None:
        for route_method, parts, handler in self._by_length.get(len(segments), []):
            if route_method != method:
                continue
            args = self._bind(parts, segments)
            if args is not None:
                return Match(handler, args)
        return None

    def _bind(self, parts: list[tuple[str | None, str]], segments: list[str]) -> dict[str, str] | None:
        args: dict[str, str] = {}
        for (name, literal), segment in zip(parts, segments, strict=True):
            if name is None:
                if segment != literal:
                    return None
            elif self._placeholder.fullmatch(segment):
                args[name] = segment
            else:
                return None
        return args


__all__ = ["Route", "RouteTable", "Match"]
