"""Graph API answers, checked and turned into typed records. Nothing Meta (or whatever answers at
the Graph URL) sends is trusted: a missing id, a field of the wrong type, a string longer than the
service's columns hold or carrying control characters, an `error` that is not an object, all raise
`GraphProtocolError` (a `GraphUnavailableError`: the service answers DependencyException, never
500 and never success)."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

SCOPE_MANAGEMENT = "whatsapp_business_management"
META_ID = re.compile(r"[0-9]{1,100}")  # linked_* meta_*_id columns hold 100
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
NAME_MAX_LENGTH = 200  # waba_name, display_phone_number_name
DISPLAY_PHONE_NUMBER_MAX_LENGTH = 20  # display_phone_number, and phone_number in E.164
QUALITY_RATING_MAX_LENGTH = 10
SHORT_TEXT_MAX_LENGTH = 64  # statuses, types, currencies, time zone ids
CURSOR_MAX_LENGTH = 1000
ERROR_MESSAGE_MAX_LENGTH = 500  # Meta's error text is quoted in the service's own messages

# debug_token / error subcodes of OAuthException 190 (Meta's error-handling guide).
TOKEN_EXPIRED, TOKEN_REVOKED, TOKEN_UNKNOWN = "expired", "revoked", "unknown"
SUBCODE_EXPIRED = 463
SUBCODES_REVOKED = frozenset({458, 460, 461, 466, 467})  # app removed, password changed, logged out...


class GraphUnavailableError(Exception):
    """Meta could not be reached, timed out, or answered something that is not Graph JSON."""


class GraphProtocolError(GraphUnavailableError):
    """Meta answered JSON that breaks the Graph API's shapes."""


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
    def token_invalid_reason(self) -> str | None:
        """For a token error: "expired", "revoked" or "unknown"; None for other errors."""
        return token_invalid_reason(self.error_subcode) if self.is_token_error else None

    @property
    def is_permission_error(self) -> bool:
        return self.code in (10, 200) or 200 <= self.code <= 299

    @property
    def is_server_error(self) -> bool:
        return self.status >= 500


def token_invalid_reason(subcode: int | None) -> str:
    if subcode == SUBCODE_EXPIRED:
        return TOKEN_EXPIRED
    if subcode in SUBCODES_REVOKED:
        return TOKEN_REVOKED
    return TOKEN_UNKNOWN


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

    @property
    def invalid_reason(self) -> str | None:
        """Why Meta says the token is not valid: "expired", "revoked" or "unknown" (never issued,
        or unreadable); None for a valid token."""
        if self.is_valid:
            return None
        if self.error_subcode is None and self.expires_at and self.expires_at <= time.time():
            return TOKEN_EXPIRED
        return token_invalid_reason(self.error_subcode)


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


# --- whole answers --------------------------------------------------------------------------------

def parse_answer(status: int, data: bytes, method: str, path: str) -> dict[str, Any]:
    """The answer's JSON object; GraphApiError for Meta's error answers."""
    try:
        answer = json.loads(data)
    except (ValueError, RecursionError):
        raise GraphUnavailableError(f"Graph API answered HTTP {status} without JSON ({method} {path})") from None
    if not isinstance(answer, dict):
        raise GraphProtocolError(f"Graph API answered HTTP {status} with a non-object ({method} {path})")
    if "error" in answer:
        error = answer["error"]
        if not isinstance(error, dict):
            raise GraphProtocolError(f"Graph API answered HTTP {status} with a malformed error ({method} {path})")
        raise GraphApiError(
            status=status, message=_error_text(error.get("message")), type=_error_text(error.get("type"))[:64],
            code=_int_or(error.get("code"), 0) or 0, fbtrace_id=_optional_error_text(error.get("fbtrace_id")),
            error_subcode=_int_or(error.get("error_subcode"), None))
    if status >= 400:
        raise GraphUnavailableError(f"Graph API answered HTTP {status} without an error object ({method} {path})")
    return answer


def token_info(answer: dict[str, Any]) -> TokenInfo:
    data = _object(answer, "data", "debug_token")
    granular: dict[str, list[str]] = {}
    for item in _list(data, "granular_scopes", "debug_token"):
        item = _as_object(item, "debug_token granular_scopes item")
        scope = _text(item, "scope", "debug_token granular scope", SHORT_TEXT_MAX_LENGTH)
        granular[scope] = [_as_id(t, "debug_token target id") for t in _list(item, "target_ids", "debug_token")]
    error = _object(data, "error", "debug_token") if data.get("error") is not None else {}
    is_valid = data.get("is_valid")
    if not isinstance(is_valid, bool):
        raise GraphProtocolError("Graph debug_token answer has no is_valid boolean")
    return TokenInfo(
        is_valid=is_valid,
        app_id=_optional_id(data, "app_id", "debug_token"),
        user_id=_optional_id(data, "user_id", "debug_token"),
        type=_optional_text(data, "type", "debug_token", SHORT_TEXT_MAX_LENGTH),
        scopes=[_as_text(s, "debug_token scope", SHORT_TEXT_MAX_LENGTH) for s in _list(data, "scopes", "debug_token")],
        granted_waba_ids=granular.get(SCOPE_MANAGEMENT, []),
        expires_at=_int_or(data.get("expires_at"), None),
        error_message=_optional_error_text(error.get("message")),
        error_code=_int_or(error.get("code"), None),
        error_subcode=_int_or(error.get("subcode", error.get("error_subcode")), None),
        granular_scopes=granular,
    )


