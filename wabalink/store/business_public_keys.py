"""The service's record of the business public key it last put at Meta for a linked number: only
its fingerprint, so GetWhatsAppBusinessPublicKey can tell a key changed behind its back (MISMATCH)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Float, ForeignKey, String, Table, bindparam, delete, insert, select

from wabalink.store.db import Cursor, Query
from wabalink.store.schema import metadata

business_public_keys = Table(
    "business_public_keys",
    metadata,
    Column("phone_link_id", String(32), ForeignKey("linked_phone_numbers.id", ondelete="CASCADE"),
           primary_key=True),
    Column("key_sha256", String(64), nullable=False),  # of the PEM's DER SubjectPublicKeyInfo
    Column("kms_key_arn", String(256)),  # when the key came from KMS
    Column("put_at", Float, nullable=False),
)

B = business_public_keys.c
_GET = Query(select(business_public_keys).where(B.phone_link_id == bindparam("phone_link_id")))
_DELETE = Query(delete(business_public_keys).where(B.phone_link_id == bindparam("phone_link_id")))
_INSERT = Query(insert(business_public_keys))


def get_put_key(cursor: Cursor, phone_link_id: str) -> dict[str, Any] | None:
    return cursor.row(_GET, phone_link_id=phone_link_id)


def record_put_key(cursor: Cursor, phone_link_id: str, key_sha256: str, kms_key_arn: str | None, now: float) -> None:
    cursor.run(_DELETE, phone_link_id=phone_link_id)
    cursor.run(_INSERT, phone_link_id=phone_link_id, key_sha256=key_sha256, kms_key_arn=kms_key_arn, put_at=now)
