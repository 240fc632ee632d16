"""Checks on sandbox input, made before anything reaches the store: every string is bounded by
its column's length and free of control characters (PostgreSQL refuses NUL; SQLite would keep
it), so both stores answer the same 400 for the same input."""

from __future__ import annotations

import re
from typing import Any

from wabalink.meta.errors import SandboxError

NUMERIC_ID = re.compile(r"[0-9]{1,32}")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
NAME_MAX_LENGTH = 200  # meta_businesses.name, meta_wabas.name, meta_phone_numbers.verified_name
TOKEN_MAX_LENGTH = 1000


def meta_id(value: str, name: str) -> str:
    """A Meta id taken from the path: digits only (so `%00` or a 10 kB segment never reach a query)."""
    if not NUMERIC_ID.fullmatch(value):
        raise SandboxError(400, f"{name} must be a Meta id (1 to 32 digits){_aws_id_hint(value)}")
    return value


def _aws_id_hint(value: str) -> str:
    """AWS's linked ids are easily given where Meta's are expected: say where Meta's are."""
    if value.startswith("waba-") or ":waba/" in value:
        return ("; that is the linked (AWS) WABA id: Meta's is wabaId in GetLinkedWhatsAppBusinessAccount "
                "or in `wabalink meta create-waba`'s answer")
    if value.startswith("phone-number-id-") or ":phone-number-id/" in value:
        return ("; that is the linked (AWS) phone number id: Meta's is metaPhoneNumberId in "
                "GetLinkedWhatsAppBusinessAccount or phoneNumbers[].id in `wabalink meta create-waba`'s answer")
    return ""


def required_str(body: dict[str, Any], name: str, *, max_length: int = NAME_MAX_LENGTH) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise SandboxError(400, f"{name} is required (a non-empty string)")
    return _checked_text(value, name, max_length)


def optional_str(body: dict[str, Any], name: str, *, max_length: int = NAME_MAX_LENGTH) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise SandboxError(400, f"{name} must be a string of at most {max_length} characters")
    return _checked_text(value, name, max_length)


def optional_int(body: dict[str, Any], name: str, default: int, *, minimum: int, maximum: int) -> int:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise SandboxError(400, f"{name} must be an integer from {minimum} to {maximum}")
    return value


def optional_seconds(body: dict[str, Any], name: str, *, maximum: int) -> float:
    """A duration in seconds, whole or not (0 when absent)."""
    value = body.get(name)
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= maximum:
        raise SandboxError(400, f"{name} must be a number of seconds from 0 to {maximum}")
    return float(value)


def string_list(body: dict[str, Any], name: str, *, max_items: int, item_pattern: re.Pattern[str] | None = None,
                what: str) -> list[str] | None:
    value = body.get(name)
    if value is None:
        return None
    if (not isinstance(value, list) or len(value) > max_items
            or not all(isinstance(item, str) and item and len(item) <= NAME_MAX_LENGTH
                       and not CONTROL_CHARACTERS.search(item)
                       and (item_pattern is None or item_pattern.fullmatch(item)) for item in value)):
        raise SandboxError(400, f"{name} must be a list of at most {max_items} {what}")
    return value


def _checked_text(value: str, name: str, max_length: int) -> str:
    if len(value) > max_length:
        raise SandboxError(400, f"{name} must be at most {max_length} characters")
    if CONTROL_CHARACTERS.search(value):
        raise SandboxError(400, f"{name} must not contain control characters")
    return value
