"""Finding the caller's own linked resources by id or ARN, with errors that say what was expected.

An id always names the caller's own resource; an ARN must name the caller's account and region.
Anything else is "not found" with the error class the operation declares (`missing`), and, when the
value is a Meta id where an AWS id is expected, a hint saying which id goes where."""

from __future__ import annotations

from typing import Any

from wabalink.aws.errors import AwsError
from wabalink.aws.exceptions import InvalidParametersException
from wabalink.service import ids
from wabalink.service.operations import RequestContext
from wabalink.store import links
from wabalink.store.db import Cursor

Row = dict[str, Any]


def owned_hex_id(value: str, kind: str, ctx: RequestContext) -> str | None:
    """The 32 hex digits of the caller's resource of `kind` ("waba", "phone-number-id") that
    `value` names by id or ARN; None when it names anything else."""
    ref = ids.parse_resource(value)
    if ref is None or ref.kind != kind:
        return None
    if ref.region is not None and (ref.region != ctx.region or ref.account_id != ctx.account_id):
        return None
    return ref.hex_id


def owned_waba(conn: Cursor, ctx: RequestContext, value: str, field: str, missing: type[AwsError]) -> Row:
    hex_id = owned_hex_id(value, "waba", ctx)
    waba = links.get_waba(conn, ctx.account_id, ctx.region, hex_id) if hex_id is not None else None
    if waba is None:
        raise missing(waba_not_found(field, value))
    return waba


def owned_phone(conn: Cursor, ctx: RequestContext, value: str, field: str, missing: type[AwsError], *,
                linked_only: bool = True) -> Row:
    """The caller's phone number; with `linked_only=False` also one discovered by a phase 1 that was
    never finalized (its row says `linked`), so the caller can say that rather than "not found"."""
    hex_id = owned_hex_id(value, "phone-number-id", ctx)
    phone = links.get_phone(conn, ctx.account_id, ctx.region, hex_id) if hex_id is not None else None
    if phone is None or (linked_only and not phone["linked"]):
        raise missing(phone_not_found(field, value))
    return phone


def taggable_arn(conn: Cursor, ctx: RequestContext, arn: str) -> str:
    """The canonical ARN of the caller's linked WABA or phone number that `arn` names."""
    ref = ids.parse_resource(arn)
    if ref is None or ref.region is None:
        raise InvalidParametersException(
            f"resourceArn {arn} is not the ARN of a linked WhatsApp Business Account or phone number; "
            "ListLinkedWhatsAppBusinessAccounts shows their ARNs (arn:aws:social-messaging:...).")
    if ref.kind == "waba":
        owned_waba(conn, ctx, arn, "resourceArn", missing=InvalidParametersException)
        return ids.waba_arn(ctx.region, ctx.account_id, ref.hex_id)
    owned_phone(conn, ctx, arn, "resourceArn", missing=InvalidParametersException)
    return ids.phone_number_arn(ctx.region, ctx.account_id, ref.hex_id)


def waba_not_found(field: str, value: str) -> str:
    message = f"{field}: linked WhatsApp Business Account {value} was not found."
    if value.isdigit():
        message += (" That looks like Meta's WABA id; this field takes the linked id (waba-<32 hex digits>) "
                    "or its ARN, which ListLinkedWhatsAppBusinessAccounts shows as id and arn.")
    return message


def phone_not_found(field: str, value: str) -> str:
    message = f"{field}: linked phone number {value} was not found."
    if value.isdigit():
        message += (" That looks like Meta's phone number id; this field takes the linked id "
                    "(phone-number-id-<32 hex digits>) or its ARN, which GetLinkedWhatsAppBusinessAccount "
                    "shows as phoneNumberId and arn.")
    elif value.startswith("+"):
        message += (" That looks like a phone number; this field takes the linked id "
                    "(phone-number-id-<32 hex digits>) or its ARN.")
    return message
