"""The event log over HTTP (`/_wabalink/events`), for operators, the CLI and tests:

  GET  /_wabalink/events?accountId=&wabaId=&messageId=&status=&after=&limit=
       {"events": [...], "after": <sequence of the last event>}; `after` pages and follows (tail)
  GET  /_wabalink/events/{eventId}
  POST /_wabalink/events/{eventId}/replay         back to pending: delivered again

Who may use it: as the simulator's sandbox (meta/sandbox_api.py): anyone in `--auth permissive`
without a sandbox token; otherwise `Authorization: Bearer <sandbox token>` (401), and with
`--auth strict` and no sandbox token configured, nobody (403).
"""

from __future__ import annotations

from urllib.parse import parse_qs

from wabalink.config import Settings
from wabalink.secret_compare import same_secret
from wabalink.server.http import HttpRequest, HttpResponse, json_response
from wabalink.service import events as service_events
from wabalink.store import events as event_store
from wabalink.store.db import Store

EVENTS_PREFIX = "/_wabalink/events"
MAX_LIMIT = 1000
MAX_SEQUENCE = 2**63 - 1  # the store's BIGINT: beyond it no event can exist
MAX_ID_CHARS = 200  # ids and filters: no stored value is longer


def _usable_text(value: str) -> bool:
    """No store keeps NUL in text (PostgreSQL refuses it) and no id is longer than MAX_ID_CHARS."""
    return len(value) <= MAX_ID_CHARS and "\x00" not in value


def handle_events(store: Store, settings: Settings, request: HttpRequest) -> HttpResponse:
    refusal = _operator_refusal(settings, request)
    if refusal is not None:
        return refusal
    segments = [s for s in request.path[len(EVENTS_PREFIX):].split("/") if s]
    method = request.method.upper()
    if method == "GET" and not segments:
        return _list(store, request)
    if segments and not _usable_text(segments[0]):
        return _not_found(segments[0].replace("\x00", ""))
    if method == "GET" and len(segments) == 1:
        with store.reader() as conn:
            row = event_store.get_event(conn, segments[0])
        return json_response(200, service_events.rendered_event(row)) if row else _not_found(segments[0])
    if method == "POST" and len(segments) == 2 and segments[1] == "replay":
        with store.writer() as conn:
            event = service_events.replay_event(conn, segments[0])
        if event is None:
            return _not_found(segments[0])
        service_events.notify_new_events()
        return json_response(200, event)
    return json_response(404, {"error": {"message": f"no events route {method} {request.path}"}})


def _list(store: Store, request: HttpRequest) -> HttpResponse:
    query = {key: values[0] for key, values in parse_qs(request.query_string.decode("latin-1")).items()}
    status = query.get("status")
    if status is not None and status not in event_store.STATES:
        return _bad(f"status must be one of {', '.join(event_store.STATES)}")
    try:
        after = int(query.get("after", "0"))
        limit = int(query.get("limit", "100"))
    except ValueError:
        return _bad("after and limit must be integers")
    if not 1 <= limit <= MAX_LIMIT or not 0 <= after <= MAX_SEQUENCE:
        return _bad(f"limit must be 1..{MAX_LIMIT} and after 0..{MAX_SEQUENCE}")
    for name in ("accountId", "wabaId", "messageId"):
        if name in query and not _usable_text(query[name]):
            return _bad(f"{name} must be at most {MAX_ID_CHARS} characters, without NUL")
    with store.reader() as conn:
        found = service_events.list_events(
            conn, account_id=query.get("accountId"), waba_id=query.get("wabaId"),
            message_id=query.get("messageId"), status=status, after=after, limit=limit)
    return json_response(200, {"events": found, "after": found[-1]["sequence"] if found else after})


def _operator_refusal(settings: Settings, request: HttpRequest) -> HttpResponse | None:
    expected = settings.sandbox_token
    if expected is None:
        if settings.auth_mode == "strict":
            return json_response(403, {"error": {"message": "the event log needs the operator token with --auth "
                                                 "strict: start the server with --sandbox-token"}})
        return None
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not same_secret(presented.strip().encode(), expected.encode()):
        return json_response(401, {"error": {"message": "the event log needs the operator token: send "
                                             "Authorization: Bearer <sandbox token>"}},
                             [(b"www-authenticate", b'Bearer realm="wabalink sandbox"')])
    return None


def _bad(message: str) -> HttpResponse:
    return json_response(400, {"error": {"message": message}})


def _not_found(event_id: str) -> HttpResponse:
    return json_response(404, {"error": {"message": f"event {event_id[:100]} was not found"}})
