"""Step 3: an INCOMPLETE link remembers until when a phase-1 token can finalize it, so one never
finalized stops counting against the quota once that token expires."""

from __future__ import annotations

from sqlalchemy import Connection, text

VERSION = 3

# Links made before this step: as long as the default token lifetime from their creation.
_DEFAULT_TOKEN_LIFETIME_SECONDS = 3600


def upgrade(conn: Connection) -> None:
    conn.execute(text("ALTER TABLE linked_wabas ADD COLUMN pending_until FLOAT"))
    conn.execute(text("UPDATE linked_wabas SET pending_until = created_at + :lifetime "
                      "WHERE registration_status = 'INCOMPLETE'"), {"lifetime": _DEFAULT_TOKEN_LIFETIME_SECONDS})
