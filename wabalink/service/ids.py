"""Linked identifiers and ARNs.

A linked WABA is `waba-<32 hex>` with ARN `arn:aws:social-messaging:{region}:{account}:waba/<32 hex>`;
a linked phone number is `phone-number-id-<32 hex>` with ARN `...:phone-number-id/<32 hex>`. Wherever
the model accepts an id it accepts the ARN too, so every lookup goes through `parse_*`.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass

WABA_PREFIX = "waba-"
PHONE_PREFIX = "phone-number-id-"
_HEX32 = re.compile(r"[0-9a-f]{32}")
_ARN = re.compile(r"arn:aws[a-z-]*:social-messaging:(?P<region>[^:]*):(?P<account>[^:]*):(?P<kind>waba|phone-number-id)/(?P<hex>[0-9a-zA-Z]+)")


def new_hex_id() -> str:
    return secrets.token_hex(16)


def new_uuid() -> str:
    """A random (version 4) UUID string, as AWS's messageIds and request ids are: the same text
    `str(uuid.uuid4())` gives, at a fraction of its cost (it runs several times per message)."""
    digits = os.urandom(16).hex()
    variant = "89ab"[int(digits[16], 16) & 3]
    return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{variant}{digits[17:20]}-{digits[20:]}"


def waba_id(hex_id: str) -> str:
    return WABA_PREFIX + hex_id


def phone_number_id(hex_id: str) -> str:
    return PHONE_PREFIX + hex_id


def waba_arn(region: str, account_id: str, hex_id: str) -> str:
    return f"arn:aws:social-messaging:{region}:{account_id}:waba/{hex_id}"


def phone_number_arn(region: str, account_id: str, hex_id: str) -> str:
    return f"arn:aws:social-messaging:{region}:{account_id}:phone-number-id/{hex_id}"


@dataclass(frozen=True)
class ResourceRef:
    kind: str  # "waba" | "phone-number-id"
    hex_id: str
    region: str | None = None  # set when given as an ARN
    account_id: str | None = None


def parse_resource(value: str) -> ResourceRef | None:
    """An id (`waba-...`, `phone-number-id-...`) or ARN of either kind; None when it is neither."""
    if value.startswith(WABA_PREFIX):
        hex_id = value[len(WABA_PREFIX):]
        return ResourceRef("waba", hex_id) if _HEX32.fullmatch(hex_id) else None
    if value.startswith(PHONE_PREFIX):
        hex_id = value[len(PHONE_PREFIX):]
        return ResourceRef("phone-number-id", hex_id) if _HEX32.fullmatch(hex_id) else None
    match = _ARN.fullmatch(value)
    if not match or not _HEX32.fullmatch(match["hex"]):
        return None
    return ResourceRef(match["kind"], match["hex"], match["region"], match["account"])
