"""GraphClient: the only way the service talks to Meta — HTTP, Graph API shapes.

It points at the built-in simulator by default (`Settings.graph_base_url()`), or at any Graph
endpoint. Each worker thread keeps its own keep-alive connection (`http11.py`: a pool library's
layers, or http.client's header parsing, cost more than the simulator's answer).

Secrets stay out of URLs, exception messages and log lines: tokens travel in the `Authorization`
header, and debug_token's `input_token` in a form body.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from wabalink.meta.http11 import ConnectionDropped, Http11Connection

DEFAULT_GRAPH_VERSION = "v21.0"
SCOPE_MANAGEMENT = "whatsapp_business_management"
PHONE_NUMBER_FIELDS = ("id", "display_phone_number", "verified_name", "quality_rating",
                       "code_verification_status", "platform_type", "status")
WABA_FIELDS = ("id", "name", "currency", "timezone_id")
PAGE_LIMIT = 100
MAX_PAGES = 100  # a paging loop that never ends is a broken endpoint, not a big WABA
_VERSION_SUFFIX = re.compile(r"/v[0-9]+\.[0-9]+$")


class GraphApiError(Exception):
    """Meta answered with an error object."""

    def __init__(self, status: int, message: str, type: str, code: int, fbtrace_id: str | None = None,
                 error_subcode: int | None = None) -> None:
        super().__init__(f"Graph API error {code} ({type}, HTTP {status}): {message}")
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.error_subcode = error_subcode
        self.fbtrace_id = fbtrace_id

    @property
    def is_token_error(self) -> bool:
        """The token is unknown, expired or revoked (OAuthException 190, or 102 session errors)."""
        return self.code in (190, 102)

    @property
    def is_permission_error(self) -> bool:
        return self.code in (10, 200) or 200 <= self.code <= 299

    @property
    def is_server_error(self) -> bool:
        return self.status >= 500


class GraphUnavailableError(Exception):
    """Meta could not be reached, timed out, or answered something that is not Graph JSON."""


@dataclass(frozen=True)
class TokenInfo:
    is_valid: bool
    app_id: str | None
    user_id: str | None
    type: str | None
    scopes: list[str]
    granted_waba_ids: list[str]  # target ids of whatsapp_business_management
    expires_at: int | None  # epoch seconds; None or 0: never
    error_message: str | None = None
    error_code: int | None = None
    error_subcode: int | None = None
    granular_scopes: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class MetaWaba:
    id: str
    name: str
    currency: str | None
    timezone_id: str | None


@dataclass(frozen=True)
class MetaPhoneNumber:
    id: str
    display_phone_number: str
    verified_name: str
    quality_rating: str
    code_verification_status: str | None = None
    platform_type: str | None = None
    status: str | None = None

    @property
    def phone_number(self) -> str:
        """E.164 form of the display number: "+1 555-010-1234" -> "+15550101234"."""
        return "+" + "".join(ch for ch in self.display_phone_number if ch.isdigit())

    @property
    def is_registered(self) -> bool:
        return self.platform_type == "CLOUD_API"


class GraphClient:
    def __init__(self, base_url: str, app_token: str, timeout: float, *,
                 version: str = DEFAULT_GRAPH_VERSION) -> None:
        base = base_url.rstrip("/")
        # A base URL that already names a version keeps it.
        root = base if _VERSION_SUFFIX.search(base) else f"{base}/{version}"
        self._transport = _KeepAliveTransport(root, timeout)
        self._app_token = app_token

    def close(self) -> None:
        self._transport.close()

    # --- token introspection ----------------------------------------------------------------

    def debug_token(self, user_token: str) -> TokenInfo:
        """GET /debug_token, sent as a POST with a form body so no URL carries the input token."""
        body = urlencode({"input_token": user_token, "method": "get"})
        answer = self._call("POST", "/debug_token", token=self._app_token, form_body=body)
        data = answer.get("data")
        if not isinstance(data, dict):
            raise GraphUnavailableError("Graph debug_token answer has no data object")
        return _token_info(data)

    # --- WABAs and phone numbers ------------------------------------------------------------

    def get_waba(self, waba_id: str, token: str | None = None) -> MetaWaba:
        answer = self._call("GET", f"/{_segment(waba_id)}", token=token or self._app_token,
                            query={"fields": ",".join(WABA_FIELDS)})
        return _waba(answer, waba_id)

    def get_waba_with_phone_numbers(self, waba_id: str, token: str | None = None
                                    ) -> tuple[MetaWaba, list[MetaPhoneNumber]]:
        """The WABA and all its numbers, the first page in the same call (field expansion)."""
        fields = ",".join(WABA_FIELDS) + ",phone_numbers{" + ",".join(PHONE_NUMBER_FIELDS) + "}"
        answer = self._call("GET", f"/{_segment(waba_id)}", token=token or self._app_token, query={"fields": fields})
        first_page = answer.get("phone_numbers") if isinstance(answer.get("phone_numbers"), dict) else {}
        numbers = [_phone_number(item) for item in first_page.get("data") or []]
        after = _next_cursor(first_page)
        if after is not None:
            numbers += self.list_phone_numbers(waba_id, token, after=after)
        return _waba(answer, waba_id), numbers

    def list_phone_numbers(self, waba_id: str, token: str | None = None, *, after: str | None = None
                           ) -> list[MetaPhoneNumber]:
        """Every number of the WABA (from the `after` cursor on), following the paging cursors."""
        numbers: list[MetaPhoneNumber] = []
        query = {"fields": ",".join(PHONE_NUMBER_FIELDS), "limit": str(PAGE_LIMIT)}
        for _ in range(MAX_PAGES):
            if after is not None:
                query["after"] = after
            answer = self._call("GET", f"/{_segment(waba_id)}/phone_numbers", token=token or self._app_token,
                                query=query)
            numbers.extend(_phone_number(item) for item in answer.get("data") or [])
            after = _next_cursor(answer)
            if after is None:
                return numbers
        raise GraphUnavailableError("Graph phone_numbers paging did not end")

    def get_phone_number(self, phone_id: str, token: str | None = None) -> MetaPhoneNumber:
        """One number as Meta sees it now (quality rating, verified name)."""
        answer = self._call("GET", f"/{_segment(phone_id)}", token=token or self._app_token,
                            query={"fields": ",".join(PHONE_NUMBER_FIELDS)})
        return _phone_number(answer)

    def register_phone_number(self, phone_id: str, pin: str, data_localization_region: str | None = None) -> None:
        body: dict[str, Any] = {"messaging_product": "whatsapp", "pin": pin}
        if data_localization_region:
            body["data_localization_region"] = data_localization_region
        self._expect_success(self._call("POST", f"/{_segment(phone_id)}/register", token=self._app_token,
                                        json_body=body))

    def deregister_phone_number(self, phone_id: str) -> None:
        self._expect_success(self._call("POST", f"/{_segment(phone_id)}/deregister", token=self._app_token,
                                        json_body={}))

    def subscribe_app(self, waba_id: str) -> None:
        self._expect_success(self._call("POST", f"/{_segment(waba_id)}/subscribed_apps", token=self._app_token,
                                        json_body={}))

    def unsubscribe_app(self, waba_id: str) -> None:
        self._expect_success(self._call("DELETE", f"/{_segment(waba_id)}/subscribed_apps", token=self._app_token))

    # --- transport --------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, token: str, query: dict[str, str] | None = None,
              json_body: dict[str, Any] | None = None, form_body: str | None = None) -> dict[str, Any]:
        target = path + (("?" + urlencode(query)) if query else "")
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        body: bytes | None = None
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        elif form_body is not None:
            body = form_body.encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        status, data = self._transport.request(method, target, body, headers)
        return _parse_answer(status, data, method, path)

    @staticmethod
    def _expect_success(answer: dict[str, Any]) -> None:
        if answer.get("success") is not True:
            raise GraphUnavailableError("Graph API answer did not report success")


class _KeepAliveTransport:
    """HTTP/1.1 keep-alive connections to one Graph endpoint, one per thread (a connection is not
    thread-safe). A request that fails because the server had closed an idle connection is sent
    once more on a fresh one: every Graph call made here is idempotent at Meta. Timeouts and
    answers (5xx included) are not retried."""

    def __init__(self, root_url: str, timeout: float) -> None:
        parts = urlsplit(root_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the Graph API base URL must be an http:// or https:// URL")
        self._tls = parts.scheme == "https"
        self._host, self._port = parts.hostname, parts.port
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout
        self._local = threading.local()
        self._all: list[Http11Connection] = []
        self._all_lock = threading.Lock()

    def request(self, method: str, target: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
        for attempt in (1, 2):
            connection, reused = self._connection()
            try:
                status, data, _ = connection.request(method, self._prefix + target, headers, body)
                return status, data
            except ConnectionDropped as error:  # no byte of an answer: a kept connection the server had closed
                if reused and attempt == 1:
                    continue  # the idle connection had been closed by the server
                raise GraphUnavailableError(f"Graph API unreachable ({method}): {type(error).__name__}") from None
            except (OSError, ValueError) as error:
                # The text names only the kind of failure, never headers or bodies.
                raise GraphUnavailableError(f"Graph API unreachable ({method}): {type(error).__name__}") from None
        raise AssertionError("unreachable")

    def _connection(self) -> tuple[Http11Connection, bool]:
        """This thread's connection, and whether it was open already (so may have gone stale)."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = Http11Connection(self._host, self._port, tls=self._tls, timeout=self._timeout)
            self._local.connection = connection
            with self._all_lock:
                self._all.append(connection)
        return connection, connection.is_open

    def close(self) -> None:
        with self._all_lock:
            for connection in self._all:
                connection.close()


