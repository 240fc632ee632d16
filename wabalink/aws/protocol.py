"""Model-driven rest-json: routing, input parsing + validation, output and error serialization.

Over 400 lines because it is the one rest-json protocol, in one module as the design asks: routing, parsing and serialization share the compiled shapes (validation is in validation.py).

Nothing here knows about WhatsApp: every operation is handled from the botocore service model.
At construction the model is compiled once into small `ShapeSpec`/`MemberSpec` objects
(compiled regexes, enum sets, wire-name tables) so the per-request work is plain dict walking.

How the server uses it::

    protocol = RestJsonProtocol(load_service_model())
    operation, labels = protocol.route(method, raw_path, query_string)   # AwsError 404 if none
    params = protocol.parse(operation, labels, query_string, headers, body)  # AwsError 400
    status, headers, body = protocol.serialize(operation, output, request_id=request_id)
    status, headers, body = protocol.serialize_error(error, request_id)

`headers` given to `parse` must have lowercase names. Response headers are lowercase
`(bytes, bytes)` pairs including `content-type`, `content-length` and, when a request id is given,
`x-amzn-requestid`.

Validation (`wabalink.aws.validation`) follows AWS's wording and keeps its answers small; shapes
are compiled by `wabalink.aws.shapes`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

import orjson
from botocore.model import OperationModel, ServiceModel

from wabalink.aws.errors import AwsError, SerializationException, UnknownOperationException
from wabalink.aws.shape_specs import MemberSpec, ShapeCompiler, ShapeSpec
from wabalink.aws.validation import (
    Problems,
    decode_json_header,
    null_error,
    parse_timestamp_text,
    read_value,
    scalar_from_text,
    validation_exception,
)

JSON_CONTENT_TYPE = b"application/json"
BINARY_CONTENT_TYPE = b"application/octet-stream"

# Bodies up to this size are parsed where they arrive (microseconds); bigger ones (up to the 10 MB
# request limit: about a second of parsing) are parsed off the event loop by `parse_async`.
INLINE_PARSE_MAX_BODY_BYTES = 64 * 1024
# Threads parsing big bodies: decoded JSON takes up to ~20 times its size in memory, so how many
# big bodies are decoded at once is bounded per process, whatever the number of clients.
BIG_BODY_PARSERS = 2



def _unserializable(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _json_bytes(value: Any) -> bytes:
    # orjson: several times faster than the stdlib encoder, and responses are on every hot path.
    try:
        return orjson.dumps(value, default=_unserializable)
    except orjson.JSONEncodeError:
        # A string orjson will not encode (a lone surrogate from a query string, say): escape it.
        return json.dumps(value, default=_unserializable, ensure_ascii=True, separators=(",", ":")).encode()


def _json_encode(value: Any) -> str:
    return _json_bytes(value).decode("utf-8")


# --------------------------------------------------------------------------------------------
# Output conversion (Python value in, JSON-ready value out)


def _epoch_seconds(value: Any) -> int | float:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        seconds = value.timestamp()
    elif isinstance(value, str):
        parsed = parse_timestamp_text(value)
        if parsed is None:
            raise ValueError(f"not a timestamp: {value!r}")
        seconds = parsed.timestamp()
    else:
        seconds = float(value)
    return int(seconds) if seconds == math.floor(seconds) else seconds


def _write_value(spec: ShapeSpec, value: Any) -> Any:
    kind = spec.type
    if kind == "structure":
        if spec.is_document or not isinstance(value, Mapping):
            return value
        return _write_structure_body(spec, value)
    if kind == "list":
        item_spec = spec.member
        return [_write_value(item_spec, item) for item in value]  # type: ignore[arg-type]
    if kind == "map":
        value_spec = spec.value
        return {key: _write_value(value_spec, item) for key, item in value.items() if item is not None}  # type: ignore[arg-type]
    if kind == "timestamp":
        return _epoch_seconds(value)
    if kind == "blob":
        raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        return base64.b64encode(raw).decode("ascii")
    return value


def _write_structure_body(spec: ShapeSpec, value: Mapping[str, Any]) -> dict[str, Any]:
    members = spec.body_members_by_name
    result: dict[str, Any] = {}
    for name, item in value.items():
        if item is None:
            continue
        member = members.get(name)
        if member is None:
            continue  # not a body member of the model: never leaks onto the wire
        shape = member.shape
        result[member.wire_name] = item if shape.plain else _write_value(shape, item)
    return result


def _header_text(member: MemberSpec, value: Any) -> str:
    spec = member.shape
    if member.json_value:
        return base64.b64encode(_json_encode(value).encode("utf-8")).decode("ascii")
    if spec.type == "timestamp":
        fmt = member.timestamp_format or spec.timestamp_format or "rfc822"
        if fmt == "unixTimestamp":
            return str(_epoch_seconds(value))
        moment = value if isinstance(value, datetime) else datetime.fromtimestamp(_epoch_seconds(value), tz=UTC)
        if fmt == "iso8601":
            return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return format_datetime(moment.astimezone(UTC), usegmt=True)
    if spec.type == "boolean":
        return "true" if value else "false"
    if spec.type == "blob":
        raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        return base64.b64encode(raw).decode("ascii")
    if spec.type == "list":
        return ",".join(str(item) for item in value)
    return str(value)


# --------------------------------------------------------------------------------------------
# Routing


class _Route:
    """One operation's HTTP binding, precompiled from `http.method` + `http.requestUri`."""

    __slots__ = ("operation", "label_pattern", "label_groups", "required_query", "literal_chars")

    def __init__(self, operation: OperationModel, path_template: str, required_query: list[tuple[str, str | None]]) -> None:
        self.operation = operation
        self.required_query = required_query
        self.label_groups: dict[str, tuple[str, bool]] = {}
        self.label_pattern: re.Pattern[str] | None = None
        self.literal_chars = len(re.sub(r"\{[^}]*\}", "", path_template))
        if "{" in path_template:
            self.label_pattern = self._compile_template(path_template)

    def _compile_template(self, template: str) -> re.Pattern[str]:
        regex_parts: list[str] = []
        position = 0
        for index, match in enumerate(re.finditer(r"\{([^}+]+)(\+?)\}", template)):
            regex_parts.append(re.escape(template[position:match.start()]))
            group = f"label{index}"
            greedy = bool(match.group(2))
            self.label_groups[group] = (match.group(1), greedy)
            regex_parts.append(f"(?P<{group}>.+)" if greedy else f"(?P<{group}>[^/]+)")
            position = match.end()
        regex_parts.append(re.escape(template[position:]))
        return re.compile("".join(regex_parts) + r"\Z")

    def matches_query(self, query_keys: Mapping[str, list[str]]) -> bool:
        for key, value in self.required_query:
            if key not in query_keys:
                return False
            if value is not None and value not in query_keys[key]:
                return False
        return True


