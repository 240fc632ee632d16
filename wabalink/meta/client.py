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
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from wabalink.meta import media_client, template_answers
from wabalink.meta.client_flows import FlowsGraphCalls
from wabalink.meta.graph_answers import (
    GraphApiError,
    GraphProtocolError,
    GraphUnavailableError,
    MetaPhoneNumber,
    MetaWaba,
    TokenInfo,
    expect_success,
    parse_answer,
    phone_number,
    phone_number_page,
    token_info,
    waba,
)
from wabalink.meta.http11 import ConnectionDropped, Http11Connection
from wabalink.meta.media_client import Download, MediaInfo
from wabalink.meta.template_answers import CreatedTemplate, TemplateSummary
from wabalink.store.blobs import Readable

DEFAULT_GRAPH_VERSION = "v21.0"
PHONE_NUMBER_FIELDS = ("id", "display_phone_number", "verified_name", "quality_rating",
                       "code_verification_status", "platform_type", "status")
WABA_FIELDS = ("id", "name", "currency", "timezone_id")
PAGE_LIMIT = 100
MAX_PAGES = 100  # a paging loop that never ends is a broken endpoint, not a big WABA
_VERSION_SUFFIX = re.compile(r"/v[0-9]+\.[0-9]+$")
_VERSION = re.compile(r"v[0-9]{1,3}\.[0-9]{1,3}")
_WAMID_MAX_LENGTH = 200


