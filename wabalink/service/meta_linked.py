"""What the Flows, datasets, public key and calling operations share: the caller's fully linked
WABA or phone number, and Meta's refusals turned into the errors these operations declare."""

from __future__ import annotations

from typing import Any

from wabalink.aws.exceptions import (
    AccessDeniedByMetaException,
    ConflictException,
    InvalidParametersException,
    ResourceNotFoundException,
    ThrottledRequestException,
)
from wabalink.meta.client import GraphApiError
from wabalink.service.meta_errors import meta_errors
from wabalink.service.operations import RequestContext
from wabalink.service.ownership import owned_phone, owned_waba
from wabalink.store import links
from wabalink.store.db import Cursor

Row = dict[str, Any]
UNKNOWN_OBJECT_SUBCODE = 33
UNKNOWN_PATH = 2500  # a path (or Graph version) Meta does not serve
RATE_LIMIT_CODES = frozenset({4, 80007, 130429, 138005})
CALL_CONFLICT_CODES = frozenset({138003, 138004})
NO_CALL_PERMISSION = 138006


def complete_waba(conn: Cursor, ctx: RequestContext, value: str, field: str) -> Row:
    """The caller's linked WABA, finalized (COMPLETE)."""
    waba = owned_waba(conn, ctx, value, field, missing=ResourceNotFoundException)
    if waba["registration_status"] != "COMPLETE":
        raise InvalidParametersException(
            f"{field}: linked WhatsApp Business Account {value} is not fully linked yet (INCOMPLETE); finish "
            "AssociateWhatsAppBusinessAccount with setupFinalization first.")
    return waba


def linked_phone(conn: Cursor, ctx: RequestContext, value: str, field: str) -> Row:
    """The caller's linked phone number (linked numbers belong to a finalized WABA) and its WABA."""
    phone = owned_phone(conn, ctx, value, field, missing=ResourceNotFoundException)
    waba = links.get_waba(conn, ctx.account_id, ctx.region, phone["waba_link_id"])
    if waba is None or waba["registration_status"] != "COMPLETE":
        raise InvalidParametersException(f"{field}: phone number {value} belongs to a WhatsApp Business Account "
                                         "that is not fully linked yet; finish AssociateWhatsAppBusinessAccount.")
    return {**phone, "waba": waba}


class meta_refusals(meta_errors):
    """Graph errors of these operations: an unknown object is ResourceNotFoundException naming
    `not_found` (what was looked up); Meta refusing the request (invalid parameter, a Flow life
    cycle refusal) is InvalidParametersException naming `field`; permissions are
    AccessDeniedByMetaException; rate limits ThrottledRequestException; a conflicting call state
    ConflictException (only where declared: `conflicts=True`). Anything else: as `meta_errors`."""

    def __init__(self, field: str, *, not_found: str | None = None, conflicts: bool = False,
                 unknown_path: str | None = None) -> None:
        super().__init__(field)
        self.not_found = not_found or field
        self.conflicts = conflicts
        self.unknown_path = unknown_path  # the field naming the Graph version, for versioned calls

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, GraphApiError) and not exc.is_token_error and not exc.is_server_error:
            message = exc.message.removeprefix("(#100) ")
            if exc.code == UNKNOWN_PATH and self.unknown_path:
                raise InvalidParametersException(f"{self.unknown_path}: Meta does not serve this Graph API version "
                                                 f"({message}).") from None
            if exc.error_subcode == UNKNOWN_OBJECT_SUBCODE:
                raise ResourceNotFoundException(f"{self.not_found} was not found at Meta: {message}") from None
            if self.conflicts and exc.code in CALL_CONFLICT_CODES:
                raise ConflictException(f"{self.field}: {message}") from None
            if exc.code in RATE_LIMIT_CODES:
                raise ThrottledRequestException(f"{self.field}: Meta's limit was reached: {message}") from None
            if exc.is_permission_error or exc.code == NO_CALL_PERMISSION:
                raise AccessDeniedByMetaException(f"{self.field}: Meta denied it: {message}") from None
            raise InvalidParametersException(f"{self.field}: Meta refused it: {message}") from None
        super().__exit__(exc_type, exc, tb)