def _split_request_uri(request_uri: str) -> tuple[str, list[tuple[str, str | None]]]:
    """`/path/{x}?literal&k=v` -> ('/path/{x}', [('literal', None), ('k', 'v')])."""
    path, _, query = request_uri.partition("?")
    required: list[tuple[str, str | None]] = []
    for part in filter(None, query.split("&")):
        key, has_value, value = part.partition("=")
        required.append((key, value if has_value else None))
    return path, required


def _parse_query(query_string: bytes | str) -> dict[str, list[str]]:
    if isinstance(query_string, bytes):
        query_string = query_string.decode("latin-1")
    params: dict[str, list[str]] = {}
    if not query_string:
        return params
    if "%" not in query_string and "+" not in query_string:
        # Nothing to decode (the common case): a plain split is several times faster.
        for part in query_string.split("&"):
            if part:
                key, _, value = part.partition("=")
                params.setdefault(key, []).append(value)
        return params
    # Raw percent-encoded bytes are decoded as UTF-8 (parse_qsl's default).
    for key, value in parse_qsl(query_string, keep_blank_values=True):
        params.setdefault(key, []).append(value)
    return params


# --------------------------------------------------------------------------------------------


class _OperationSpec:
    __slots__ = ("operation", "input", "output", "status", "input_has_body", "input_locations", "literal_query_keys")

    def __init__(self, operation: OperationModel, compiler: ShapeCompiler) -> None:
        self.operation = operation
        self.input = compiler.compile(operation.input_shape) if operation.input_shape is not None else None
        self.output = compiler.compile(operation.output_shape) if operation.output_shape is not None else None
        self.status = int(operation.http.get("responseCode", 200))
        # Keys of a requestUri's literal query part (`/x?tagging`) are routing, not input.
        self.literal_query_keys = frozenset(key for key, _ in _split_request_uri(operation.http["requestUri"])[1])
        self.input_has_body = bool(self.input and (self.input.body_members_by_wire_name or self.input.payload_member))
        # Members bound outside the body, grouped by location, in model order.
        self.input_locations: dict[str, list[MemberSpec]] = {}
        if self.input is not None:
            for member in self.input.members.values():
                if member.location is not None:
                    self.input_locations.setdefault(member.location, []).append(member)