def waba(answer: dict[str, Any], waba_id: str) -> MetaWaba:
    found = _optional_id(answer, "id", "WABA") or waba_id
    if found != waba_id:
        raise GraphProtocolError("Graph API answered another WABA than the one asked for")
    return MetaWaba(id=found, name=_text(answer, "name", "WABA", NAME_MAX_LENGTH),
                    currency=_optional_text(answer, "currency", "WABA", SHORT_TEXT_MAX_LENGTH),
                    timezone_id=_optional_text(answer, "timezone_id", "WABA", SHORT_TEXT_MAX_LENGTH, numbers=True))


def phone_number(item: Any) -> MetaPhoneNumber:
    item = _as_object(item, "phone number")
    phone = MetaPhoneNumber(
        id=_as_id(item.get("id"), "phone number id"),
        display_phone_number=_text(item, "display_phone_number", "phone number", DISPLAY_PHONE_NUMBER_MAX_LENGTH),
        verified_name=_optional_text(item, "verified_name", "phone number", NAME_MAX_LENGTH) or "",
        quality_rating=_optional_text(item, "quality_rating", "phone number", QUALITY_RATING_MAX_LENGTH) or "UNKNOWN",
        code_verification_status=_optional_text(item, "code_verification_status", "phone number",
                                                SHORT_TEXT_MAX_LENGTH),
        platform_type=_optional_text(item, "platform_type", "phone number", SHORT_TEXT_MAX_LENGTH),
        status=_optional_text(item, "status", "phone number", SHORT_TEXT_MAX_LENGTH),
    )
    if not 1 < len(phone.phone_number) <= DISPLAY_PHONE_NUMBER_MAX_LENGTH:
        raise GraphProtocolError("Graph API answered a phone number whose display number has no or too many digits")
    return phone


def phone_number_page(page: Any, what: str) -> tuple[list[MetaPhoneNumber], str | None]:
    """A page of numbers and the cursor of the next page (None on the last). Only `next` says
    there is another page; Meta's `next` URL embeds the access token, so it is never requested."""
    page = _as_object(page, what)
    data = page.get("data")
    if not isinstance(data, list):
        raise GraphProtocolError(f"Graph API answered {what} without a data list")
    numbers = [phone_number(item) for item in data]
    paging = _object(page, "paging", what) if page.get("paging") is not None else {}
    cursors = _object(paging, "cursors", what) if paging.get("cursors") is not None else {}
    after = _optional_text(cursors, "after", what, CURSOR_MAX_LENGTH, numbers=True)
    has_next = paging.get("next") is not None
    return numbers, (after if has_next and after else None)


def expect_success(answer: dict[str, Any]) -> None:
    if answer.get("success") is not True:
        raise GraphProtocolError("Graph API answer did not report success")


# --- fields ---------------------------------------------------------------------------------------

def _object(container: dict[str, Any], name: str, what: str) -> dict[str, Any]:
    return _as_object(container.get(name), f"{what} {name}")


def _as_object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise GraphProtocolError(f"Graph API answered a malformed {what} (not an object)")
    return value


def _list(container: dict[str, Any], name: str, what: str) -> list[Any]:
    value = container.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise GraphProtocolError(f"Graph API answered a malformed {what} {name} (not a list)")
    return value


def _text(container: dict[str, Any], name: str, what: str, max_length: int) -> str:
    value = _optional_text(container, name, what, max_length)
    if value is None:
        raise GraphProtocolError(f"Graph API answered a {what} without {name}")
    return value


def _optional_text(container: dict[str, Any], name: str, what: str, max_length: int, *,
                   numbers: bool = False) -> str | None:
    value = container.get(name)
    if value is None:
        return None
    if numbers and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return _as_text(value, f"{what} {name}", max_length)


def _as_text(value: Any, what: str, max_length: int) -> str:
    if not isinstance(value, str):
        raise GraphProtocolError(f"Graph API answered a malformed {what} (not a string)")
    if len(value) > max_length:
        raise GraphProtocolError(f"Graph API answered a {what} longer than {max_length} characters")
    if CONTROL_CHARACTERS.search(value):
        raise GraphProtocolError(f"Graph API answered a {what} with control characters")
    return value


def _optional_id(container: dict[str, Any], name: str, what: str) -> str | None:
    value = container.get(name)
    return None if value is None else _as_id(value, f"{what} {name}")


def _as_id(value: Any, what: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        value = str(value)
    if not isinstance(value, str) or not META_ID.fullmatch(value):
        raise GraphProtocolError(f"Graph API answered a missing or malformed {what}")
    return value


def _error_text(value: Any) -> str:
    """Meta's error text, made safe to quote: bounded, without control characters."""
    return CONTROL_CHARACTERS.sub(" ", str(value if value is not None else ""))[:ERROR_MESSAGE_MAX_LENGTH]


def _optional_error_text(value: Any) -> str | None:
    return None if value is None else _error_text(value)


def _int_or(value: Any, default: int | None) -> int | None:
    if isinstance(value, bool):
        return default
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return default
