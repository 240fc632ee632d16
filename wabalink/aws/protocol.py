"""Model-driven rest-json: routing, input parsing + validation, output and error serialization.

Nothing here knows about WhatsApp: every operation is handled from the botocore service model.
At construction the model is compiled once into small `_ShapeSpec`/`_MemberSpec` objects
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

Validation follows AWS's wording: ``N validation error(s) detected: Value 'x' at
'a.b[0].c' failed to satisfy constraint: Member must ...; ...``. Paths use one notation everywhere
(the service's own messages too): structure members joined by dots, list items by their 0-based
index in brackets, map entries by their key in brackets. Only the first MAX_LISTED_PROBLEMS
problems are spelled out, then their count: an error answer stays small whatever the input.
Values of members marked `sensitive` in the model (or nested in a sensitive shape) are never echoed.

Lengths are checked before patterns, and a value outside its length range is never matched: an
over-long value is refused in time proportional to its length. Patterns are applied as AWS's Java
validators apply them (`Matcher.matches()`: the whole value), with `re.fullmatch`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

import orjson
from botocore.model import OperationModel, ServiceModel, Shape

from wabalink.aws.errors import AwsError, SerializationException, UnknownOperationException
from wabalink.aws.exceptions import ValidationException

JSON_CONTENT_TYPE = b"application/json"
BINARY_CONTENT_TYPE = b"application/octet-stream"

INT32_RANGE = (-(2**31), 2**31 - 1)
INT64_RANGE = (-(2**63), 2**63 - 1)

# Longest value echoed in a validation message; a 2 MB blob must not come back in an error.
MAX_ECHOED_VALUE_CHARS = 256
# Problems spelled out in one ValidationException; the rest are only counted.
MAX_LISTED_PROBLEMS = 10
# Longest map key shown inside a path (`filters[key]`).
MAX_PATH_KEY_CHARS = 64
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


_PLAIN_SCALARS = frozenset({"string", "integer", "long", "boolean", "float", "double", "byte", "short"})


_WABA_ID_HINT = (" (expected the linked WABA id, waba-<32 hex digits>, or its ARN, as "
                 "ListLinkedWhatsAppBusinessAccounts shows them; Meta's numeric WABA id is not accepted here)")
_PHONE_ID_HINT = (" (expected the linked phone number id, phone-number-id-<32 hex digits>, or its ARN, as "
                  "GetLinkedWhatsAppBusinessAccount shows them; Meta's phone number id is not accepted here)")
# Which id a pattern wants, said in words: ids of the two sides are easily swapped.
_ID_HINTS = {
    "LinkedWhatsAppBusinessAccountId": _WABA_ID_HINT,
    "LinkedWhatsAppBusinessAccountArn": _WABA_ID_HINT,
    "WhatsAppPhoneNumberId": _PHONE_ID_HINT,
    "LinkedWhatsAppPhoneNumberArn": _PHONE_ID_HINT,
    "MetaFlowId": " (expected Meta's numeric flow id, as ListWhatsAppFlows shows it)",
    "MetaTemplateId": " (expected Meta's numeric template id, as ListWhatsAppMessageTemplates shows it)",
}


class _ShapeSpec:
    """One model shape, precompiled for parsing, validation and serialization."""

    __slots__ = (
        "name", "type", "sensitive", "min", "max", "pattern", "pattern_text", "enum",
        "enum_text", "members", "body_members_by_wire_name", "required", "member", "key",
        "value", "timestamp_format", "is_document", "sparse", "payload_member", "plain", "body_members_by_name",
    )

    def __init__(self, name: str, type_name: str) -> None:
        self.name = name
        self.type = type_name
        self.sensitive = False
        self.min: int | float | None = None
        self.max: int | float | None = None
        self.pattern: re.Pattern[str] | None = None
        self.pattern_text = ""
        self.enum: frozenset[str] | None = None
        self.enum_text = ""
        self.members: dict[str, _MemberSpec] = {}
        self.body_members_by_wire_name: dict[str, _MemberSpec] = {}
        self.required: tuple[str, ...] = ()
        self.member: _ShapeSpec | None = None
        self.key: _ShapeSpec | None = None
        self.value: _ShapeSpec | None = None
        self.timestamp_format: str | None = None
        self.is_document = False
        self.sparse = False  # a list or map whose items may be null
        self.payload_member: str | None = None
        # True when the Python value is already its JSON form (no timestamps, blobs, renames).
        self.plain = False
        self.body_members_by_name: dict[str, _MemberSpec] = {}


class _MemberSpec:
    """A structure member: its shape and where it lives on the wire."""

    __slots__ = ("name", "shape", "location", "wire_name", "json_value", "timestamp_format")

    def __init__(self, name: str, shape: _ShapeSpec, serialization: Mapping[str, Any]) -> None:
        self.name = name
        self.shape = shape
        self.location: str | None = serialization.get("location")
        self.wire_name: str = serialization.get("name", name)
        self.json_value = bool(serialization.get("jsonvalue"))
        self.timestamp_format: str | None = serialization.get("timestampFormat")


class _ShapeCompiler:
    """Turns botocore `Shape`s into `_ShapeSpec`s, once per shape name (handles recursion)."""

    def __init__(self) -> None:
        self._specs: dict[str, _ShapeSpec] = {}

    def compile(self, shape: Shape) -> _ShapeSpec:
        existing = self._specs.get(shape.name)
        if existing is not None:
            return existing
        spec = _ShapeSpec(shape.name, shape.type_name)
        self._specs[shape.name] = spec  # registered before recursing: recursive shapes terminate
        metadata = shape.metadata
        spec.sensitive = bool(metadata.get("sensitive"))
        spec.min = metadata.get("min")
        spec.max = metadata.get("max")
        if metadata.get("pattern") is not None:
            spec.pattern_text = metadata["pattern"]
            # ECMA-262 semantics: \d and \w are ASCII only.
            spec.pattern = re.compile(spec.pattern_text, re.ASCII)  # applied with fullmatch
        enum = getattr(shape, "enum", None) or metadata.get("enum")
        if enum:
            spec.enum = frozenset(enum)
            spec.enum_text = "[" + ", ".join(enum) + "]"
        spec.is_document = bool(metadata.get("document"))
        spec.sparse = bool(metadata.get("sparse"))
        spec.timestamp_format = shape.serialization.get("timestampFormat")
        if shape.type_name == "structure" and not spec.is_document:
            spec.required = tuple(shape.required_members)
            spec.payload_member = shape.serialization.get("payload")
            for member_name, member_shape in shape.members.items():
                member = _MemberSpec(member_name, self.compile(member_shape), member_shape.serialization)
                spec.members[member_name] = member
                if member.location is None and member_name != spec.payload_member:
                    spec.body_members_by_wire_name[member.wire_name] = member
                    spec.body_members_by_name[member_name] = member
        elif shape.type_name == "list":
            spec.member = self.compile(shape.member)
            spec.plain = spec.member.plain
        elif shape.type_name == "map":
            spec.key = self.compile(shape.key)
            spec.value = self.compile(shape.value)
        else:
            spec.plain = shape.type_name in _PLAIN_SCALARS or spec.is_document
        return spec


# --------------------------------------------------------------------------------------------
# Validation messages


def _render_value(value: Any, hidden: bool) -> str:
    """How AWS echoes a value in a validation message ('' when it must not be echoed)."""
    if hidden:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (int, float)):
        text = str(value)  # AWS quotes numbers too: Value '0' at 'maxResults'
    elif isinstance(value, str):
        text = value
    elif isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        text = _bounded_list_text(value)
    else:
        return ""  # structures, maps, blobs: not echoed
    if len(text) > MAX_ECHOED_VALUE_CHARS:
        text = text[:MAX_ECHOED_VALUE_CHARS] + "..."
    return f" '{text}'"


def _bounded_list_text(items: list[Any]) -> str:
    """`[a, b, c]`, built only as far as an echo can show (a list may hold a million items)."""
    parts: list[str] = []
    size = 0
    for item in items:
        part = str(item)[:MAX_ECHOED_VALUE_CHARS + 1]
        parts.append(part)
        size += len(part) + 2
        if size > MAX_ECHOED_VALUE_CHARS:
            return "[" + ", ".join(parts)  # cut by the caller, so no closing bracket
    return "[" + ", ".join(parts) + "]"


def _constraint_error(value: Any, path: str, hidden: bool, constraint: str) -> str:
    return f"Value{_render_value(value, hidden)} at '{path}' failed to satisfy constraint: {constraint}"


def _null_error(path: str) -> str:
    return f"Value null at '{path}' failed to satisfy constraint: Member must not be null"


class Problems:
    """The validation problems of one request: the first few messages, and how many in all.

    Whatever the input (900,000 bad tags, say), memory and the error answer stay bounded."""

    __slots__ = ("listed", "count")

    def __init__(self) -> None:
        self.listed: list[str] = []
        self.count = 0

    def append(self, message: str) -> None:
        self.count += 1
        if len(self.listed) < MAX_LISTED_PROBLEMS:
            self.listed.append(message)

    def __bool__(self) -> bool:
        return self.count > 0

    def __len__(self) -> int:
        return self.count


def _validation_exception(problems: Problems) -> AwsError:
    count = problems.count
    noun = "error" if count == 1 else "errors"
    message = f"{count} validation {noun} detected: " + "; ".join(problems.listed)
    unlisted = count - len(problems.listed)
    if unlisted > 0:
        message += f"; ... and {unlisted:,} more problem{'s' if unlisted > 1 else ''}"
    return ValidationException(message)


def _map_entry_path(path: str, key: Any) -> str:
    shown = str(key)
    if len(shown) > MAX_PATH_KEY_CHARS:
        shown = shown[:MAX_PATH_KEY_CHARS] + "..."
    return f"{path}[{shown}]"


# --------------------------------------------------------------------------------------------
# Value conversion + validation (JSON-like value in, Python value out, errors appended)


def _parse_timestamp_text(text: str) -> datetime | None:
    """ISO 8601, epoch seconds or an HTTP date, as clients may send them."""
    text = text.strip()
    try:
        return datetime.fromtimestamp(float(text), tz=timezone.utc)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    except ValueError:
        pass
    try:
        parsed = parsedate_to_datetime(text)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    except (TypeError, ValueError, IndexError):
        return None


def _check_length(spec: _ShapeSpec, value: Any, size: int, path: str, hidden: bool, errors: Problems) -> None:
    if spec.min is not None and size < spec.min:
        errors.append(_constraint_error(
            value, path, hidden, f"Member must have length greater than or equal to {spec.min}"))
    if spec.max is not None and size > spec.max:
        errors.append(_constraint_error(
            value, path, hidden, f"Member must have length less than or equal to {spec.max}"))


def _check_range(spec: _ShapeSpec, value: int | float, path: str, hidden: bool, errors: Problems) -> None:
    low, high = spec.min, spec.max
    if spec.type == "integer":
        low = INT32_RANGE[0] if low is None else max(low, INT32_RANGE[0])
        high = INT32_RANGE[1] if high is None else min(high, INT32_RANGE[1])
    elif spec.type == "long":
        low = INT64_RANGE[0] if low is None else max(low, INT64_RANGE[0])
        high = INT64_RANGE[1] if high is None else min(high, INT64_RANGE[1])
    if low is not None and value < low:
        errors.append(_constraint_error(
            value, path, hidden, f"Member must have value greater than or equal to {low}"))
    if high is not None and value > high:
        errors.append(_constraint_error(
            value, path, hidden, f"Member must have value less than or equal to {high}"))


def _type_error(value: Any, path: str, hidden: bool, expected: str) -> str:
    return _constraint_error(value, path, hidden, f"Member must be of type {expected}")


def _read_item(container: _ShapeSpec, item_spec: _ShapeSpec, item: Any, path: str, hidden: bool,
               errors: Problems) -> Any:
    """One list item or map value: null only where the model says the collection is sparse."""
    if item is None:
        if not container.sparse:
            errors.append(_null_error(path))
        return None
    return _read_value(item_spec, item, path, hidden, errors)


def _read_value(spec: _ShapeSpec, value: Any, path: str, hidden: bool, errors: Problems) -> Any:
    """Convert one wire value (as decoded from JSON) to its Python form, validating it."""
    hidden = hidden or spec.sensitive
    kind = spec.type
    if kind == "string":
        if not isinstance(value, str):
            errors.append(_type_error(value, path, hidden, "string"))
            return value
        if (spec.min is not None and len(value) < spec.min) or (spec.max is not None and len(value) > spec.max):
            # Before any pattern: an over-long value costs its length, never a regex backtrack.
            _check_length(spec, value, len(value), path, hidden, errors)
        else:
            if spec.enum is not None and value not in spec.enum:
                errors.append(_constraint_error(
                    value, path, hidden, f"Member must satisfy enum value set: {spec.enum_text}"))
            if spec.pattern is not None and spec.pattern.fullmatch(value) is None:
                errors.append(_constraint_error(
                    value, path, hidden,
                    f"Member must satisfy regular expression pattern: {spec.pattern_text}"
                    + _ID_HINTS.get(spec.name, "")))
        if "\x00" in value:  # no store keeps NUL in text (PostgreSQL refuses it)
            errors.append(_constraint_error(value, path, True, "Member must not contain NUL characters"))
        return value
    if kind == "structure":
        if spec.is_document:
            return value
        if not isinstance(value, dict):
            errors.append(_type_error(value, path, hidden, "structure"))
            return value
        return _read_structure(spec, value, path + ".", hidden, errors)
    if kind == "list":
        if not isinstance(value, list):
            errors.append(_type_error(value, path, hidden, "list"))
            return value
        if spec.min is not None or spec.max is not None:
            _check_length(spec, value, len(value), path, hidden, errors)
        item_spec = spec.member
        assert item_spec is not None
        items: list[Any] = []
        for index, item in enumerate(value):
            converted = _read_item(spec, item_spec, item, f"{path}[{index}]", hidden, errors)
            if not errors:  # once the request is refused, its converted copy is not kept
                items.append(converted)
        return items
    if kind == "map":
        if not isinstance(value, dict):
            errors.append(_type_error(value, path, hidden, "map"))
            return value
        if spec.min is not None or spec.max is not None:
            _check_length(spec, value, len(value), path, hidden, errors)
        key_spec, value_spec = spec.key, spec.value
        assert key_spec is not None and value_spec is not None
        result = {}
        for key, item in value.items():
            entry_path = _map_entry_path(path, key)
            _read_value(key_spec, key, entry_path, hidden, errors)
            converted = _read_item(spec, value_spec, item, entry_path, hidden, errors)
            if not errors:
                result[key] = converted
        return result
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            errors.append(_type_error(value, path, hidden, kind))
            return value
        _check_range(spec, value, path, hidden, errors)
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            errors.append(_type_error(value, path, hidden, "boolean"))
        return value
    if kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            errors.append(_type_error(value, path, hidden, kind))
            return value
        if spec.min is not None or spec.max is not None:
            _check_range(spec, value, path, hidden, errors)
        return float(value)
    if kind == "blob":
        if isinstance(value, (bytes, bytearray)):
            raw = bytes(value)  # a raw payload: already bytes
        elif isinstance(value, str):
            try:
                raw = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                errors.append(_constraint_error(
                    value, path, True, "Member must be a valid base64-encoded binary value"))
                return value
        else:
            errors.append(_type_error(value, path, hidden, "blob"))
            return value
        if spec.min is not None or spec.max is not None:
            _check_length(spec, raw, len(raw), path, True, errors)
        return raw
    if kind == "timestamp":
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                return datetime.fromtimestamp(value, tz=timezone.utc)
            except (OverflowError, OSError, ValueError):
                pass
        elif isinstance(value, str):
            parsed = _parse_timestamp_text(value)
            if parsed is not None:
                return parsed
        errors.append(_type_error(value, path, hidden, "timestamp"))
        return value
    return value  # unknown kinds pass through unchanged


def _read_structure(
    spec: _ShapeSpec, value: Mapping[str, Any], prefix: str, hidden: bool, errors: Problems
) -> dict[str, Any]:
    """Body members of a structure (unknown keys ignored, like AWS) + its required check."""
    result: dict[str, Any] = {}
    wire_members = spec.body_members_by_wire_name
    for wire_name, item in value.items():
        member = wire_members.get(wire_name)
        if member is None or item is None:
            continue
        result[member.name] = _read_value(member.shape, item, prefix + member.name, hidden, errors)
    for required_name in spec.required:
        if required_name not in result:
            errors.append(_null_error(prefix + required_name))
    return result


# --------------------------------------------------------------------------------------------
# Text (querystring / header / uri) to JSON-like value


def _scalar_from_text(spec: _ShapeSpec, text: str) -> Any:
    """A querystring/header/uri text as the JSON value `_read_value` expects; bad text is
    returned unchanged so validation reports it as a type error naming the member."""
    kind = spec.type
    if kind in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            return text
    if kind == "boolean":
        lowered = text.lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
        return text
    if kind in ("float", "double"):
        try:
            return float(text)
        except ValueError:
            return text
    return text  # strings, timestamps (parsed by _read_value), blobs (base64)


def _decode_json_header(text: str) -> Any:
    try:
        return orjson.loads(base64.b64decode(text))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise SerializationException(f"Could not decode JSON header value: {exc}") from None


# --------------------------------------------------------------------------------------------
# Output conversion (Python value in, JSON-ready value out)


def _epoch_seconds(value: Any) -> int | float:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        seconds = value.timestamp()
    elif isinstance(value, str):
        parsed = _parse_timestamp_text(value)
        if parsed is None:
            raise ValueError(f"not a timestamp: {value!r}")
        seconds = parsed.timestamp()
    else:
        seconds = float(value)
    return int(seconds) if seconds == math.floor(seconds) else seconds


def _write_value(spec: _ShapeSpec, value: Any) -> Any:
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


def _write_structure_body(spec: _ShapeSpec, value: Mapping[str, Any]) -> dict[str, Any]:
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


def _header_text(member: _MemberSpec, value: Any) -> str:
    spec = member.shape
    if member.json_value:
        return base64.b64encode(_json_encode(value).encode("utf-8")).decode("ascii")
    if spec.type == "timestamp":
        fmt = member.timestamp_format or spec.timestamp_format or "rfc822"
        if fmt == "unixTimestamp":
            return str(_epoch_seconds(value))
        moment = value if isinstance(value, datetime) else datetime.fromtimestamp(_epoch_seconds(value), tz=timezone.utc)
        if fmt == "iso8601":
            return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return format_datetime(moment.astimezone(timezone.utc), usegmt=True)
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

    def __init__(self, operation: OperationModel, compiler: _ShapeCompiler) -> None:
        self.operation = operation
        self.input = compiler.compile(operation.input_shape) if operation.input_shape is not None else None
        self.output = compiler.compile(operation.output_shape) if operation.output_shape is not None else None
        self.status = int(operation.http.get("responseCode", 200))
        # Keys of a requestUri's literal query part (`/x?tagging`) are routing, not input.
        self.literal_query_keys = frozenset(key for key, _ in _split_request_uri(operation.http["requestUri"])[1])
        self.input_has_body = bool(self.input and (self.input.body_members_by_wire_name or self.input.payload_member))
        # Members bound outside the body, grouped by location, in model order.
        self.input_locations: dict[str, list[_MemberSpec]] = {}
        if self.input is not None:
            for member in self.input.members.values():
                if member.location is not None:
                    self.input_locations.setdefault(member.location, []).append(member)


class RestJsonProtocol:
    """The rest-json wire protocol for one service model (see the module docstring)."""

    def __init__(self, service_model: ServiceModel) -> None:
        self.service_model = service_model
        compiler = _ShapeCompiler()
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
            query = _parse_query(query_string)
            for route in candidates:
                if route.matches_query(query):
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
                        result[member.name] = _read_value(
                            member.shape, _scalar_from_text(member.shape, text), member.name, hidden, errors)
            if "querystring" in locations:
                self._read_querystring(
                    locations["querystring"], query_string, spec.literal_query_keys, hidden, result, errors)
            if "header" in locations:
                for member in locations["header"]:
                    text = headers.get(member.wire_name.lower())
                    if text is None:
                        continue
                    result[member.name] = self._read_header(member, text, hidden, errors)
            if "headers" in locations:
                for member in locations["headers"]:
                    prefix = member.wire_name.lower()
                    found = {name[len(prefix):]: text for name, text in headers.items() if name.startswith(prefix)}
                    if found:
                        result[member.name] = _read_value(member.shape, found, member.name, hidden, errors)

        for required_name in input_spec.required:
            if required_name not in result:
                errors.append(_null_error(required_name))
        if errors:
            raise _validation_exception(errors)
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

    def _read_body(self, input_spec: _ShapeSpec, body: bytes, hidden: bool, result: dict[str, Any], errors: Problems) -> None:
        payload_name = input_spec.payload_member
        if payload_name is not None:
            member = input_spec.members[payload_name]
            if member.shape.type in ("blob", "string"):
                if body:
                    raw: Any = body if member.shape.type == "blob" else body.decode("utf-8", "replace")
                    result[payload_name] = _read_value(member.shape, raw, payload_name, hidden, errors)
                return
        document = self._decode_json_body(body)
        if payload_name is not None:
            if document:
                result[payload_name] = _read_value(
                    input_spec.members[payload_name].shape, document, payload_name, hidden, errors)
        else:
            # Required members are checked once all locations are read (see parse).
            wire_members = input_spec.body_members_by_wire_name
            for wire_name, item in document.items():
                member = wire_members.get(wire_name)
                if member is None or item is None:
                    continue
                result[member.name] = _read_value(member.shape, item, member.name, hidden, errors)

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
        members: list[_MemberSpec],
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
        free_map: _MemberSpec | None = None
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
                raw: Any = [_scalar_from_text(item_spec, text) for text in values]  # type: ignore[arg-type]
            else:
                raw = _scalar_from_text(shape, values[0])
            result[member.name] = _read_value(shape, raw, member.name, hidden, errors)
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
                result[free_map.name] = _read_value(free_map.shape, leftovers, free_map.name, hidden, errors)

    @staticmethod
    def _read_header(member: _MemberSpec, text: str, hidden: bool, errors: Problems) -> Any:
        if member.json_value:
            return _decode_json_header(text)
        shape = member.shape
        if shape.type == "list":
            item_spec = shape.member
            raw: Any = [_scalar_from_text(item_spec, part.strip()) for part in text.split(",")]  # type: ignore[arg-type]
        else:
            raw = _scalar_from_text(shape, text)
        return _read_value(shape, raw, member.name, hidden, errors)

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
