"""Local placeholder (not committed)."""
VERSION = 6


def upgrade(conn):
    pass
