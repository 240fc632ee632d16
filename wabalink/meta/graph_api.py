"""The simulator's Graph API over HTTP (mounted at `/meta/graph`): versioned paths `/v{N}.0/...`,
parameters from the query string or a JSON / form body, the access token from
`Authorization: Bearer|OAuth ...` or the `access_token` parameter, and Meta's error answers
`{"error": {"message", "type", "code", "error_subcode"?, "fbtrace_id"}}`.

Every route needs a valid access token: the caller is authenticated before routing, then the
injected faults apply, then the route's handler (from the resource modules' route tables) runs.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from wabalink import jsontext
from wabalink.meta import (
    calling,
    datasets,
    flows,
    media,
    messages,
    phone_numbers,
    public_keys,
    templates,
    tokens,
    wabas,
)
from wabalink.meta.calls import GraphCall, GraphHandler
from wabalink.meta.errors import GraphError, invalid_parameter_error, unknown_path_error
from wabalink.meta.form_params import multipart_params
from wabalink.meta.objects import object_routes
from wabalink.meta.routing import Route, RouteTable
from wabalink.meta.simulator import MetaSimulator
from wabalink.server.http import HttpRequest, HttpResponse, json_response

VERSIONED_PATH = re.compile(r"^/v([0-9]+)\.([0-9]+)(/.*)?$")
SERVED_MAJOR_VERSIONS = range(17, 26)  # v17.0 .. v25.0; others answer 2500 (unknown path)
META_ID = r"[0-9]{1,32}|upload:[0-9]{1,32}"  # resumable upload sessions: upload:<id>

# Bare object paths (`/{id}`): each kind of object answers its own ids (meta/objects.py); the hot
# reads (WABAs and numbers) first.
OBJECT_HANDLERS = {
    "GET": [wabas.read_object, media.read_object, templates.read_object, flows.read_object],
    "POST": [templates.post_object, flows.post_object],
    "DELETE": [media.delete_object, flows.delete_object],
}
GRAPH_ROUTES: list[Route[GraphHandler]] = [
    *tokens.GRAPH_ROUTES, *templates.GRAPH_ROUTES, *wabas.GRAPH_ROUTES, *phone_numbers.GRAPH_ROUTES,
    *messages.GRAPH_ROUTES, *media.GRAPH_ROUTES, *flows.GRAPH_ROUTES, *datasets.GRAPH_ROUTES,
    *public_keys.GRAPH_ROUTES, *calling.GRAPH_ROUTES, *object_routes(OBJECT_HANDLERS)]
_TABLE = RouteTable(GRAPH_ROUTES, placeholder=META_ID)


def handle_graph(simulator: MetaSimulator, request: HttpRequest, path_after_prefix: str) -> HttpResponse:
    try:
        params = _request_params(request)
        token = _access_token(request, params)
        method = request.method.upper()
        # Graph lets a POST carry `method=get|delete` (long URLs, form posts).
        override = params.pop("method", "").upper()
        if method == "POST" and override in ("GET", "DELETE"):
            method = override
        caller = simulator.authenticate(token)
        simulator.faults.apply(path_after_prefix)
        segments = _route_segments(path_after_prefix)
        match = _TABLE.match(method, segments)
        if match is None:
            raise unknown_path_error("/" + "/".join(segments))
        return json_response(200, match.handler(simulator, GraphCall(method, match.args, params, caller, request)))
    except GraphError as error:
        return _error_response(error)


def _route_segments(path: str) -> list[str]:
    match = VERSIONED_PATH.match(path)
    if match and (int(match.group(1)) not in SERVED_MAJOR_VERSIONS or match.group(2) != "0"):
        raise unknown_path_error(path)
    rest = (match.group(3) or "") if match else path  # unversioned paths: the app's default version
    return [s for s in rest.split("/") if s]


def _request_params(request: HttpRequest) -> dict[str, str]:
    params = request.query()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.body.strip() and content_type != "application/octet-stream":  # uploads: raw bytes
        params.update(_body_params(request))
    return params


def _body_params(request: HttpRequest) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":  # file uploads (a Flow's flow.json)
        return multipart_params(request)
    if content_type == "application/json" or request.body.lstrip().startswith(b"{"):
        try:
            body = jsontext.loads(request.body)
            if not isinstance(body, dict):
                raise invalid_parameter_error("The request body must be a JSON object")
            return {k: v if isinstance(v, str) else jsontext.compact(v) for k, v in body.items() if v is not None}
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
            raise invalid_parameter_error("The request body is not valid JSON") from None
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


__all__ = ["handle_graph", "GRAPH_ROUTES"]
