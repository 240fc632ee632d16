"""The plain request/response pair handed between the ASGI app and the handlers it routes to.

The Graph API simulator and the sandbox are synchronous handlers `(simulator, HttpRequest, path) ->
HttpResponse`, run in worker threads (they touch the store, and injected latency sleeps).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson

from wabalink import jsontext


@dataclass
class HttpRequest:
    method: str
    path: str  # percent-decoded path, as ASGI gives it
    query_string: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)  # lowercase names
    body: bytes = b""
    raw_path: bytes = b""  # as sent on the wire (SigV4 signs this form)

    def query(self) -> dict[str, str]:
        return dict(parse_qsl(self.query_string.decode("latin-1"), keep_blank_values=True))

    def json(self) -> Any:
        """The body as JSON ({} when empty). Raises ValueError for anything else, deep nesting
        included (orjson refuses more than 1024 levels, where the stdlib decoder would recurse out)."""
        return orjson.loads(self.body) if self.body.strip() else {}


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


def json_response(status: int, payload: Any, extra_headers: list[tuple[bytes, bytes]] | None = None) -> HttpResponse:
    body = jsontext.compact_utf8(payload)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    return HttpResponse(status, headers + (extra_headers or []), body)
