"""Messages sent through SendWhatsAppMessage: the hand-over outbox.

A row is written with the answer's messageId in the same transaction that accepts the call; the
hand-over worker claims it (`state` queued -> sending, `attempts` + 1, a lease in `claimed_until`),
calls Meta, and records the outcome (handed_over with Meta's wamid, or failed) together with its
event. A row left in `sending` by a killed process is claimed again once its lease expires: Meta has
no idempotency key, so that message may reach Meta twice (the at-least-once window between Meta's
answer and our commit).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    bindparam,
    insert,
    literal_column,
    or_,
    select,
    update,
)

from wabalink.store.db import Cursor, InListQuery, Query
from wabalink.store.schema import metadata

Row = dict[str, Any]

QUEUED, SENDING, HANDED_OVER, FAILED = "queued", "sending", "handed_over", "failed"

sent_messages = Table(
    "sent_messages",
    metadata,
    Column("id", String(36), primary_key=True),  # the AWS messageId (UUID)
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("waba_link_id", String(32), nullable=False),
    Column("phone_link_id", String(32), nullable=False),
    Column("meta_phone_number_id", String(100), nullable=False),
    Column("meta_api_version", String(16), nullable=False),
    Column("body", Text, nullable=False),  # Meta's message JSON; never logged
    Column("state", String(16), nullable=False),  # queued | sending | handed_over | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("claimed_until", Float, nullable=False),  # who holds it until when (queued: grace for the direct path)
    Column("wamid", String(200)),
    Column("created_at", Float, nullable=False),
    Column("handed_over_at", Float),
    Index("ix_sent_messages_wamid", "wamid"),
    Index("ix_sent_messages_outbox", "state", "claimed_until"),
)

M = sent_messages.c

_INSERT = Query(insert(sent_messages))
_CLAIM = Query(update(sent_messages).where(
    M.id == bindparam("key"),
    or_(M.state == QUEUED, M.state == SENDING),
    or_(M.attempts == bindparam("attempts_seen"), M.claimed_until < bindparam("now")),
).values(state=SENDING, attempts=M.attempts + 1, claimed_until=bindparam("until")).returning(*sent_messages.c))
_GET = Query(select(sent_messages).where(M.id == bindparam("key")))
_FINISH = Query(update(sent_messages).where(M.id == bindparam("key"), M.state == SENDING).values(
    state=bindparam("state"), wamid=bindparam("wamid"), handed_over_at=bindparam("now")))
_RELEASE = Query(update(sent_messages).where(M.id == bindparam("key"), M.state == SENDING).values(
    claimed_until=bindparam("until")))
# A literal IN and no ORDER BY, so SQLite searches the (state, claimed_until) index instead of
# scanning every message ever sent.
_DUE = Query(select(M.id, M.attempts).where(
    M.state.in_([literal_column(f"'{QUEUED}'"), literal_column(f"'{SENDING}'")]), M.claimed_until < bindparam("now"),
).limit(bindparam("limit")))
_BY_WAMID = Query(select(M.id).where(and_(
    M.wamid == bindparam("wamid"), M.waba_link_id == bindparam("waba_link_id"))).limit(1))
_IN_FLIGHT = Query(select(M.id).where(
    M.waba_link_id == bindparam("waba_link_id"), M.meta_phone_number_id == bindparam("meta_phone_number_id"),
    M.state == SENDING).limit(1))


def insert_message(cursor: Cursor, row: Row) -> None:
    cursor.run(_INSERT, **{"attempts": 0, "wamid": None, "handed_over_at": None, **row})


def claim(cursor: Cursor, message_id: str, attempts_seen: int, now: float, until: float) -> Row | None:
    """The message, now held by the caller until `until`; None when another worker holds it, or
    it is done. `attempts_seen` is what the caller saw: a queued row fresh from SendWhatsAppMessage
    is claimable at once by its own process, a stale one only once its lease expired."""
    return cursor.row(_CLAIM, key=message_id, attempts_seen=attempts_seen, now=now, until=until)


def finish(cursor: Cursor, message_id: str, state: str, wamid: str | None, now: float) -> bool:
    return cursor.run(_FINISH, key=message_id, state=state, wamid=wamid, now=now) == 1


def release(cursor: Cursor, message_id: str, until: float) -> None:
    """Meta could not be reached: try again after `until`."""
    cursor.run(_RELEASE, key=message_id, until=until)


def due_messages(cursor: Cursor, now: float, limit: int) -> list[tuple[str, int]]:
    """Messages nobody holds: never claimed, or claimed by a process that died or gave up for now."""
    return [(row[0], int(row[1])) for row in cursor.tuples(_DUE, now=now, limit=limit)]


_BY_WAMIDS = InListQuery("SELECT wamid, id FROM sent_messages WHERE waba_link_id = :waba_link_id AND wamid {IN}")


def message_ids_for_wamids(cursor: Cursor, waba_link_id: str, wamids: list[str]) -> dict[str, str]:
    """wamid -> AWS messageId, for those of `wamids` sent through SendWhatsAppMessage."""
    return {row[0]: row[1] for row in cursor.tuples_in(_BY_WAMIDS, wamids, waba_link_id=waba_link_id)}


def message_id_for_wamid(cursor: Cursor, waba_link_id: str, wamid: str) -> str | None:
    return cursor.scalar(_BY_WAMID, wamid=wamid, waba_link_id=waba_link_id)


def hand_over_in_flight(cursor: Cursor, waba_link_id: str, meta_phone_number_id: str) -> bool:
    """Some message of this number is at Meta, its wamid not yet recorded."""
    return cursor.scalar(_IN_FLIGHT, waba_link_id=waba_link_id, meta_phone_number_id=meta_phone_number_id) is not None


def get_message(cursor: Cursor, message_id: str) -> Row | None:
    return cursor.row(_GET, key=message_id)