def _parse_answer(status: int, data: bytes, method: str, path: str) -> dict[str, Any]:
    try:
        answer = json.loads(data)
    except ValueError:
        raise GraphUnavailableError(f"Graph API answered HTTP {status} without JSON ({method} {path})") from None
    if not isinstance(answer, dict):
        raise GraphUnavailableError(f"Graph API answered HTTP {status} with a non-object ({method} {path})")
    error = answer.get("error")
    if isinstance(error, dict):
        raise GraphApiError(
            status=status, message=str(error.get("message", "")), type=str(error.get("type", "")),
            code=_int_or(error.get("code"), 0), fbtrace_id=error.get("fbtrace_id"),
            error_subcode=_int_or(error.get("error_subcode"), None))
    if status >= 400:
        raise GraphUnavailableError(f"Graph API answered HTTP {status} without an error object ({method} {path})")
    return answer


def _token_info(data: dict[str, Any]) -> TokenInfo:
    granular = {
        str(item.get("scope")): [str(t) for t in item.get("target_ids") or []]
        for item in data.get("granular_scopes") or [] if isinstance(item, dict)
    }
    error = data.get("error") if isinstance(data.get("error"), dict) else {}
    return TokenInfo(
        is_valid=data.get("is_valid") is True,
        app_id=None if data.get("app_id") is None else str(data["app_id"]),
        user_id=None if data.get("user_id") is None else str(data["user_id"]),
        type=data.get("type"),
        scopes=[str(s) for s in data.get("scopes") or []],
        granted_waba_ids=granular.get(SCOPE_MANAGEMENT, []),
        expires_at=_int_or(data.get("expires_at"), None),
        error_message=error.get("message"),
        error_code=_int_or(error.get("code"), None),
        error_subcode=_int_or(error.get("subcode"), None),
        granular_scopes=granular,
    )


