"""The ASGI application: the AWS API, the Meta simulator's Graph API and its sandbox on one port.

Handlers are synchronous. Reads of the store run on the event loop (they are short and this keeps
the hot GET path free of thread hand-offs); every other AWS operation runs in a worker thread,
because it may call Meta over HTTP and Meta may be this very process. The simulator has its own
workers, so service calls waiting on Meta can never starve the simulator that answers them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

from wabalink.aws.auth import Authenticator, load_credentials_file
from wabalink.aws.errors import AwsError, NotImplementedException
from wabalink.aws.exceptions import InternalServiceException, ValidationException
from wabalink.aws.model import load_service_model
from wabalink.aws.protocol import RestJsonProtocol
from wabalink.config import Settings
from wabalink.console.web import Console
from wabalink.meta import media_http
from wabalink.meta.client import GraphClient
from wabalink.meta.flow_pages import PAGES_PREFIX as FLOW_PAGES_PREFIX
from wabalink.meta.flow_pages import handle_flow_page
from wabalink.meta.graph_api import handle_graph
from wabalink.meta.sandbox_api import handle_sandbox
from wabalink.meta.signup import EmbeddedSignup
from wabalink.meta.simulator import MetaSimulator, simulator_app_credentials
from wabalink.server.events_api import EVENTS_PREFIX, handle_events
from wabalink.server.http import HttpRequest, HttpResponse, json_response
from wabalink.service.event_delivery import DeliverySettings, EventDelivery
from wabalink.service.handover import HandoverWorker
from wabalink.service.ids import new_uuid
from wabalink.service.messaging import SIMULATOR_VERSIONS
from wabalink.service.operations import (
    BoundOperation,
    Dependencies,
    RequestContext,
    ServiceSettings,
    build_dispatch_table,
)
from wabalink.service.pagination import PageTokens
from wabalink.service.throttle import RequestThrottle
from wabalink.service.webhooks import WebhookReceiver
from wabalink.store.db import Store, default_database_url
from wabalink.store.secrets import get_or_create_secret

log = logging.getLogger("wabalink.server")

GRAPH_PREFIX = "/meta/graph"
SANDBOX_PREFIX = "/meta/sandbox"
SIGNUP_PREFIX = "/meta/signup"
HEALTH_PATH = "/_wabalink/health"
WEBHOOK_PATH = "/_wabalink/webhooks/meta"
# No operation takes more (AWS's own API front doors stop at 10 MB too).
MAX_REQUEST_BODY_BYTES = 10 * 1024 * 1024
# Tests set it: a modeled error an operation does not declare becomes a 500, so the test fails.
CHECK_DECLARED_ERRORS_ENV = "WABALINK_CHECK_DECLARED_ERRORS"

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class WabalinkApp:
    def __init__(self, settings: Settings, store: Store | None = None, *, publish_in_child: bool = False) -> None:
        """`publish_in_child`: SNS PublishBatch from a child process (`wabalink serve`); in-process
        otherwise (the testing kit, whose users may mock SNS in their own process)."""
        self.settings = settings
        self.store = store or Store(settings.database_url or default_database_url())
        self.store.migrate()
        self.protocol = RestJsonProtocol(load_service_model())
        credentials = load_credentials_file(settings.credentials_file) if settings.credentials_file else None
        self.authenticator = Authenticator(settings.auth_mode, credentials)  # type: ignore[arg-type]
        self.simulator = MetaSimulator(self.store, settings)
        # The built-in simulator's app token is generated per database; an external Graph API's is configured.
        app_token = (simulator_app_credentials(self.store)[1] if settings.meta_graph_url is None
                     else settings.meta_app_token)
        self.graph = GraphClient(settings.graph_base_url(), app_token, settings.meta_timeout_seconds,
                                 version=settings.meta_graph_version)
        deps = Dependencies(
            self.store, self.graph, PageTokens(get_or_create_secret(self.store, "page-tokens")),
            ServiceSettings(associate_token_lifetime_seconds=settings.associate_token_lifetime_seconds,
                            waba_quota_per_region=settings.waba_quota_per_region,
                            s3_endpoint_url=settings.s3_endpoint_url))
        # Messages and events: the hand-over to Meta, the webhook receiver, delivery to SNS, quotas.
        self.handover = HandoverWorker(self.store, self.graph, meta_timeout_seconds=settings.meta_timeout_seconds)
        deps.extensions.update(handover=self.handover,
                               graph_versions=SIMULATOR_VERSIONS if settings.meta_graph_url is None else None)
        self.webhooks = WebhookReceiver(self.store, simulator_app_credentials(self.store)[2]
                                        if settings.meta_graph_url is None else settings.meta_app_secret,
                                        settings.webhook_verify_token)
        self.delivery = EventDelivery(self.store, DeliverySettings(
            sns_endpoint_url=settings.sns_endpoint_url, max_attempts=settings.event_max_attempts,
            max_age_seconds=settings.event_max_age_seconds,
            retry_max_delay_seconds=settings.event_retry_max_delay_seconds, publish_in_child=publish_in_child))
        self.throttle = RequestThrottle() if settings.throttle == "aws" else None
        # The built operations; the model's others answer NotImplementedException.
        self.operations: dict[str, BoundOperation] = build_dispatch_table(
            deps, list(self.protocol.service_model.operation_names))
        # Store-only reads run on the event loop on SQLite, where they take microseconds; on
        # PostgreSQL every statement is a network round trip, so everything runs in workers.
        self.inline_allowed = self.store.is_sqlite
        self.check_declared_errors = os.environ.get(CHECK_DECLARED_ERRORS_ENV) == "1"
        self.service_workers = ThreadPoolExecutor(32, thread_name_prefix="wabalink-service")
        self.meta_workers = ThreadPoolExecutor(16, thread_name_prefix="wabalink-meta")
        # The web console at `/` and Meta's embedded sign-up it opens (the simulator's side).
        self.console = Console(self) if settings.console_enabled else None
        self.signup = EmbeddedSignup(self.simulator, self.console.may_sign_up) if self.console else None

    # ------------------------------------------------------------------ ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if media_http.is_streamed(scope):  # media files: streamed, not read whole
            await media_http.serve(self.simulator, self.meta_workers, scope, receive, send)
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
        if self.signup is not None and (path == SIGNUP_PREFIX or path.startswith(SIGNUP_PREFIX + "/")):
            response = await self._in_thread(self.meta_workers, self.signup.handle, request,
                                             path[len(SIGNUP_PREFIX):])
        elif path.startswith(GRAPH_PREFIX + "/"):
            response = await self._in_thread(self.meta_workers, handle_graph, self.simulator, request,
                                             path[len(GRAPH_PREFIX):])
        elif path.startswith(SANDBOX_PREFIX + "/") or path == SANDBOX_PREFIX:
            response = await self._in_thread(self.meta_workers, handle_sandbox, self.simulator, request,
                                             path[len(SANDBOX_PREFIX):])
        elif path == WEBHOOK_PATH:
            response = await self._in_thread(self.service_workers, self.webhooks.handle, request)
        elif path == EVENTS_PREFIX or path.startswith(EVENTS_PREFIX + "/"):
            response = await self._in_thread(self.service_workers, handle_events, self.store, self.settings, request)
        elif path.startswith(FLOW_PAGES_PREFIX + "/"):  # Flow previews and assets: the URL is the key
            response = await self._in_thread(self.meta_workers, handle_flow_page, self.simulator, request,
                                             path[len(FLOW_PAGES_PREFIX):])
        elif path == HEALTH_PATH:
            response = json_response(200, {"status": "ok"})
        elif self.console is not None and self.console.owns(path):
            await self.console.handle(request, receive, send)
            return
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
        status, headers, body = self.protocol.serialize_error(ValidationException(message),
                                                              new_uuid())
        return HttpResponse(status, headers, body)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.handover.start()
                self.delivery.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def close(self) -> None:
        self.delivery.stop()
        self.handover.stop()
        self.service_workers.shutdown(wait=False, cancel_futures=True)
        self.meta_workers.shutdown(wait=False, cancel_futures=True)
        self.simulator.close()
        self.store.dispose()

    @staticmethod
    async def _in_thread(pool: ThreadPoolExecutor, fn: Callable[..., HttpResponse], *args: Any) -> HttpResponse:
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    # ------------------------------------------------------------------ the AWS API

    async def _aws(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request_id = new_uuid()
        operation_name = "-"
        operation = None
        principal = None
        try:
            principal = self.authenticator.authenticate(request.method, request.raw_path.decode("latin-1"),
                                                        request.query_string, request.headers, request.body)
            raw_path = request.raw_path.decode("latin-1")
            operation, uri_params = self.protocol.route(request.method, raw_path, request.query_string)
            operation_name = operation.name
            if self.throttle is not None:
                self.throttle.check(principal.account_id, principal.region, operation_name)
            # big bodies are parsed off the event loop: validating them must not block other requests
            params = await self.protocol.parse_async(operation, uri_params, request.query_string, request.headers,
                                                     request.body)
            if log.isEnabledFor(logging.DEBUG):  # member names only: values may be secrets
                log.debug("parsed", extra={"request_id": request_id, "operation": operation_name,
                                           "members": sorted(params)})
            bound = self.operations.get(operation_name)
            if bound is None:
                raise NotImplementedException(operation_name)
            ctx = RequestContext(principal.account_id, principal.region)
            if bound.inline and self.inline_allowed:
                output = bound.call(ctx, params)
            else:
                output = await asyncio.get_running_loop().run_in_executor(self.service_workers, bound.call, ctx, params)
            status, headers, body = self.protocol.serialize(operation, output, request_id)
        except AwsError as error:
            if self.check_declared_errors and not error.protocol_level and operation is not None \
                    and error.code not in self.protocol.declared_errors(operation):
                log.error("undeclared error", extra={"request_id": request_id, "operation": operation_name,
                                                     "code": error.code})
                error = InternalServiceException(f"{operation_name} raised {error.code}, which it does not declare.")
            status, headers, body = self.protocol.serialize_error(error, request_id)
        except Exception:  # a bug, not the caller's mistake: log it, answer a modeled 500
            log.exception("unhandled error", extra={"request_id": request_id, "operation": operation_name})
            status, headers, body = self.protocol.serialize_error(
                InternalServiceException("An internal error occurred; see the server log."), request_id)
        if log.isEnabledFor(logging.INFO):
            log.info("request", extra={
                "request_id": request_id, "operation": operation_name, "status": status,
                "account": principal.account_id if principal else None,
                "region": principal.region if principal else None,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2)})
        return HttpResponse(status, headers, body)


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
