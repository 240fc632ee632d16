"""The simulator's Graph API over HTTP (mounted at `/meta/graph`): versioned paths `/v{N}.0/...`,
parameters from the query string or a JSON / form body, the access token from
`Authorization: Bearer|OAuth ...` or the `access_token` parameter, and Meta's error answers
`{"error": {"message", "type", "code", "error_subcode"?, "fbtrace_id"}}`.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from wabalink.meta.simulator import GraphError, MetaSimulator, invalid_parameter_error
from wabalink.server.http import HttpRequest, HttpResponse, json_response

VERSIONED_PATH = re.compile(r"^/v[0-9]+\.[0-9]+(/.*)?$")
NUMERIC_ID = re.compile(r"^[0-9]{1,32}$")
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100


def handle_graph(simulator: MetaSimulator, request: HttpRequest, path_after_prefix: str) -> HttpResponse:
    try:
        simulator.apply_faults(path_after_prefix)
        params = _request_params(request)
        token = _access_token(request, params)
        method = request.method.upper()
        # Graph lets a POST carry `method=get|delete` (long URLs, form posts).
        override = params.pop("method", "").upper()
        if method == "POST" and override in ("GET", "DELETE"):
            method = override
        segments = _route_segments(path_after_prefix)
        return _dispatch(simulator, method, segments, params, token)
    except GraphError as error:
        return _error_response(error)


def _dispatch(simulator: MetaSimulator, method: str, segments: list[str], params: dict[str, str],
              token: str | None) -> HttpResponse:
    if segments == ["debug_token"] and method == "GET":
        return json_response(200, {"data": simulator.debug_token(params.get("input_token"), token)})
    if len(segments) == 1 and NUMERIC_ID.match(segments[0]) and method == "GET":
        fields, expansions = _parse_fields(params.get("fields", ""))
        node = simulator.graph_get_object(segments[0], token, fields or None)
        if "phone_numbers" in expansions:
            # Field expansion (`phone_numbers{id,...}`): the edge's first page inside the node.
            node["phone_numbers"] = _phone_numbers_body(simulator, segments[0], {}, token)
        return json_response(200, node)
    if len(segments) == 2 and NUMERIC_ID.match(segments[0]):
        object_id, edge = segments
        if edge == "phone_numbers" and method == "GET":
            return _phone_numbers_page(simulator, object_id, params, token)
        if edge == "register" and method == "POST":
            simulator.graph_register(object_id, token, messaging_product=params.get("messaging_product"),
                                     pin=params.get("pin"),
                                     data_localization_region=params.get("data_localization_region") or None)
            return json_response(200, {"success": True})
        if edge == "deregister" and method == "POST":
            simulator.graph_deregister(object_id, token)
            return json_response(200, {"success": True})
        if edge == "subscribed_apps":
            if method == "POST":
                simulator.graph_subscribe(object_id, token)
                return json_response(200, {"success": True})
            if method == "DELETE":
                simulator.graph_unsubscribe(object_id, token)
                return json_response(200, {"success": True})
            if method == "GET":
                return json_response(200, {"data": simulator.graph_subscribed_apps(object_id, token)})
    return _error_response(GraphError(
        400, f"Unknown path components: /{'/'.join(segments)}", "OAuthException", 2500))


def _parse_fields(text: str) -> tuple[list[str], dict[str, str]]:
    """`id,name,phone_numbers{id,quality_rating}` -> (["id", "name"], {"phone_numbers": "id,quality_rating"})."""
    fields: list[str] = []
    expansions: dict[str, str] = {}
    depth, start = 0, 0
    for index, char in enumerate(text + ","):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == "," and depth == 0:
            item = text[start:index].strip()
            start = index + 1
            if "{" in item:
                name, _, inner = item.partition("{")
                expansions[name.strip()] = inner.rstrip("}")
            elif item:
                fields.append(item)
    return fields, expansions


def _phone_numbers_page(simulator: MetaSimulator, waba_id: str, params: dict[str, str],
                        token: str | None) -> HttpResponse:
    return json_response(200, _phone_numbers_body(simulator, waba_id, params, token))


def _phone_numbers_body(simulator: MetaSimulator, waba_id: str, params: dict[str, str],
                        token: str | None) -> dict[str, Any]:
    try:
        limit = int(params.get("limit", DEFAULT_PAGE_SIZE))
    except ValueError:
        raise invalid_parameter_error("Param limit must be an integer") from None
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    after = params.get("after") or None
    rows, next_cursor = simulator.graph_list_phone_numbers(waba_id, token, limit=limit, after=after)
    paging: dict[str, Any] = {}
    if rows:
        paging["cursors"] = {"before": rows[0]["id"], "after": rows[-1]["id"]}
    if next_cursor is not None:
        # Meta's `next` carries the access token; ours does not, so following it leaks nothing.
        paging["next"] = f"{waba_id}/phone_numbers?limit={limit}&after={next_cursor}"
    return {"data": rows, "paging": paging}


def _route_segments(path: str) -> list[str]:
    match = VERSIONED_PATH.match(path)
    rest = (match.group(1) or "") if match else path  # unversioned paths: the app's default version
    return [s for s in rest.split("/") if s]


def _request_params(request: HttpRequest) -> dict[str, str]:
    params = request.query()
    if request.body.strip():
        params.update(_body_params(request))
    return params


def _body_params(request: HttpRequest) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json" or request.body.lstrip().startswith(b"{"):
        try:
            body = json.loads(request.body)
        except ValueError:
            raise invalid_parameter_error("The request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise invalid_parameter_error("The request body must be a JSON object")
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items() if v is not None}
    return dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))


def _access_token(request: HttpRequest, params: dict[str, str]) -> str | None:
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() in ("bearer", "oauth") and credentials.strip():
        params.pop("access_token", None)
        return credentials.strip()
    return params.pop("access_token", None) or None


def _error_response(error: GraphError) -> HttpResponse:
    extra: list[tuple[bytes, bytes]] = [(b"x-fb-trace-id", error.fbtrace_id.encode())]
    if error.code == 190:
        extra.append((b"www-authenticate", b'OAuth "Facebook Platform" "invalid_token" "Invalid OAuth access token"'))
    return json_response(error.status, error.body(), extra)


__all__ = ["handle_graph"]