class RestJsonProtocol:
    """The rest-json wire protocol for one service model (see the module docstring)."""

    def __init__(self, service_model: ServiceModel) -> None:
        self.service_model = service_model
        compiler = ShapeCompiler()
        self._operations: dict[str, _OperationSpec] = {}
        # (METHOD, literal path) -> routes, the ones needing literal query keys first.
        self._literal_routes: dict[tuple[str, str], list[_Route]] = {}
        # METHOD -> routes with labels, most literal characters first.
        self._label_routes: dict[str, list[_Route]] = {}
        self._declared_errors: dict[str, frozenset[str]] = {}
        for name in service_model.operation_names:
            operation = service_model.operation_model(name)
            self._operations[name] = _OperationSpec(operation, compiler)
            self._declared_errors[name] = frozenset(shape.name for shape in operation.error_shapes)
            path, required_query = _split_request_uri(operation.http["requestUri"])
            route = _Route(operation, path, required_query)
            method = operation.http["method"].upper()
            if route.label_pattern is None:
                self._literal_routes.setdefault((method, path), []).append(route)
            else:
                self._label_routes.setdefault(method, []).append(route)
        for routes in self._literal_routes.values():
            routes.sort(key=lambda r: -len(r.required_query))
        for routes in self._label_routes.values():
            routes.sort(key=lambda r: (-r.literal_chars, -len(r.required_query)))

        self._big_body_parsers = ThreadPoolExecutor(BIG_BODY_PARSERS, thread_name_prefix="wabalink-parse")

    @property
    def operation_names(self) -> list[str]:
        return list(self._operations)

    def declared_errors(self, operation: OperationModel) -> frozenset[str]:
        """The error codes the model lets `operation` answer."""
        return self._declared_errors[operation.name]

    # -- routing --------------------------------------------------------------------------

    def route(self, method: str, path: str, query_string: bytes | str = b"") -> tuple[OperationModel, dict[str, str]]:
        """The operation bound to `method` + `path` (the raw, still percent-encoded path) and its
        decoded uri labels. `query_string` only matters for requestUris with a literal query part."""
        method = method.upper()
        candidates = self._literal_routes.get((method, path))
        if candidates is not None:
            if len(candidates) == 1 and not candidates[0].required_query:
                return candidates[0].operation, {}
            literal_query = _parse_query(query_string)
            for route in candidates:
                if route.matches_query(literal_query):
                    return route.operation, {}
        query: dict[str, list[str]] | None = None
        for route in self._label_routes.get(method, ()):
            match = route.label_pattern.match(path)  # type: ignore[union-attr]
            if match is None:
                continue
            if route.required_query:
                if query is None:
                    query = _parse_query(query_string)
                if not route.matches_query(query):
                    continue
            labels = {}
            for group, (label, _greedy) in route.label_groups.items():
                labels[label] = unquote(match.group(group))
            return route.operation, labels
        raise UnknownOperationException(f"No operation matches {method} {unquote(path)}")

    # -- input ----------------------------------------------------------------------------

    def parse(
        self,
        operation: OperationModel,
        uri_params: Mapping[str, str],
        query_string: bytes | str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> dict[str, Any]:
        """The operation's input as a dict keyed by model member names, validated.

        Raises AwsError: SerializationException (body is not JSON) or ValidationException."""
        spec = self._operations[operation.name]
        input_spec = spec.input
        if input_spec is None:
            return {}
        errors = Problems()
        result: dict[str, Any] = {}
        hidden = input_spec.sensitive

        if spec.input_has_body:
            self._read_body(input_spec, body, hidden, result, errors)

        locations = spec.input_locations
        if locations:
            if "uri" in locations:
                for member in locations["uri"]:
                    if member.wire_name in uri_params:
                        text = uri_params[member.wire_name]
                        result[member.name] = read_value(
                            member.shape, scalar_from_text(member.shape, text), member.name, hidden, errors)
            if "querystring" in locations:
                self._read_querystring(
                    locations["querystring"], query_string, spec.literal_query_keys, hidden, result, errors)
            if "header" in locations:
                for member in locations["header"]:
                    header_text = headers.get(member.wire_name.lower())
                    if header_text is None:
                        continue
                    result[member.name] = self._read_header(member, header_text, hidden, errors)
            if "headers" in locations:
                for member in locations["headers"]:
                    prefix = member.wire_name.lower()
                    found = {name[len(prefix):]: text for name, text in headers.items() if name.startswith(prefix)}
                    if found:
                        result[member.name] = read_value(member.shape, found, member.name, hidden, errors)

        for required_name in input_spec.required:
            if required_name not in result:
                errors.append(null_error(required_name))
        if errors:
            raise validation_exception(errors)
        return result

    async def parse_async(
        self,
        operation: OperationModel,
        uri_params: Mapping[str, str],
        query_string: bytes | str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> dict[str, Any]:
        """`parse`, run off the event loop for bodies over INLINE_PARSE_MAX_BODY_BYTES, so that
        validating a big body never blocks other requests."""
        if len(body) <= INLINE_PARSE_MAX_BODY_BYTES:
            return self.parse(operation, uri_params, query_string, headers, body)
        return await asyncio.get_running_loop().run_in_executor(
            self._big_body_parsers, self.parse, operation, uri_params, query_string, headers, body)

    def _read_body(self, input_spec: ShapeSpec, body: bytes, hidden: bool, result: dict[str, Any], errors: Problems) -> None:
        payload_name = input_spec.payload_member
        if payload_name is not None:
            member = input_spec.members[payload_name]
            if member.shape.type in ("blob", "string"):
                if body:
                    raw: Any = body if member.shape.type == "blob" else body.decode("utf-8", "replace")
                    result[payload_name] = read_value(member.shape, raw, payload_name, hidden, errors)
                return
        document = self._decode_json_body(body)
        if payload_name is not None:
            if document:
                result[payload_name] = read_value(
                    input_spec.members[payload_name].shape, document, payload_name, hidden, errors)
        else:
            # Required members are checked once all locations are read (see parse).
            wire_members = input_spec.body_members_by_wire_name
            for wire_name, item in document.items():
                wire_member = wire_members.get(wire_name)
                if wire_member is None or item is None:
                    continue
                result[wire_member.name] = read_value(wire_member.shape, item, wire_member.name, hidden, errors)

    @staticmethod
    def _decode_json_body(body: bytes) -> dict[str, Any]:
        if not body or body.isspace():
            return {}
        try:
            # orjson refuses what no store or encoder could take later: invalid UTF-8, lone
            # surrogates, nesting deeper than 1024 (where the stdlib decoder would recurse out).
            document = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise SerializationException(f"Could not parse request body into json: {exc}") from None
        if not isinstance(document, dict):
            raise SerializationException("Request body must be a JSON object.")
        return document

    @staticmethod
    def _read_querystring(
        members: list[MemberSpec],
        query_string: bytes | str,
        literal_keys: frozenset[str],
        hidden: bool,
        result: dict[str, Any],
        errors: Problems,
    ) -> None:
        if not query_string:
            return
        query = _parse_query(query_string)
        bound_names: set[str] = set(literal_keys)
        free_map: MemberSpec | None = None
        for member in members:
            shape = member.shape
            if shape.type == "map":
                free_map = member  # botocore spreads a querystring map's entries as query params
                continue
            values = query.get(member.wire_name)
            if values is None:
                continue
            bound_names.add(member.wire_name)
            if shape.type == "list":
                item_spec = shape.member
                raw: Any = [scalar_from_text(item_spec, text) for text in values]  # type: ignore[arg-type]
            else:
                raw = scalar_from_text(shape, values[0])
            result[member.name] = read_value(shape, raw, member.name, hidden, errors)
        if free_map is not None:
            value_spec = free_map.shape.value
            leftovers: dict[str, Any] = {}
            for key, values in query.items():
                if key in bound_names:
                    continue
                if value_spec is not None and value_spec.type == "list":
                    leftovers[key] = values
                else:
                    leftovers[key] = values[0]
            if leftovers:
                result[free_map.name] = read_value(free_map.shape, leftovers, free_map.name, hidden, errors)

    @staticmethod
    def _read_header(member: MemberSpec, text: str, hidden: bool, errors: Problems) -> Any:
        if member.json_value:
            return decode_json_header(text)
        shape = member.shape
        if shape.type == "list":
            item_spec = shape.member
            raw: Any = [scalar_from_text(item_spec, part.strip()) for part in text.split(",")]  # type: ignore[arg-type]
        else:
            raw = scalar_from_text(shape, text)
        return read_value(shape, raw, member.name, hidden, errors)

    # -- output ---------------------------------------------------------------------------

    def serialize(
        self, operation: OperationModel, output: Mapping[str, Any] | None, request_id: str | None = None
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Status, headers and body for a successful call. Unknown and None members are dropped."""
        spec = self._operations[operation.name]
        status = spec.status
        headers: list[tuple[bytes, bytes]] = []
        output_spec = spec.output
        content_type = JSON_CONTENT_TYPE
        if output_spec is None or not output:
            body = b"{}"
        else:
            payload_name = output_spec.payload_member
            for name, item in output.items():
                if item is None:
                    continue
                member = output_spec.members.get(name)
                if member is None or member.location is None:
                    continue
                if member.location == "header":
                    headers.append((member.wire_name.lower().encode("latin-1"), _header_text(member, item).encode("utf-8")))
                elif member.location == "headers":
                    prefix = member.wire_name.lower()
                    for key, text in item.items():
                        headers.append(((prefix + key.lower()).encode("latin-1"), str(text).encode("utf-8")))
                elif member.location == "statusCode":
                    status = int(item)
            if payload_name is not None:
                payload_member = output_spec.members[payload_name]
                payload = output.get(payload_name)
                if payload_member.shape.type in ("blob", "string"):
                    if payload is None:
                        body = b""
                    elif isinstance(payload, str):
                        body = payload.encode("utf-8")
                    else:
                        body = bytes(payload)
                    content_type = BINARY_CONTENT_TYPE if payload_member.shape.type == "blob" else b"text/plain"
                else:
                    body = b"{}" if payload is None else _json_bytes(_write_value(payload_member.shape, payload))
            else:
                body = _json_bytes(_write_structure_body(output_spec, output))
        headers.append((b"content-type", content_type))
        headers.append((b"content-length", str(len(body)).encode("ascii")))
        if request_id is not None:
            headers.append((b"x-amzn-requestid", request_id.encode("latin-1")))
        return status, headers, body

    def serialize_error(self, error: AwsError, request_id: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """`x-amzn-ErrorType: <Code>` + `{"message": ...}`: botocore's RestJSONParser takes the
        code from the header, so boto3 raises `client.exceptions.<Code>`."""
        body = _json_bytes({"message": error.message})
        headers = [
            (b"x-amzn-errortype", error.code.encode("latin-1")),
            (b"content-type", JSON_CONTENT_TYPE),
            (b"content-length", str(len(body)).encode("ascii")),
            (b"x-amzn-requestid", request_id.encode("latin-1")),
        ]
        return error.status, headers, body
