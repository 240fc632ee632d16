"""The ASGI application: the AWS API, the Meta simulator's Graph API and its sandbox on one port.

Handlers are synchronous. Reads of the store run on the event loop (they are short and this keeps
the hot GET path free of thread hand-offs); every other AWS operation runs in a worker thread,
because it may call Meta over HTTP and Meta may be this very process. The simulator has its own
workers, so service calls waiting on Meta can never starve the simulator that answers them.
"""

from __future__ import annotations

import asyncio
import logging
import time
import os
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

from botocore import xform_name

from wabalink.aws.auth import Authenticator, load_credentials_file
from wabalink.aws.errors import AwsError, not_implemented
from wabalink.aws.model import load_service_model
from wabalink.aws.protocol import RestJsonProtocol
from wabalink.config import Settings
from wabalink.meta.client import GraphClient
from wabalink.meta.graph_api import handle_graph
from wabalink.meta.sandbox_api import handle_sandbox
from wabalink.meta.simulator import MetaSimulator
from wabalink.server.http import HttpRequest, HttpResponse, json_response
from wabalink.service.provider import RequestContext, SocialMessagingProvider
from wabalink.store.db import Store, default_database_url

log = logging.getLogger("wabalink.server")

GRAPH_PREFIX = "/meta/graph"
SANDBOX_PREFIX = "/meta/sandbox"
HEALTH_PATH = "/_wabalink/health"
# No operation takes more (AWS's own API front doors stop at 10 MB too).
MAX_REQUEST_BODY_BYTES = 10 * 1024 * 1024
# Store-only reads of an SQLite file: answered on the event loop, where they take microseconds.
# (On PostgreSQL every statement is a network round trip: those run in workers like the rest.
# GetLinkedWhatsAppBusinessAccountPhoneNumber asks Meta, possibly this process: never inline.)
INLINE_OPERATIONS = frozenset({
    "GetLinkedWhatsAppBusinessAccount",
    "ListLinkedWhatsAppBusinessAccounts",
    "ListTagsForResource",
})

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def snake_case(operation_name: str) -> str:
    """`AssociateWhatsAppBusinessAccount` -> `associate_whatsapp_business_account`."""
    return xform_name(operation_name).replace("whats_app", "whatsapp")


