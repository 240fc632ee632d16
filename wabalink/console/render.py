"""HTML rendering: the Jinja2 templates of `console/templates` (autoescaped), response helpers and
the static files (CSS and a small script; no build step)."""

from __future__ import annotations

import json
import mimetypes
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from wabalink.server.http import HttpResponse

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    # Scripts and styles only from this server; the sign-up window talks to its opener by postMessage.
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; "
     b"form-action 'self'; base-uri 'none'"),
]


def _when(value: Any) -> str:
    """Epoch seconds or a datetime, as UTC text."""
    if value is None or value == "":
        return ""
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return str(value)


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


_environment = Environment(loader=PackageLoader("wabalink.console", "templates"),
                           autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
_environment.filters["when"] = _when
_environment.filters["pretty"] = _pretty


def render(template: str, **context: Any) -> str:
    return _environment.get_template(template).render(**context)


def html_response(body: str, status: int = 200, extra_headers: list[tuple[bytes, bytes]] | None = None) -> HttpResponse:
    data = body.encode()
    headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(data)).encode()),
               (b"cache-control", b"no-store"), *SECURITY_HEADERS, *(extra_headers or [])]
    return HttpResponse(status, headers, data)


def redirect(location: str, extra_headers: list[tuple[bytes, bytes]] | None = None) -> HttpResponse:
    """303 See Other: after a form post, the browser GETs the result page."""
    return HttpResponse(303, [(b"location", location.encode()), (b"content-length", b"0"),
                              (b"cache-control", b"no-store"), *(extra_headers or [])], b"")


def text_response(status: int, message: str) -> HttpResponse:
    data = message.encode()
    return HttpResponse(status, [(b"content-type", b"text/plain; charset=utf-8"),
                                 (b"content-length", str(len(data)).encode())], data)


_STATIC_NAMES = frozenset({"console.css", "console.js", "signup.js", "callback.js"})


def static_response(name: str) -> HttpResponse | None:
    if name not in _STATIC_NAMES:
        return None
    data = _static_bytes(name)
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if content_type.startswith("text/") or content_type.endswith("javascript"):
        content_type += "; charset=utf-8"
    return HttpResponse(200, [(b"content-type", content_type.encode()), (b"content-length", str(len(data)).encode()),
                              (b"cache-control", b"public, max-age=300"), (b"x-content-type-options", b"nosniff")],
                        data)


@lru_cache(maxsize=len(_STATIC_NAMES))
def _static_bytes(name: str) -> bytes:
    return resources.files("wabalink.console").joinpath("static", name).read_bytes()


__all__ = ["render", "html_response", "redirect", "text_response", "static_response"]
