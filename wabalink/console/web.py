"""The console's request handling: routes under `/console`, the session and CSRF checks every page
goes through, and the server-sent events stream. Pages are synchronous handlers `(Page) ->
HttpResponse` run in the service's worker threads, because their actions call operations that may
call Meta over HTTP on this very server."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote

from wabalink.aws.auth import service_regions
from wabalink.console import live
from wabalink.console.actions import ActionError, OperationCaller
from wabalink.console.render import html_response, redirect, render, static_response, text_response
from wabalink.console.session import CSRF_FIELD, CrossSiteRequest, Session, Sessions
from wabalink.meta.routing import Route, RouteTable
from wabalink.meta.sandbox_api import handle_sandbox
from wabalink.server.http import HttpRequest, HttpResponse
from wabalink.service.operations import RequestContext
from wabalink.store.secrets import get_or_create_secret

if TYPE_CHECKING:
    from wabalink.server.app import WabalinkApp

log = logging.getLogger("wabalink.console")

PREFIX = "/console"
MAX_FORM_BYTES = 256 * 1024
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class Page:
    """One console request as a page handler sees it."""
    console: Console
    request: HttpRequest
    session: Session
    args: dict[str, str]
    query: dict[str, str]
    form: dict[str, str] = field(default_factory=dict)
    set_session: Session | None = None  # a changed session to send back as the cookie

    @property
    def ctx(self) -> RequestContext:
        return RequestContext(self.session.account_id, self.session.region)

    @property
    def caller(self) -> OperationCaller:
        return self.console.caller

    def call(self, name: str, params: dict[str, Any], known_fields: set[str] | None = None) -> dict[str, Any]:
        return self.console.caller.call(self.ctx, name, params, known_fields)

    def render(self, template: str, status: int = 200, **context: Any) -> HttpResponse:
        session = self.set_session or self.session
        body = render(template, session=session, csrf_field=CSRF_FIELD,
                      csrf_token=self.console.sessions.csrf_token(session), strict=self.console.sessions.strict,
                      signed_in=self.console.sessions.is_signed_in(session), regions=self.console.regions,
                      path=self.request.path, available=self.console.caller.available, **context)
        return html_response(body, status)


PageHandler = Callable[[Page], HttpResponse]


class Console:
    def __init__(self, app: WabalinkApp) -> None:
        from wabalink.console import pages  # the page modules import this one's Page

        self.app = app
        self.settings = app.settings
        self.simulator = app.simulator
        self.store = app.store
        self.caller = OperationCaller(app.protocol, app.operations)
        self.sessions = Sessions(get_or_create_secret(app.store, "console-session"),
                                 strict=app.settings.auth_mode == "strict",
                                 credentials=app.authenticator.credentials)
        self.regions = sorted(service_regions())
        self.workers: Executor = app.service_workers
        self.table: RouteTable[PageHandler] = RouteTable(pages.ROUTES)
        self.streams = live.StreamLimiter(live.stream_cap(app.settings.max_connections))

    def may_sign_up(self, request: HttpRequest) -> bool:
        """Meta's embedded sign-up: anyone in permissive mode, a signed-in user in strict mode."""
        return not self.sessions.strict or self.sessions.is_signed_in(self.sessions.read(request))

    def owns(self, path: str) -> bool:
        return path == "/" or path == PREFIX or path.startswith(PREFIX + "/")

    async def handle(self, request: HttpRequest, receive: Receive, send: Send) -> None:
        path = request.path
        if path in ("/", PREFIX):
            await _send(send, redirect(PREFIX + "/"))
            return
        if path.startswith(PREFIX + "/static/") and request.method in ("GET", "HEAD"):
            found = static_response(path[len(PREFIX + "/static/"):])
            await _send(send, found or text_response(404, "not found"))
            return
        response = await self._page(request, receive, send)
        if response is not None:
            await _send(send, response)

    async def _page(self, request: HttpRequest, receive: Receive, send: Send) -> HttpResponse | None:
        method = "GET" if request.method == "HEAD" else request.method.upper()
        segments = [s for s in request.path[len(PREFIX):].split("/") if s]
        match = self.table.match(method, segments)
        if match is None:
            return text_response(405 if self.table.match("GET", segments) else 404, "no such console page")
        session = self.sessions.read(request)
        fresh = session is None
        if session is None:
            session = self.sessions.new()
        form: dict[str, str] = {}
        if method == "POST":
            try:
                form = _form(request)
                self.sessions.check_post(request, None if fresh else session, form)
            except CrossSiteRequest as refused:
                return html_response(render("refused.html", message=str(refused)), 403)
        public = getattr(match.handler, "public", False)
        if not public and not self.sessions.is_signed_in(session):
            if method == "GET":
                return redirect(f"{PREFIX}/login?next={quote(request.path)}", [self.sessions.cookie_header(session)])
            return html_response(render("refused.html", message="sign in first"), 403)
        page = Page(self, request, session, match.args, dict(parse_qsl(request.query_string.decode("latin-1"))), form)
        if getattr(match.handler, "stream", False):
            await live.stream(page, match.handler, receive, send)  # type: ignore[arg-type]
            return None
        try:
            response = await asyncio.get_running_loop().run_in_executor(self.workers, match.handler, page)
        except Exception:
            log.exception("console page failed", extra={"path": request.path})
            response = html_response(render("refused.html", message="The page failed; see the server log."), 500)
        changed = page.set_session or (session if fresh else None)
        if changed is not None:
            response.headers.append(self.sessions.cookie_header(changed))
        return response

    # --- the simulator's sandbox, in process (the same routes `wabalink meta` uses over HTTP) ---

    def sandbox(self, method: str, path: str, payload: dict[str, Any] | None = None) -> tuple[int, Any]:
        headers = {"content-type": "application/json"}
        if self.settings.sandbox_token:
            headers["authorization"] = f"Bearer {self.settings.sandbox_token}"
        body = json.dumps(payload).encode() if payload is not None else b""
        request = HttpRequest(method, "/meta/sandbox" + path, b"", headers, body, ("/meta/sandbox" + path).encode())
        response = handle_sandbox(self.simulator, request, path)
        try:
            return response.status, json.loads(response.body or b"{}")
        except ValueError:
            return response.status, {"error": {"message": response.body.decode("utf-8", "replace")[:200]}}


def page(*, public: bool = False, stream: bool = False) -> Callable[[Any], Any]:
    """Marks a handler: `public` pages need no sign-in (login); `stream` ones are async SSE handlers."""
    def mark(handler: Any) -> Any:
        handler.public, handler.stream = public, stream
        return handler
    return mark


def _form(request: HttpRequest) -> dict[str, str]:
    if len(request.body) > MAX_FORM_BYTES:
        raise CrossSiteRequest("the form is too large")
    content_type = request.headers.get("content-type", "")
    if request.body and not content_type.startswith("application/x-www-form-urlencoded"):
        raise CrossSiteRequest("console forms are application/x-www-form-urlencoded")
    return dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))


async def _send(send: Send, response: HttpResponse) -> None:
    await send({"type": "http.response.start", "status": response.status, "headers": response.headers})
    await send({"type": "http.response.body", "body": response.body})


__all__ = ["Console", "Page", "Route", "page", "ActionError", "PREFIX"]