class WabalinkApp:
    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self.store = store or Store(settings.database_url or default_database_url())
        self.store.migrate()
        self.protocol = RestJsonProtocol(load_service_model())
        credentials = load_credentials_file(settings.credentials_file) if settings.credentials_file else None
        self.authenticator = Authenticator(settings.auth_mode, credentials)  # type: ignore[arg-type]
        self.simulator = MetaSimulator(self.store, settings)
        self.graph = GraphClient(settings.graph_base_url(), settings.meta_app_token, settings.meta_timeout_seconds,
                                 version=settings.meta_graph_version)
        self.provider = SocialMessagingProvider(
            self.store, self.graph,
            associate_token_lifetime_seconds=settings.associate_token_lifetime_seconds,
            waba_quota_per_region=settings.waba_quota_per_region)
        # Each operation's provider method, resolved once; None: not built yet.
        self.handlers: dict[str, Callable[[RequestContext, dict[str, Any]], dict[str, Any]] | None] = {
            name: getattr(self.provider, snake_case(name), None)
            for name in self.protocol.service_model.operation_names}
        self.inline_operations = INLINE_OPERATIONS if self.store.is_sqlite else frozenset()
        self.service_workers = ThreadPoolExecutor(32, thread_name_prefix="wabalink-service")
        self.meta_workers = ThreadPoolExecutor(16, thread_name_prefix="wabalink-meta")

    # ------------------------------------------------------------------ ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        try:
            body = await _read_body(receive)
        except ClientGone:
            return  # nothing to answer, no one to answer to
        if body is None:
            await self._send(send, self._too_large(scope["path"]))
            return
        request = HttpRequest(scope["method"], scope["path"], scope.get("query_string", b""),
                              _header_dict(scope["headers"]), body, scope.get("raw_path") or _encoded_path(scope["path"]))
        path = request.path
        if path.startswith(GRAPH_PREFIX + "/"):
            response = await self._in_thread(self.meta_workers, handle_graph, self.simulator, request,
                                             path[len(GRAPH_PREFIX):])
        elif path.startswith(SANDBOX_PREFIX + "/") or path == SANDBOX_PREFIX:
            response = await self._in_thread(self.meta_workers, handle_sandbox, self.simulator, request,
                                             path[len(SANDBOX_PREFIX):])
        elif path == HEALTH_PATH:
            response = json_response(200, {"status": "ok"})
        else:
            response = await self._aws(request)
        await self._send(send, response)

    @staticmethod
    async def _send(send: Send, response: HttpResponse) -> None:
        await send({"type": "http.response.start", "status": response.status, "headers": response.headers})
        await send({"type": "http.response.body", "body": response.body})

    def _too_large(self, path: str) -> HttpResponse:
        message = f"The request body is larger than {MAX_REQUEST_BODY_BYTES} bytes."
        if path.startswith("/meta/"):
            return json_response(413, {"error": {"message": message}})
        status, headers, body = self.protocol.serialize_error(AwsError("ValidationException", message),
                                                              new_request_id())
        return HttpResponse(status, headers, body)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def close(self) -> None:
        self.service_workers.shutdown(wait=False, cancel_futures=True)
        self.meta_workers.shutdown(wait=False, cancel_futures=True)
        self.store.dispose()

    @staticmethod
    async def _in_thread(pool: ThreadPoolExecutor, fn: Callable[..., HttpResponse], *args: Any) -> HttpResponse:
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    # ------------------------------------------------------------------ the AWS API

    async def _aws(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request_id = new_request_id()
        operation_name = "-"
        principal = None
        try:
            principal = self.authenticator.authenticate(request.method, request.raw_path.decode("latin-1"),
                                                        request.query_string, request.headers, request.body)
            raw_path = request.raw_path.decode("latin-1")
            operation, uri_params = self.protocol.route(request.method, raw_path, request.query_string)
            operation_name = operation.name
            # big bodies are parsed off the event loop: validating them must not block other requests
            params = await self.protocol.parse_async(operation, uri_params, request.query_string, request.headers,
                                                     request.body)
            if log.isEnabledFor(logging.DEBUG):  # member names only: values may be secrets
                log.debug("parsed", extra={"request_id": request_id, "operation": operation_name,
                                           "members": sorted(params)})
            handler = self.handlers[operation_name]
            if handler is None:
                raise not_implemented(operation_name)
            ctx = RequestContext(principal.account_id, principal.region)
            if operation_name in self.inline_operations:
                output = handler(ctx, params)
            else:
                output = await asyncio.get_running_loop().run_in_executor(self.service_workers, handler, ctx, params)
            status, headers, body = self.protocol.serialize(operation, output, request_id)
        except AwsError as error:
            status, headers, body = self.protocol.serialize_error(error, request_id)
        except Exception:  # a bug, not the caller's mistake: log it, answer a modeled 500
            log.exception("unhandled error", extra={"request_id": request_id, "operation": operation_name})
            status, headers, body = self.protocol.serialize_error(
                AwsError("InternalServiceException", "An internal error occurred; see the server log."), request_id)
        if log.isEnabledFor(logging.INFO):
            log.info("request", extra={
                "request_id": request_id, "operation": operation_name, "status": status,
                "account": principal.account_id if principal else None,
                "region": principal.region if principal else None,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2)})
        return HttpResponse(status, headers, body)


def new_request_id() -> str:
    """A random (version 4) UUID string, as AWS request ids are; cheaper than uuid.uuid4()."""
    digits = os.urandom(16).hex()
    variant = "89ab"[int(digits[16], 16) & 3]
    return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{variant}{digits[17:20]}-{digits[20:]}"


def _header_dict(raw_headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Lowercase names; a header sent several times is joined with commas, as SigV4 canonicalizes it."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in raw_headers:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return headers


def _encoded_path(path: str) -> bytes:
    # Servers that do not give ASGI's optional raw_path: re-encode what they decoded.
    return quote(path, safe="/~").encode("latin-1")


class ClientGone(Exception):
    """The client disconnected before its request body was complete."""


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body, or None past MAX_REQUEST_BODY_BYTES (the rest is not read)."""
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_REQUEST_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)
