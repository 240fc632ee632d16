"""Local placeholder (not committed)."""
VERSION = 7


def upgrade(conn):
    pass
