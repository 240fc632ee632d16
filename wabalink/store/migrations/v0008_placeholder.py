"""Local placeholder (not committed)."""
VERSION = 8


def upgrade(conn):
    pass
