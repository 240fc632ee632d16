"""Local placeholder (not committed)."""
VERSION = 4


def upgrade(conn):
    pass