class GraphClient(FlowsGraphCalls):  # Flows, datasets, public keys and calling: client_flows.py
    def __init__(self, base_url: str, app_token: str, timeout: float, *,
                 version: str = DEFAULT_GRAPH_VERSION) -> None:
        base = base_url.rstrip("/")
        # A base URL that already names a version keeps it.
        root = base if _VERSION_SUFFIX.search(base) else f"{base}/{version}"
        self._transport = _KeepAliveTransport(root, timeout)
        # Messages name their own Graph version (SendWhatsAppMessage's metaApiVersion).
        self._unversioned = _KeepAliveTransport(_VERSION_SUFFIX.sub("", base), timeout)
        self._app_token = app_token
        self._root, self._timeout = root, timeout

    def close(self) -> None:
        self._transport.close()
        self._unversioned.close()

    # --- token introspection ----------------------------------------------------------------

    def debug_token(self, user_token: str) -> TokenInfo:
        """GET /debug_token, sent as a POST with a form body so no URL carries the input token."""
        body = urlencode({"input_token": user_token, "method": "get"})
        return token_info(self._call("POST", "/debug_token", token=self._app_token, form_body=body))

    # --- WABAs and phone numbers ------------------------------------------------------------

    def get_waba(self, waba_id: str, token: str | None = None) -> MetaWaba:
        answer = self._call("GET", f"/{_segment(waba_id)}", token=token or self._app_token,
                            query={"fields": ",".join(WABA_FIELDS)})
        return waba(answer, waba_id)

    def get_waba_with_phone_numbers(self, waba_id: str, token: str | None = None
                                    ) -> tuple[MetaWaba, list[MetaPhoneNumber]]:
        """The WABA and all its numbers, the first page in the same call (field expansion)."""
        fields = ",".join(WABA_FIELDS) + ",phone_numbers{" + ",".join(PHONE_NUMBER_FIELDS) + "}"
        answer = self._call("GET", f"/{_segment(waba_id)}", token=token or self._app_token, query={"fields": fields})
        meta_waba = waba(answer, waba_id)
        if answer.get("phone_numbers") is None:
            return meta_waba, []  # Meta leaves an empty edge out of the node
        numbers, after = phone_number_page(answer["phone_numbers"], "phone_numbers expansion")
        if after is not None:
            numbers += self.list_phone_numbers(waba_id, token, after=after)
        return meta_waba, numbers

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
            page, after = phone_number_page(answer, "phone_numbers page")
            numbers.extend(page)
            if after is None:
                return numbers
        raise GraphUnavailableError("Graph phone_numbers paging did not end")

    def get_phone_number(self, phone_id: str, token: str | None = None) -> MetaPhoneNumber:
        """One number as Meta sees it now (quality rating, verified name)."""
        answer = self._call("GET", f"/{_segment(phone_id)}", token=token or self._app_token,
                            query={"fields": ",".join(PHONE_NUMBER_FIELDS)})
        return phone_number(answer)

    def register_phone_number(self, phone_id: str, pin: str, data_localization_region: str | None = None) -> None:
        body: dict[str, Any] = {"messaging_product": "whatsapp", "pin": pin}
        if data_localization_region:
            body["data_localization_region"] = data_localization_region
        expect_success(self._call("POST", f"/{_segment(phone_id)}/register", token=self._app_token,
                                        json_body=body))

    def deregister_phone_number(self, phone_id: str) -> None:
        expect_success(self._call("POST", f"/{_segment(phone_id)}/deregister", token=self._app_token,
                                        json_body={}))

    def subscribe_app(self, waba_id: str, *, override_callback_uri: str | None = None,
                      verify_token: str | None = None) -> None:
        """Subscribes the app to the WABA's webhooks; with `override_callback_uri` (and the
        `verify_token` Meta requires with it) that WABA's webhooks also go to that URL."""
        body: dict[str, Any] = {}
        if override_callback_uri is not None:
            body = {"override_callback_uri": override_callback_uri, "verify_token": verify_token or ""}
        expect_success(self._call("POST", f"/{_segment(waba_id)}/subscribed_apps", token=self._app_token,
                                        json_body=body))

    def unsubscribe_app(self, waba_id: str) -> None:
        expect_success(self._call("DELETE", f"/{_segment(waba_id)}/subscribed_apps", token=self._app_token))

    # --- messages ----------------------------------------------------------------------------

    def send_message(self, phone_number_id: str, version: str, body: bytes | dict[str, Any]) -> str:
        """POST /{version}/{phone-number-id}/messages; Meta's wamid of the accepted message.
        GraphApiError for Meta's error answers (code 2500 for a version it does not serve)."""
        if not _VERSION.fullmatch(version):
            raise ValueError("a Graph API version is v{major}.{minor}")
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {self._app_token}", "Accept": "application/json",
                   "Content-Type": "application/json"}
        path = f"/{version}/{_segment(phone_number_id)}/messages"
        status, answer_bytes = self._unversioned.request("POST", path, data, headers)
        return message_wamid(parse_answer(status, answer_bytes, "POST", "/messages"))

    # --- media -------------------------------------------------------------------------------

    def upload_media(self, phone_id: str, stream: Readable, mime_type: str, filename: str,
                     size: int | None = None) -> str:
        """POST /{phone-number-id}/media, the file streamed from `stream`; Meta's media id."""
        answer = media_client.upload(f"{self._root}/{_segment(phone_id)}/media", self._app_token, self._timeout,
                                     {"messaging_product": "whatsapp", "type": mime_type}, stream, size,
                                     filename, mime_type)
        return media_client.media_id_of(answer)

    def get_media(self, media_id: str, phone_id: str) -> MediaInfo:
        """GET /{media-id}?phone_number_id=: Meta answers only for the number that owns it."""
        answer = self._call("GET", f"/{_segment(media_id)}", token=self._app_token,
                            query={"phone_number_id": phone_id})
        return media_client.media_info(answer, media_id)

    def download_media(self, url: str) -> Download:
        """The bytes behind a media URL `get_media` answered, streamed (close it when done)."""
        return media_client.download(url, self._app_token, self._timeout)

    def delete_media(self, media_id: str, phone_id: str) -> None:
        expect_success(self._call("DELETE", f"/{_segment(media_id)}", token=self._app_token,
                                  query={"phone_number_id": phone_id}))

    # --- message templates (content lives at Meta) -------------------------------------------

    def create_template(self, waba_id: str, definition: dict[str, Any]) -> CreatedTemplate:
        answer = self._call("POST", f"/{_segment(waba_id)}/message_templates", token=self._app_token,
                            json_body=definition)
        return template_answers.created_template(answer)

    def list_templates(self, waba_id: str, *, limit: int, after: str | None = None,
                       filters: dict[str, str] | None = None) -> tuple[list[TemplateSummary], str | None]:
        query = {**(filters or {}), "limit": str(limit)}
        if after is not None:
            query["after"] = after
        answer = self._call("GET", f"/{_segment(waba_id)}/message_templates", token=self._app_token, query=query)
        items, next_after = template_answers.page(answer, "message_templates page")
        return [template_answers.template(item) for item in items], next_after

    def get_template(self, template_id: str) -> TemplateSummary:
        return template_answers.template(self._call("GET", f"/{_segment(template_id)}", token=self._app_token))

    def update_template(self, template_id: str, changes: dict[str, Any]) -> None:
        expect_success(self._call("POST", f"/{_segment(template_id)}", token=self._app_token, json_body=changes))

    def delete_template(self, waba_id: str, name: str, template_id: str | None = None) -> None:
        query = {"name": name} if template_id is None else {"name": name, "hsm_id": template_id}
        expect_success(self._call("DELETE", f"/{_segment(waba_id)}/message_templates", token=self._app_token,
                                  query=query))

    def list_template_library(self, filters: dict[str, str], *, limit: int, after: str | None = None
                              ) -> tuple[list[dict[str, Any]], str | None]:
        query = {**filters, "limit": str(limit)}
        if after is not None:
            query["after"] = after
        answer = self._call("GET", "/message_template_library", token=self._app_token, query=query)
        items, next_after = template_answers.page(answer, "message_template_library page")
        return [template_answers.library_template(item) for item in items], next_after

    def upload_template_media(self, file_name: str, file_type: str, content: bytes) -> str:
        """The resumable upload API in one piece: a session, then the bytes; Meta's header handle."""
        app_id = self._app_token.split("|", 1)[0]
        session = template_answers.upload_session(self._call(
            "POST", f"/{_segment(app_id)}/uploads", token=self._app_token,
            query={"file_name": file_name, "file_length": str(len(content)), "file_type": file_type}))
        answer = self._call("POST", f"/{_segment(session)}", token=self._app_token, raw_body=content,
                            extra_headers={"file_offset": "0"})
        return template_answers.upload_handle(answer)

    # --- transport --------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, token: str, query: dict[str, str] | None = None,
              json_body: dict[str, Any] | None = None, form_body: str | None = None,
              raw_body: bytes | None = None, extra_headers: dict[str, str] | None = None) -> dict[str, Any]:
        target = path + (("?" + urlencode(query)) if query else "")
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        body: bytes | None = None
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        elif form_body is not None:
            body = form_body.encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif raw_body is not None:
            body = raw_body
            headers["Content-Type"] = "application/octet-stream"
        headers.update(extra_headers or {})
        status, data = self._transport.request(method, target, body, headers)
        return parse_answer(status, data, method, path)


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


def message_wamid(answer: dict[str, Any]) -> str:
    """The wamid of a messages answer: `{"messaging_product", "contacts", "messages": [{"id"}]}`.
    A mark-as-read answers `{"success": true}`: it has no wamid, so the empty string."""
    if answer.get("success") is True and "messages" not in answer:
        return ""
    messages = answer.get("messages")
    if not isinstance(messages, list) or not messages or not isinstance(messages[0], dict):
        raise GraphProtocolError("Graph messages answer has no messages[0]")
    wamid = messages[0].get("id")
    if not isinstance(wamid, str) or not wamid or len(wamid) > _WAMID_MAX_LENGTH:
        raise GraphProtocolError("Graph messages answer has no usable messages[0].id")
    return wamid


def _segment(object_id: str) -> str:
    # Ids come from callers' input: never let one add path segments or a query.
    return quote(str(object_id), safe="")


__all__ = ["GraphClient", "MediaInfo", "Download", "GraphApiError", "GraphUnavailableError", "GraphProtocolError", "TokenInfo", "MetaWaba",
           "MetaPhoneNumber"]
