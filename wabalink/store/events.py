"""The event log and outbox: every event for a WABA's event destination, with its delivery state.

An event is written in the same transaction as the change that causes it. `seq` orders events
(per AWS messageId, delivery keeps it); `state` is pending | retrying | delivered | dead, plus
`undeliverable` (the destination is an Amazon Connect instance, which wabalink cannot reach) and
`no_destination` (the WABA had no event destination when the event happened). Workers claim due
events with a lease (`claimed_until`), so a killed replica's claims expire; on PostgreSQL the claim
is `SELECT ... FOR UPDATE SKIP LOCKED`.
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
    case,
    exists,
    insert,
    literal_column,
    or_,
    select,
    text,
    update,
)

from wabalink.store.db import Cursor, InListQuery, Query
from wabalink.store.schema import metadata

Row = dict[str, Any]

PENDING, RETRYING, DELIVERED, DEAD = "pending", "retrying", "delivered", "dead"
UNDELIVERABLE, NO_DESTINATION = "undeliverable", "no_destination"
STATES = (PENDING, RETRYING, DELIVERED, DEAD, UNDELIVERABLE, NO_DESTINATION)
OPEN_STATES = (PENDING, RETRYING)
_OPEN_SQL = f"state IN ('{PENDING}', '{RETRYING}')"

events = Table(
    "events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),  # stable event id (UUID)
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("waba_link_id", String(32), nullable=False),
    Column("phone_link_id", String(32)),
    Column("message_id", String(36), nullable=False),  # the envelope's messageId
    Column("wamid", String(200)),
    Column("kind", String(64), nullable=False),
    Column("envelope", Text, nullable=False),  # the SNS Message, exactly
    Column("destinations", Text, nullable=False),  # JSON snapshot of the WABA's event destinations
    Column("dedupe_key", String(100), unique=True),  # webhook changes: sha256 of entry id + change + link
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("next_attempt_at", Float, nullable=False),
    Column("claimed_until", Float, nullable=False, default=0.0),
    Column("created_at", Float, nullable=False),
    Column("delivered_at", Float),
    Index("ix_events_due", "state", "next_attempt_at"),
    Index("ix_events_message", "message_id", "seq"),
    Index("ix_events_owner", "account_id", "waba_link_id", "seq"),
    # The open events of a message: the claim's "nothing earlier still open" test (migration 10).
    Index("ix_events_open_message", "message_id", postgresql_where=text(_OPEN_SQL), sqlite_where=text(_OPEN_SQL)),
)

E = events.c
_EARLIER = events.alias("earlier")

# Where an event stands among its message's events: its hand-over, then sent < delivered (or failed)
# < read, then anything else; equal ranks keep the log's order. Delivery follows (rank, seq), so a
# status recorded before an earlier one (Meta retries out of order) is still published after it.
KIND_RANKS = {"handover_succeeded": 0, "handover_failed": 0, "status_sent": 1, "status_delivered": 2,
              "status_failed": 2, "status_read": 3}
OTHER_RANK = 4
# The status a status waits for (held up to a bound, service/webhooks.py) when it arrives first.
PREDECESSORS = {"status_delivered": "status_sent", "status_read": "status_delivered"}


def _rank(columns: Any) -> Any:
    return case(KIND_RANKS, value=columns.kind, else_=OTHER_RANK)


def _open(columns: Any) -> Any:
    # A literal IN list: a compiled-once statement cannot expand a bound one, and an OR of two
    # comparisons keeps SQLite from using the (state, ...) index.
    return columns.state.in_([literal_column(f"'{PENDING}'"), literal_column(f"'{RETRYING}'")])


_INSERT = Query(insert(events).values({column.name: bindparam(column.name) for column in events.columns
                                       if column.name != "seq"}))
# Due events whose message has no preceding event (by rank, then seq) still open: per-message order.
_CLAIMABLE = (select(events).where(
    _open(E), E.next_attempt_at <= bindparam("now"), E.claimed_until < bindparam("now"),
    ~exists().where(_EARLIER.c.message_id == E.message_id, _EARLIER.c.seq != E.seq, _open(_EARLIER.c),
                    or_(_rank(_EARLIER.c) < _rank(E), and_(_rank(_EARLIER.c) == _rank(E), _EARLIER.c.seq < E.seq))),
).limit(bindparam("limit")))  # no ORDER BY: the (state, next_attempt_at) index is the order
_CLAIM_SELECT = Query(_CLAIMABLE.with_for_update(skip_locked=True, of=events))
# Claims and deliveries touch a round's events in one statement each (cursor.run_in).
_SET_CLAIM = InListQuery("UPDATE events SET claimed_until = :until WHERE seq {IN}", element="BIGINT")
_DELIVERED = InListQuery(
    f"UPDATE events SET state = '{DELIVERED}', attempts = attempts + 1, delivered_at = :now, claimed_until = 0, "
    "last_error = NULL WHERE seq {IN}", element="BIGINT")
_FAILED = Query(update(events).where(E.seq == bindparam("key")).values(
    state=bindparam("state"), attempts=E.attempts + 1, last_error=bindparam("last_error"),
    next_attempt_at=bindparam("next_attempt_at"), claimed_until=0.0))
_REPLAY = Query(update(events).where(E.id == bindparam("id")).values(
    state=PENDING, next_attempt_at=bindparam("now"), claimed_until=0.0, last_error=None, delivered_at=None))
_GET = Query(select(events).where(E.id == bindparam("id")))
# Held successors (never attempted, not yet due) of a status just recorded become due now.
_RELEASE = Query(update(events).where(
    E.message_id == bindparam("message_id"), E.kind == bindparam("kind"), _open(E), E.attempts == 0,
    E.next_attempt_at > bindparam("now")).values(next_attempt_at=bindparam("now")))
_NEXT_DUE = Query(select(E.next_attempt_at).where(_open(E))
                  .order_by(E.next_attempt_at).limit(1))


_EXISTING_DEDUPE_KEYS = InListQuery("SELECT dedupe_key FROM events WHERE dedupe_key {IN}")
_EVENTS_OF_MESSAGES = InListQuery(
    "SELECT message_id, kind, state, attempts, next_attempt_at FROM events WHERE message_id {IN}")


def _full_row(row: Row) -> Row:
    return {"attempts": 0, "last_error": None, "claimed_until": 0.0, "delivered_at": None,
            "phone_link_id": None, "wamid": None, "dedupe_key": None, **row}


def insert_event(cursor: Cursor, row: Row) -> None:
    cursor.run(_INSERT, **_full_row(row))


def insert_events(cursor: Cursor, rows: list[Row]) -> None:
    """Several events in one statement, in list order (their seq)."""
    cursor.insert_rows(events, [_full_row(row) for row in rows])


def existing_dedupe_keys(cursor: Cursor, keys: list[str]) -> set[str]:
    """Those of `keys` some recorded event already has."""
    return {row[0] for row in cursor.tuples_in(_EXISTING_DEDUPE_KEYS, keys)}


def events_of_messages(cursor: Cursor, message_ids: list[str]) -> list[Row]:
    """Every event of these AWS messageIds: message_id, kind, state, attempts, next_attempt_at."""
    return [{"message_id": row[0], "kind": row[1], "state": row[2], "attempts": row[3], "next_attempt_at": row[4]}
            for row in cursor.tuples_in(_EVENTS_OF_MESSAGES, message_ids)]


def release_held(cursor: Cursor, message_id: str, kind: str, now: float) -> int:
    """The message's `kind` events held waiting for their predecessor (just recorded) become due now."""
    return cursor.run(_RELEASE, message_id=message_id, kind=kind, now=now)


