"""Local placeholder (not committed)."""
VERSION = 5


def upgrade(conn):
    pass
