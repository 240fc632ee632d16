"""A webhook receiver for tests: a tiny HTTP server that checks `X-Hub-Signature-256` with the app
secret, records every body it accepts, and can be told to fail for a while."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class WebhookReceiver:
    def __init__(self, app_secret: str) -> None:
        self.app_secret = app_secret
        self.bodies: list[dict[str, Any]] = []
        self.bad_signatures = 0
        self.failures_served = 0
        self.fail_status: int | None = None  # answer this instead of 200 while set
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                expected = "sha256=" + hmac.new(receiver.app_secret.encode(), data, hashlib.sha256).hexdigest()
                with receiver._lock:
                    if not hmac.compare_digest(self.headers.get("X-Hub-Signature-256", ""), expected):
                        receiver.bad_signatures += 1
                        status = 403
                    elif receiver.fail_status is not None:
                        receiver.failures_served += 1
                        status = receiver.fail_status
                    else:
                        receiver.bodies.append(json.loads(data))
                        status = 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def changes(self) -> list[dict[str, Any]]:
        """Every change received, in order: {"waba_id", "field", "value"}."""
        with self._lock:
            bodies = list(self.bodies)
        return [{"waba_id": entry["id"], "field": change["field"], "value": change["value"]}
                for body in bodies for entry in body["entry"] for change in entry["changes"]]

    def statuses(self, wamid: str | None = None) -> list[dict[str, Any]]:
        found = [status for change in self.changes() for status in change["value"].get("statuses", [])]
        return [s for s in found if wamid is None or s["id"] == wamid]

    def inbound(self) -> list[dict[str, Any]]:
        return [change["value"] for change in self.changes() if "messages" in change["value"]]

    def wait_for(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"timed out; received {self.changes()}"
            time.sleep(0.02)
