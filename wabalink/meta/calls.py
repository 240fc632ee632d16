"""What a route handler receives: a Graph call (its authenticated caller, path arguments and
parameters) or a sandbox call (path arguments and the JSON body)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wabalink.meta.access import Caller
from wabalink.meta.errors import SandboxError
from wabalink.server.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from wabalink.meta.simulator import MetaSimulator


@dataclass
class GraphCall:
    method: str
    args: dict[str, str]
    params: dict[str, str]
    caller: Caller
    request: HttpRequest | None = None  # raw bodies (resumable uploads) and headers


@dataclass
class SandboxCall:
    request: HttpRequest
    args: dict[str, str]

    def body(self) -> dict[str, Any]:
        try:
            body = self.request.json()
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
            raise SandboxError(400, "request body must be JSON") from None
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise SandboxError(400, "request body must be a JSON object")
        return body


GraphHandler = Callable[["MetaSimulator", GraphCall], dict[str, Any]]
SandboxHandler = Callable[["MetaSimulator", SandboxCall], HttpResponse]
