"""The simulator's WhatsApp Flows: one row per flow of a WABA, holding Meta's own content (the flow
JSON, its validation errors, the preview link). The service keeps nothing of it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    delete,
    insert,
    select,
    update,
)

from wabalink.store.db import Cursor, Query
from wabalink.store.schema import metadata

meta_flows = Table(
    "meta_flows",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("waba_id", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    Column("categories", Text, nullable=False),  # JSON list
    Column("status", String(16), nullable=False),  # DRAFT | PUBLISHED | DEPRECATED | BLOCKED | THROTTLED
    Column("flow_json", Text),  # None until assets are uploaded
    Column("json_version", String(10)),
    Column("data_api_version", String(10)),
    Column("endpoint_uri", String(2048)),
    Column("validation_errors", Text, nullable=False),  # JSON list of Meta's error objects
    Column("app_id", String(100), nullable=False),
    Column("preview_token", String(64)),
    Column("preview_expires_at", Float),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("waba_id", "name", name="uq_meta_flows_name"),
    Index("ix_meta_flows_waba", "waba_id", "id"),
    Index("ix_meta_flows_preview", "preview_token"),
)

F = meta_flows.c
_INSERT = Query(insert(meta_flows))
_GET = Query(select(meta_flows).where(F.id == bindparam("flow_id")))
_GET_FOR_UPDATE = Query(select(meta_flows).where(F.id == bindparam("flow_id")).with_for_update())
_BY_NAME = Query(select(F.id).where(F.waba_id == bindparam("waba_id"), F.name == bindparam("flow_name")))
_BY_PREVIEW = Query(select(meta_flows).where(F.preview_token == bindparam("token")))
_DELETE = Query(delete(meta_flows).where(F.id == bindparam("flow_id")))
_PAGE_FIRST = Query(select(meta_flows).where(F.waba_id == bindparam("waba_id"))
                    .order_by(F.id).limit(bindparam("limit")))
_PAGE_AFTER = Query(select(meta_flows).where(F.waba_id == bindparam("waba_id"), F.id > bindparam("after_id"))
                    .order_by(F.id).limit(bindparam("limit")))
_UPDATABLE = ("name", "categories", "status", "flow_json", "json_version", "data_api_version", "endpoint_uri",
              "validation_errors", "app_id", "preview_token", "preview_expires_at", "updated_at")
_UPDATE = Query(update(meta_flows).where(F.id == bindparam("flow_id")).values(
    {name: bindparam(name) for name in _UPDATABLE}))


@dataclass(frozen=True)
class FlowRecord:
    id: str
    waba_id: str
    name: str
    categories: list[str]
    status: str
    flow_json: str | None
    json_version: str | None
    data_api_version: str | None
    endpoint_uri: str | None
    validation_errors: list[dict[str, Any]]
    app_id: str
    preview_token: str | None
    preview_expires_at: float | None
    created_at: float
    updated_at: float

    def row(self) -> dict[str, Any]:
        values = dict(vars(self))
        values["categories"] = json.dumps(self.categories)
        values["validation_errors"] = json.dumps(self.validation_errors)
        return values


def _record(row: dict[str, Any] | None) -> FlowRecord | None:
    if row is None:
        return None
    values = dict(row)
    values["categories"] = json.loads(values["categories"])
    values["validation_errors"] = json.loads(values["validation_errors"])
    return FlowRecord(**values)


def get_flow(cursor: Cursor, flow_id: str, *, for_update: bool = False) -> FlowRecord | None:
    return _record(cursor.row(_GET_FOR_UPDATE if for_update else _GET, flow_id=flow_id))


def flow_by_preview_token(cursor: Cursor, token: str) -> FlowRecord | None:
    return _record(cursor.row(_BY_PREVIEW, token=token))


def name_taken(cursor: Cursor, waba_id: str, name: str, *, other_than: str | None = None) -> bool:
    found = cursor.scalar(_BY_NAME, waba_id=waba_id, flow_name=name)
    return found is not None and found != other_than


def insert_flow(cursor: Cursor, flow: FlowRecord) -> None:
    cursor.run(_INSERT, **flow.row())


def save_flow(cursor: Cursor, flow: FlowRecord) -> None:
    values = flow.row()
    cursor.run(_UPDATE, flow_id=flow.id, **{name: values[name] for name in _UPDATABLE})


def delete_flow(cursor: Cursor, flow_id: str) -> None:
    cursor.run(_DELETE, flow_id=flow_id)


def list_flows(cursor: Cursor, waba_id: str, after_id: str | None, limit: int) -> list[FlowRecord]:
    if after_id is None:
        rows = cursor.rows(_PAGE_FIRST, waba_id=waba_id, limit=limit)
    else:
        rows = cursor.rows(_PAGE_AFTER, waba_id=waba_id, after_id=after_id, limit=limit)
    return [flow for flow in map(_record, rows) if flow is not None]
