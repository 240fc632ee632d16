"""The simulator's status scheduler on the store: a step applies every due status change, and a
message whose several statuses fall due in one step ends on the last of them, however the step's
rows of different messages interleave. On SQLite and PostgreSQL."""

from __future__ import annotations

import time
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from tests.support.postgres import migrated_store
from wabalink.meta.delivery import StatusScheduler
from wabalink.store import meta_messages as q
from wabalink.store.db import Query, Store
from wabalink.store.schema import complete_metadata


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with migrated_store(request.param, tmp_path) as opened:
        yield opened


def add_number_with_messages(store: Store, wamids: list[str]) -> None:
    tables = complete_metadata().tables
    with store.transaction() as conn:
        conn.execute(insert(tables["meta_businesses"]).values(id="B1", name="Biz", created_at=1.0))
        conn.execute(insert(tables["meta_wabas"]).values(id="W1", business_id="B1", name="WABA", currency="USD",
                                                         timezone_id="1", created_at=1.0))
        conn.execute(insert(tables["meta_phone_numbers"]).values(
            id="P1", waba_id="W1", display_phone_number="+1 555-010-0001", verified_name="Biz",
            quality_rating="GREEN", status="REGISTERED", updated_at=1.0))
        for wamid in wamids:
            conn.execute(insert(q.meta_messages).values(
                wamid=wamid, phone_number_id="P1", waba_id="W1", direction="outbound", user_wa_id="15550002222",
                type="text", content="{}", status="accepted", created_at=1.0, updated_at=1.0))


def statuses(store: Store) -> dict[str, tuple[str, int | None]]:
    with store.reader() as cursor:
        rows = cursor.tuples(Query(select(q.meta_messages.c.wamid, q.meta_messages.c.status,
                                          q.meta_messages.c.error_code)))
    return {row[0]: (row[1], row[2]) for row in rows}


def test_each_message_ends_on_its_last_due_status_of_a_step(store: Store) -> None:
    add_number_with_messages(store, ["wamid.A", "wamid.B", "wamid.C"])
    due = time.time() - 10
    with store.writer() as cursor:  # B's delivered first, then A's sent and delivered, C failing after sent
        cursor.insert_rows(q.meta_status_schedule, [
            {"wamid": "wamid.B", "status": "delivered", "due_at": due + 1, "error_code": None, "error_title": None},
            {"wamid": "wamid.A", "status": "sent", "due_at": due + 2, "error_code": None, "error_title": None},
            {"wamid": "wamid.C", "status": "sent", "due_at": due + 2.5, "error_code": None, "error_title": None},
            {"wamid": "wamid.A", "status": "delivered", "due_at": due + 3, "error_code": None, "error_title": None},
            {"wamid": "wamid.C", "status": "failed", "due_at": due + 4, "error_code": 131026,
             "error_title": "Message undeliverable"},
        ])
    sim = types.SimpleNamespace(store=store, app=types.SimpleNamespace(app_id="app"))
    StatusScheduler(sim).step()  # type: ignore[arg-type]
    assert statuses(store) == {"wamid.A": ("delivered", None), "wamid.B": ("delivered", None),
                               "wamid.C": ("failed", 131026)}
    with store.reader() as cursor:  # every applied change left the schedule
        assert cursor.scalar(q.FIRST_STATUS_DUE) is None
