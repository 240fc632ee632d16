"""Live pages by server-sent events: `GET /console/stream/...` answers `text/event-stream` and sends
`event: changed` whenever the watched page's fingerprint (a cheap digest of what it shows) changes;
the page's script then fetches itself and swaps its live region, so forms being typed into are
kept. Streams are bounded: a heartbeat comment every HEARTBEAT_SECONDS (proxies and the server's
idle timeouts see traffic), at most MAX_LIFETIME_SECONDS each (the browser reconnects by itself
after `retry`), and at most `stream_cap` at once, a share of the server's connection cap, so
open console tabs can never take every connection (beyond it: 503 with Retry-After)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wabalink.console.web import Page

log = logging.getLogger("wabalink.console")

POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 15.0
MAX_LIFETIME_SECONDS = 300.0
RECONNECT_MILLISECONDS = 2000
MAX_STREAMS = 100

Fingerprint = Callable[[], str]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def stream_cap(max_connections: int) -> int:
    return max(1, min(MAX_STREAMS, max_connections // 4))


class StreamLimiter:
    """Counts open streams; used on the event loop only, so no lock."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.open = 0

    def acquire(self) -> bool:
        if self.open >= self.cap:
            return False
        self.open += 1
        return True

    def release(self) -> None:
        self.open -= 1


async def stream(page: Page, handler: Callable[[Page], Fingerprint | None], receive: Receive, send: Send) -> None:
    limiter = page.console.streams
    loop = asyncio.get_running_loop()
    workers = page.console.workers
    if not limiter.acquire():
        await _plain(send, 503, b"too many live pages open; this page falls back to reloading",
                     [(b"retry-after", b"30")])
        return
    try:
        fingerprint = await loop.run_in_executor(workers, handler, page)
        if fingerprint is None:
            await _plain(send, 404, b"nothing to watch here")
            return
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-store"),
            (b"x-accel-buffering", b"no")]})
        await _event(send, f"retry: {RECONNECT_MILLISECONDS}\n\n")
        await _watch(fingerprint, loop, workers, receive, send)
    except Exception:
        log.exception("console stream failed", extra={"path": page.request.path})
    finally:
        limiter.release()


async def _watch(fingerprint: Fingerprint, loop: asyncio.AbstractEventLoop, workers: Any, receive: Receive,
                 send: Send) -> None:
    gone = asyncio.ensure_future(receive())  # the next message after the body is the disconnect
    started = last_sent = time.monotonic()
    last = await loop.run_in_executor(workers, fingerprint)
    try:
        while time.monotonic() - started < MAX_LIFETIME_SECONDS:
            done, _ = await asyncio.wait({gone}, timeout=POLL_SECONDS)
            if done:
                return
            current = await loop.run_in_executor(workers, fingerprint)
            now = time.monotonic()
            if current != last:
                last, last_sent = current, now
                await _event(send, "event: changed\ndata: {}\n\n")
            elif now - last_sent >= HEARTBEAT_SECONDS:
                last_sent = now
                await _event(send, ": heartbeat\n\n")
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        gone.cancel()


async def _event(send: Send, text: str) -> None:
    await send({"type": "http.response.body", "body": text.encode(), "more_body": True})


async def _plain(send: Send, status: int, message: bytes, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(message)).encode()),
        *(extra or [])]})
    await send({"type": "http.response.body", "body": message})


__all__ = ["stream", "stream_cap", "StreamLimiter", "Fingerprint"]