def claim_due(cursor: Cursor, now: float, lease_until: float, limit: int) -> list[Row]:
    """Due events, held by the caller until `lease_until` (inside the caller's writer)."""
    rows = cursor.rows(_CLAIM_SELECT, now=now, limit=limit)
    cursor.run_in(_SET_CLAIM, [row["seq"] for row in rows], until=lease_until)
    return rows


def mark_delivered(cursor: Cursor, seq: int, now: float) -> None:
    cursor.run_in(_DELIVERED, [seq], now=now)


def mark_all_delivered(cursor: Cursor, seqs: list[int], now: float) -> None:
    if seqs:  # a round where nothing was published: no statement at all
        cursor.run_in(_DELIVERED, seqs, now=now)


def mark_failed(cursor: Cursor, seq: int, state: str, last_error: str, next_attempt_at: float) -> None:
    cursor.run(_FAILED, key=seq, state=state, last_error=last_error[:1000], next_attempt_at=next_attempt_at)


def replay(cursor: Cursor, event_id: str, now: float) -> Row | None:
    if cursor.run(_REPLAY, id=event_id, now=now) != 1:
        return None
    return cursor.row(_GET, id=event_id)


def get_event(cursor: Cursor, event_id: str) -> Row | None:
    return cursor.row(_GET, id=event_id)


def next_due_at(cursor: Cursor) -> float | None:
    return cursor.scalar(_NEXT_DUE)


def list_events(cursor: Cursor, *, account_id: str | None, waba_link_id: str | None, message_id: str | None,
                state: str | None, after_seq: int, limit: int) -> list[Row]:
    """Events in the order they happened, after `after_seq`; filters are ANDed. Built per call:
    the combination of filters varies, and this is an operator's view, not a hot path."""
    conditions = [E.seq > after_seq]
    for column, value in ((E.account_id, account_id), (E.waba_link_id, waba_link_id),
                          (E.message_id, message_id), (E.state, state)):
        if value is not None:
            conditions.append(column == value)
    return cursor.rows(Query(select(events).where(and_(*conditions)).order_by(E.seq).limit(limit)))


__all__ = ["events", "KIND_RANKS", "PREDECESSORS", "STATES", "OPEN_STATES", "PENDING", "RETRYING", "DELIVERED",
           "DEAD", "UNDELIVERABLE", "NO_DESTINATION"]