def _waba(answer: dict[str, Any], waba_id: str) -> MetaWaba:
    return MetaWaba(id=str(answer.get("id", waba_id)), name=str(answer.get("name", "")),
                    currency=answer.get("currency"),
                    timezone_id=None if answer.get("timezone_id") is None else str(answer["timezone_id"]))


def _next_cursor(page: dict[str, Any]) -> str | None:
    """Only `next` says there is another page; the cursor says where it starts. Meta's `next` URL
    embeds the access token, so it is never requested as is."""
    paging = page.get("paging") or {}
    after = (paging.get("cursors") or {}).get("after")
    return str(after) if paging.get("next") and after else None


def _phone_number(item: dict[str, Any]) -> MetaPhoneNumber:
    return MetaPhoneNumber(
        id=str(item["id"]),
        display_phone_number=str(item.get("display_phone_number", "")),
        verified_name=str(item.get("verified_name", "")),
        quality_rating=str(item.get("quality_rating", "UNKNOWN")),
        code_verification_status=item.get("code_verification_status"),
        platform_type=item.get("platform_type"),
        status=item.get("status"),
    )


def _segment(object_id: str) -> str:
    # Ids come from callers' input: never let one add path segments or a query.
    return quote(str(object_id), safe="")


def _int_or(value: Any, default: int | None) -> Any:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


__all__ = ["GraphClient", "GraphApiError", "GraphUnavailableError", "TokenInfo", "MetaWaba", "MetaPhoneNumber"]
