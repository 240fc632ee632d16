"""Step 10: an index of the open (pending or retrying) events by message, for delivery's claim.

The claim takes an event only when no earlier event of its message is still open (per-message order,
store/events.py). Without this index, PostgreSQL answered that NOT EXISTS by intersecting the
message index with every open event, once per candidate: 110 ms a claim with 4,000 open events,
against 2 ms with it."""

from __future__ import annotations

from sqlalchemy import Connection, text

VERSION = 10


def upgrade(conn: Connection) -> None:
    conn.execute(text("CREATE INDEX ix_events_open_message ON events (message_id) "
                      "WHERE state IN ('pending', 'retrying')"))
