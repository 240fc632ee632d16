"""The simulator's WhatsApp calling: each end user's call permission per business number (set in
the sandbox, as the user's answer to a permission request) and the calls themselves."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Float, Index, String, Table, bindparam, delete, func, insert, or_, select, update

from wabalink.store.db import Cursor, Query
from wabalink.store.schema import metadata

meta_call_permissions = Table(
    "meta_call_permissions",
    metadata,
    Column("phone_id", String(32), primary_key=True),
    Column("user_id", String(100), primary_key=True),
    Column("status", String(20), nullable=False),  # temporary | permanent (no row: no_permission)
    Column("expires_at", Float),  # temporary permissions only
    Column("updated_at", Float, nullable=False),
)

meta_calls = Table(
    "meta_calls",
    metadata,
    Column("id", String(64), primary_key=True),  # wacid.<...>
    Column("phone_id", String(32), nullable=False),
    Column("user_id", String(100), nullable=False),
    Column("direction", String(24), nullable=False),  # BUSINESS_INITIATED | USER_INITIATED
    Column("status", String(16), nullable=False),  # RINGING | PRE_ACCEPTED | ACCEPTED | REJECTED | TERMINATED
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_meta_calls_user", "phone_id", "user_id", "status"),
)

P, C = meta_call_permissions.c, meta_calls.c
ACTIVE_STATUSES = ("RINGING", "PRE_ACCEPTED", "ACCEPTED")

_PERMISSION = Query(select(meta_call_permissions).where(
    P.phone_id == bindparam("phone_id"), P.user_id == bindparam("user_id")))
_DELETE_PERMISSION = Query(delete(meta_call_permissions).where(
    P.phone_id == bindparam("phone_id"), P.user_id == bindparam("user_id")))
_INSERT_PERMISSION = Query(insert(meta_call_permissions))
_INSERT_CALL = Query(insert(meta_calls))
_CALL = Query(select(meta_calls).where(C.id == bindparam("call_id")))
_ACTIVE_CALL = Query(select(meta_calls).where(
    C.phone_id == bindparam("phone_id"), C.user_id == bindparam("user_id"),
    or_(*(C.status == status for status in ACTIVE_STATUSES))).limit(1))  # (IN would need expanding binds)
_SET_STATUS = Query(update(meta_calls).where(C.id == bindparam("call_id")).values(
    status=bindparam("status"), updated_at=bindparam("updated_at")))
_STARTED_SINCE = Query(select(func.count()).select_from(meta_calls).where(
    C.phone_id == bindparam("phone_id"), C.user_id == bindparam("user_id"),
    C.direction == "BUSINESS_INITIATED", C.created_at >= bindparam("since")))
_OLDEST_STARTED_SINCE = Query(select(func.min(C.created_at)).where(
    C.phone_id == bindparam("phone_id"), C.user_id == bindparam("user_id"),
    C.direction == "BUSINESS_INITIATED", C.created_at >= bindparam("since")))


def get_permission(cursor: Cursor, phone_id: str, user_id: str) -> dict[str, Any] | None:
    return cursor.row(_PERMISSION, phone_id=phone_id, user_id=user_id)


def set_permission(cursor: Cursor, phone_id: str, user_id: str, status: str | None,
                   expires_at: float | None, now: float) -> None:
    """Replaces the user's answer; status None revokes it."""
    cursor.run(_DELETE_PERMISSION, phone_id=phone_id, user_id=user_id)
    if status is not None:
        cursor.run(_INSERT_PERMISSION, phone_id=phone_id, user_id=user_id, status=status,
                   expires_at=expires_at, updated_at=now)


def insert_call(cursor: Cursor, call_id: str, phone_id: str, user_id: str, direction: str, now: float) -> None:
    cursor.run(_INSERT_CALL, id=call_id, phone_id=phone_id, user_id=user_id, direction=direction,
               status="RINGING", created_at=now, updated_at=now)


def get_call(cursor: Cursor, call_id: str) -> dict[str, Any] | None:
    return cursor.row(_CALL, call_id=call_id)


def active_call(cursor: Cursor, phone_id: str, user_id: str) -> dict[str, Any] | None:
    return cursor.row(_ACTIVE_CALL, phone_id=phone_id, user_id=user_id)


def set_call_status(cursor: Cursor, call_id: str, status: str, now: float) -> None:
    cursor.run(_SET_STATUS, call_id=call_id, status=status, updated_at=now)


def calls_started_since(cursor: Cursor, phone_id: str, user_id: str, since: float) -> tuple[int, float | None]:
    """How many business-initiated calls to the user since `since`, and when the oldest was."""
    count = int(cursor.scalar(_STARTED_SINCE, phone_id=phone_id, user_id=user_id, since=since))
    oldest = cursor.scalar(_OLDEST_STARTED_SINCE, phone_id=phone_id, user_id=user_id, since=since)
    return count, oldest
