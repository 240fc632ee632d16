"""Connection guards for the HTTP server: what uvicorn does not bound by itself.

uvicorn arms its keep-alive timer only after a response, never while a request head arrives, and
it counts connections only once a request's headers are complete. So a connection that sends
nothing, or sends its headers a byte a second, stays open forever, and enough of them exhaust the
process's file descriptors. `guarded_protocol` returns uvicorn's httptools protocol with:

* a head deadline: from the connection's start (or the end of the previous response) to the end
  of the request's headers, at most `head_timeout` seconds, else 408 and close (slowloris);
* a body deadline: a request's body must arrive within `body_timeout` seconds of its headers;
* size limits: a URL beyond 64 KiB answers 414, a request line and headers beyond
  `max_head_bytes` answer 431, and the connection is closed;
* a connection cap: beyond `max_connections` open connections, a new one is answered 503 and
  closed at once, so descriptors stay bounded whatever clients do (the process's descriptor limit
  is raised to its hard limit, and the cap kept RESERVED_DESCRIPTORS below it).

Idle keep-alive connections are closed by uvicorn's own `timeout_keep_alive`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
from asyncio import TimerHandle
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("wabalink.server")

# Descriptors kept for everything but client connections: database files and connections, worker
# threads' SQLite handles (a WAL database holds three each), log files, the listening socket.
RESERVED_DESCRIPTORS = 512
# httptools' URL parser keeps offsets in 16 bits: longer URLs would fail as a bare plain-text 400.
MAX_URL_BYTES = 65_535


def raise_descriptor_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard one (the most this process may open); returns the
    resulting soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):  # not allowed here: keep the current limit
            pass
    return soft


def connection_cap(requested: int, descriptor_limit: int) -> int:
    """`requested`, lowered if needed so that connections never take the reserved descriptors."""
    return max(1, min(requested, descriptor_limit - RESERVED_DESCRIPTORS))


def _plain_response(status: int, reason: str, message: str, extra: bytes = b"") -> bytes:
    body = json.dumps({"message": message}).encode()
    return (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n").encode() + extra + b"\r\n" + body


class _HeadTooLarge(Exception):
    """Raised from a parser callback: the request head is over its size limit."""


def guarded_protocol(*, head_timeout: float, body_timeout: float, max_head_bytes: int,
                     max_connections: int) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with the guards of the module docstring."""

    class GuardedHttpToolsProtocol(HttpToolsProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._deadline: TimerHandle | None = None
            self._head_bytes = self._url_bytes = 0
            self._refusal: bytes | None = None  # the answer when a parser callback refuses the request

        # -- connection cap -----------------------------------------------------------------

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > max_connections:
                # Answered and closed at once: its descriptor must not wait for a request. A client
                # whose request was already on its way may see a reset instead; either way it retries.
                log.warning("connection refused: too many open connections", extra={"limit": max_connections})
                self._close_with(_plain_response(
                    503, "Service Unavailable", "The server has too many open connections; retry later.",
                    b"x-amzn-errortype: ServiceUnavailableException\r\nretry-after: 1\r\n"))
                return
            self._arm(head_timeout, self._head_timed_out)

        # -- head and body deadlines ------------------------------------------------------------

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._head_bytes = self._url_bytes = 0
            if self._deadline is None:  # a pipelined request: the head deadline starts now
                self._arm(head_timeout, self._head_timed_out)

        def on_url(self, url: bytes) -> None:
            self._url_bytes += len(url)
            if self._url_bytes > MAX_URL_BYTES:
                self._refuse(_plain_response(414, "URI Too Long", f"The request URL is longer than {MAX_URL_BYTES} bytes."))
            self._count_head(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count_head(len(name) + len(value))
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._arm(body_timeout, self._body_timed_out)
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._disarm()
            super().on_message_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self.timeout_keep_alive_task is not None:  # idle now: the next head has a deadline
                self._arm(head_timeout, self._head_timed_out)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _count_head(self, size: int) -> None:
            self._head_bytes += size
            if self._head_bytes > max_head_bytes:
                self._refuse(_plain_response(
                    431, "Request Header Fields Too Large",
                    f"The request line and headers are larger than {max_head_bytes} bytes."))

        def _refuse(self, response: bytes) -> None:
            self._refusal = response
            raise _HeadTooLarge  # stops the parser; uvicorn then calls send_400_response

        def send_400_response(self, msg: str) -> None:
            if self._refusal is not None:
                self._close_with(self._refusal)
                return
            super().send_400_response(msg)

        def _head_timed_out(self) -> None:
            self._deadline = None
            self._close_with(_plain_response(
                408, "Request Timeout", f"The request headers did not arrive within {head_timeout:g} seconds."))

        def _body_timed_out(self) -> None:
            self._deadline = None
            if not self.transport.is_closing():  # the app sees a disconnect and stops waiting
                self.transport.close()

        def _close_with(self, response: bytes) -> None:
            self._disarm()
            if self.transport.is_closing():
                return
            if self.cycle is None or self.cycle.response_complete:  # no answer under way
                self.transport.write(response)
            self.transport.close()

        def _arm(self, seconds: float, callback: Any) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(seconds, callback)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

    return GuardedHttpToolsProtocol
