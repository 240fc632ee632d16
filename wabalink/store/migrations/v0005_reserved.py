"""Step 5: reserved for another area's tables (numbered steps may not have gaps). Drop this file
when that area's own v0005 step is merged."""

from __future__ import annotations

from sqlalchemy import Connection

VERSION = 5


def upgrade(conn: Connection) -> None:
    return None
