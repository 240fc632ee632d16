"""The simulator's business public keys (Flows data-exchange encryption), one per phone number,
with Meta's signature over it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Float, String, Table, Text, bindparam, delete, insert, select

from wabalink.store.db import Cursor, Query
from wabalink.store.schema import metadata

meta_business_public_keys = Table(
    "meta_business_public_keys",
    metadata,
    Column("phone_id", String(32), primary_key=True),
    Column("public_key", Text, nullable=False),  # PEM
    Column("signature", String(64), nullable=False),  # hex HMAC-SHA256: see meta/public_keys.py
    Column("updated_at", Float, nullable=False),
)

K = meta_business_public_keys.c
_GET = Query(select(meta_business_public_keys).where(K.phone_id == bindparam("phone_id")))
_DELETE = Query(delete(meta_business_public_keys).where(K.phone_id == bindparam("phone_id")))
_INSERT = Query(insert(meta_business_public_keys))


def get_key(cursor: Cursor, phone_id: str) -> dict[str, Any] | None:
    return cursor.row(_GET, phone_id=phone_id)


def put_key(cursor: Cursor, phone_id: str, public_key: str, signature: str, now: float) -> None:
    cursor.run(_DELETE, phone_id=phone_id)
    cursor.run(_INSERT, phone_id=phone_id, public_key=public_key, signature=signature, updated_at=now)
