"""Helpers for the simulator's tests: the Graph and sandbox handlers served by uvicorn on a free
port, around a store of either kind."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from tests.support.postgres import drop_postgres_schema, fresh_postgres_url, require_postgres
from wabalink.config import Settings
from wabalink.meta.client import GraphClient
from wabalink.meta.graph_api import handle_graph
from wabalink.meta.sandbox_api import handle_sandbox
from wabalink.meta.simulator import MetaSimulator
from wabalink.server.http import HttpRequest, HttpResponse, json_response
from wabalink.store.db import Store

GRAPH_PREFIX = "/meta/graph"
SANDBOX_PREFIX = "/meta/sandbox"


def make_asgi_app(simulator: MetaSimulator):  # type: ignore[no-untyped-def]
    """A tiny ASGI app around the two handlers (the real app is the server's)."""
    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = HttpRequest(
            method=scope["method"], path=scope["path"], query_string=scope.get("query_string", b""),
            headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]},
            body=body, raw_path=scope.get("raw_path") or b"")
        response = await asyncio.to_thread(route, simulator, request)
        await send({"type": "http.response.start", "status": response.status, "headers": response.headers})
        await send({"type": "http.response.body", "body": response.body})

    return app


def route(simulator: MetaSimulator, request: HttpRequest) -> HttpResponse:
    if request.path.startswith(GRAPH_PREFIX + "/"):
        return handle_graph(simulator, request, request.path[len(GRAPH_PREFIX):])
    if request.path.startswith(SANDBOX_PREFIX + "/"):
        return handle_sandbox(simulator, request, request.path[len(SANDBOX_PREFIX):])
    return json_response(404, {"message": "not found"})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    endpoint: str
    settings: Settings
    simulator: MetaSimulator
    store: Store
    db_path: Path

    @property
    def app_token(self) -> str:
        return self.simulator.app.app_token

    def client(self, timeout: float = 5.0) -> GraphClient:
        return GraphClient(self.settings.graph_base_url(), self.app_token, timeout)

    def sandbox(self, method: str, path: str, body: dict[str, Any] | None = None, *,
                headers: dict[str, str] | None = None, raw: bytes | None = None) -> tuple[int, Any]:
        return self.call(method, SANDBOX_PREFIX + path, body, headers=headers, raw=raw)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None, *,
             headers: dict[str, str] | None = None, raw: bytes | None = None) -> tuple[int, Any]:
        """Any request; the answer's status and JSON (a JSON answer is required, whatever the status)."""
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(self.endpoint + path, data=data, method=method,
                                         headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


@contextmanager
def store_of_kind(kind: str, folder: Path) -> Iterator[tuple[Store, Path]]:
    """A migrated store: an SQLite file in `folder`, or a fresh PostgreSQL schema."""
    db_path = folder / "x.db"
    postgres_url = None
    if kind == "postgresql":
        require_postgres()
        postgres_url = fresh_postgres_url()
    store = Store(postgres_url or f"sqlite:///{db_path}")
    store.migrate()
    try:
        yield store, db_path
    finally:
        store.dispose()
        if postgres_url:
            drop_postgres_schema(postgres_url)


@contextmanager
def running_simulator(store: Store, db_path: Path, **settings: Any) -> Iterator[Server]:
    port = free_port()
    config_settings = Settings(port=port, **settings)
    simulator = MetaSimulator(store, config_settings)
    config = uvicorn.Config(make_asgi_app(simulator), host="127.0.0.1", port=port, log_level="warning",
                            lifespan="on")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.time() + 10
    while not uv.started:
        assert time.time() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield Server(f"http://127.0.0.1:{port}", config_settings, simulator, store, db_path)
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        simulator.close()


def create_waba(server: Server, name: str = "Acme", phone_numbers: int = 2) -> dict[str, Any]:
    status, answer = server.sandbox("POST", "/wabas", {"name": name, "phoneNumbers": phone_numbers})
    assert status == 201, answer
    return answer
