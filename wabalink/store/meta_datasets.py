"""The simulator's Conversions API datasets (one per WABA) and the conversion events they received."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Float, Index, Integer, String, Table, Text, bindparam, insert, select

from wabalink.store.db import Cursor, Query
from wabalink.store.schema import metadata

meta_datasets = Table(
    "meta_datasets",
    metadata,
    Column("id", String(20), primary_key=True),
    Column("waba_id", String(32), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("created_at", Float, nullable=False),
)

meta_conversion_events = Table(
    "meta_conversion_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset_id", String(20), nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("event_name", String(64), nullable=False),
    Column("event_time", Integer, nullable=False),
    Column("payload", Text, nullable=False),  # the event as received (JSON)
    Column("received_at", Float, nullable=False),
    Index("ix_meta_conversion_events_dataset", "dataset_id", "id"),
)

D, E = meta_datasets.c, meta_conversion_events.c
_INSERT_DATASET = Query(insert(meta_datasets))
_DATASET_OF_WABA = Query(select(meta_datasets).where(D.waba_id == bindparam("waba_id")))
_DATASET = Query(select(meta_datasets).where(D.id == bindparam("dataset_id")))
# The id is the database's own (autoincrement): every other column is given.
_INSERT_EVENT = Query(insert(meta_conversion_events).values(
    {name: bindparam(f"new_{name}") for name in ("dataset_id", "request_id", "event_name", "event_time", "payload",
                                                  "received_at")}))
_EVENTS = Query(select(meta_conversion_events).where(E.dataset_id == bindparam("dataset_id"))
                .order_by(E.id.desc()).limit(bindparam("limit")))


def dataset_of_waba(cursor: Cursor, waba_id: str) -> dict[str, Any] | None:
    return cursor.row(_DATASET_OF_WABA, waba_id=waba_id)


def get_dataset(cursor: Cursor, dataset_id: str) -> dict[str, Any] | None:
    return cursor.row(_DATASET, dataset_id=dataset_id)


def insert_dataset(cursor: Cursor, dataset_id: str, waba_id: str, name: str, now: float) -> None:
    cursor.run(_INSERT_DATASET, id=dataset_id, waba_id=waba_id, name=name, created_at=now)


def insert_event(cursor: Cursor, dataset_id: str, request_id: str, event_name: str, event_time: int,
                 payload: str, now: float) -> None:
    cursor.run(_INSERT_EVENT, new_dataset_id=dataset_id, new_request_id=request_id, new_event_name=event_name,
               new_event_time=event_time, new_payload=payload, new_received_at=now)


def recent_events(cursor: Cursor, dataset_id: str, limit: int) -> list[dict[str, Any]]:
    return cursor.rows(_EVENTS, dataset_id=dataset_id, limit=limit)
