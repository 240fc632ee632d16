"""Secrets generated per database at first use and kept in it: every replica and restart that
shares the database shares them, and none is a constant in the code."""

from __future__ import annotations

import secrets
import time

from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from wabalink.store.db import Query, Store
from wabalink.store.schema import service_secrets

_GET = Query(select(service_secrets.c.value).where(service_secrets.c.name == bindparam("name")))
_INSERT = Query(insert(service_secrets))


def get_or_create_secret(store: Store, name: str, size: int = 32) -> bytes:
    """The secret called `name`, created (random, `size` bytes) the first time it is asked for.
    Two replicas asking at once both end with the one that was stored first."""
    with store.reader() as cursor:
        found = cursor.scalar(_GET, name=name)
    if found is not None:
        return bytes(found)
    try:
        with store.writer() as cursor:
            cursor.run(_INSERT, name=name, value=secrets.token_bytes(size), created_at=time.time())
    except IntegrityError:
        pass  # another replica stored it first
    with store.reader() as cursor:
        return bytes(cursor.scalar(_GET, name=name))
