"""Step 4: reserved for another area's tables (numbered steps may not have gaps). Drop this file
when that area's own v0004 step is merged."""

from __future__ import annotations

from sqlalchemy import Connection

VERSION = 4


def upgrade(conn: Connection) -> None:
    return None
