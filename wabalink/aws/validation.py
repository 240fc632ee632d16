"""Input validation and conversion: a JSON-like value in, its Python form out, problems counted.

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

import base64
import binascii
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import orjson

from wabalink.aws.errors import AwsError, SerializationException
from wabalink.aws.exceptions import ValidationException
from wabalink.aws.shape_specs import ShapeSpec

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

INT32_RANGE = (-(2**31), 2**31 - 1)
INT64_RANGE = (-(2**63), 2**63 - 1)

# Longest value echoed in a validation message; a 2 MB blob must not come back in an error.
MAX_ECHOED_VALUE_CHARS = 256
# Problems spelled out in one ValidationException; the rest are only counted.
MAX_LISTED_PROBLEMS = 10
# Longest map key shown inside a path (`filters[key]`).
MAX_PATH_KEY_CHARS = 64


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


def null_error(path: str) -> str:
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


def validation_exception(problems: Problems) -> AwsError:
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


def parse_timestamp_text(text: str) -> datetime | None:
    """ISO 8601, epoch seconds or an HTTP date, as clients may send them."""
    text = text.strip()
    try:
        return datetime.fromtimestamp(float(text), tz=UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except ValueError:
        pass
    try:
        parsed = parsedate_to_datetime(text)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (TypeError, ValueError, IndexError):
        return None


def _check_length(spec: ShapeSpec, value: Any, size: int, path: str, hidden: bool, errors: Problems) -> None:
    if spec.min is not None and size < spec.min:
        errors.append(_constraint_error(
            value, path, hidden, f"Member must have length greater than or equal to {spec.min}"))
    if spec.max is not None and size > spec.max:
        errors.append(_constraint_error(
            value, path, hidden, f"Member must have length less than or equal to {spec.max}"))


def _check_range(spec: ShapeSpec, value: int | float, path: str, hidden: bool, errors: Problems) -> None:
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


def _read_item(container: ShapeSpec, item_spec: ShapeSpec, item: Any, path: str, hidden: bool,
               errors: Problems) -> Any:
    """One list item or map value: null only where the model says the collection is sparse."""
    if item is None:
        if not container.sparse:
            errors.append(null_error(path))
        return None
    return read_value(item_spec, item, path, hidden, errors)


def read_value(spec: ShapeSpec, value: Any, path: str, hidden: bool, errors: Problems) -> Any:
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
        return read_structure(spec, value, path + ".", hidden, errors)
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
            read_value(key_spec, key, entry_path, hidden, errors)
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
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                return datetime.fromtimestamp(value, tz=UTC)
            except (OverflowError, OSError, ValueError):
                pass
        elif isinstance(value, str):
            parsed = parse_timestamp_text(value)
            if parsed is not None:
                return parsed
        errors.append(_type_error(value, path, hidden, "timestamp"))
        return value
    return value  # unknown kinds pass through unchanged


def read_structure(
    spec: ShapeSpec, value: Mapping[str, Any], prefix: str, hidden: bool, errors: Problems
) -> dict[str, Any]:
    """Body members of a structure (unknown keys ignored, like AWS) + its required check."""
    result: dict[str, Any] = {}
    wire_members = spec.body_members_by_wire_name
    for wire_name, item in value.items():
        member = wire_members.get(wire_name)
        if member is None or item is None:
            continue
        result[member.name] = read_value(member.shape, item, prefix + member.name, hidden, errors)
    for required_name in spec.required:
        if required_name not in result:
            errors.append(null_error(prefix + required_name))
    return result


# --------------------------------------------------------------------------------------------
# Text (querystring / header / uri) to JSON-like value


def scalar_from_text(spec: ShapeSpec, text: str) -> Any:
    """A querystring/header/uri text as the JSON value `read_value` expects; bad text is
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
    return text  # strings, timestamps (parsed by read_value), blobs (base64)


def decode_json_header(text: str) -> Any:
    try:
        return orjson.loads(base64.b64decode(text))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise SerializationException(f"Could not decode JSON header value: {exc}") from None
