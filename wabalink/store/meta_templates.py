"""The simulator's message templates and template-media upload sessions (Meta's side: the
service keeps no template content). Queries in the same style as `meta_state.py`: statements built
once, run on the store's cursor; every status change runs in the caller's transaction so the
webhook it produces is queued atomically with it."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    delete,
    insert,
    select,
    update,
)

from wabalink.store.db import Cursor, Query
from wabalink.store.schema import metadata

meta_message_templates = Table(
    "meta_message_templates",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("waba_id", String(32), ForeignKey("meta_wabas.id"), nullable=False),
    Column("name", String(512), nullable=False),
    Column("language", String(15), nullable=False),
    Column("category", String(20), nullable=False),  # MARKETING | UTILITY | AUTHENTICATION
    Column("previous_category", String(20)),
    Column("status", String(20), nullable=False),  # PENDING | APPROVED | REJECTED | PAUSED | DISABLED
    Column("reason", String(200)),  # the last review's reason (rejections)
    Column("parameter_format", String(15), nullable=False),  # POSITIONAL | NAMED
    Column("components", Text, nullable=False),  # JSON list, as Meta answers it
    Column("library_template_name", String(512)),
    Column("cta_url_link_tracking_opted_out", Boolean, nullable=False, default=False),
    Column("review_due_at", Float),  # PENDING: when the automatic review approves it
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("waba_id", "name", "language", name="uq_meta_templates_name_language"),
    Index("ix_meta_templates_review_due", "review_due_at"),
)

# Resumable upload sessions (`POST /{app_id}/uploads`); the handle is set once the bytes arrive.
meta_template_uploads = Table(
    "meta_template_uploads",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("app_id", String(32), nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("file_length", Integer, nullable=False),
    Column("file_type", String(100), nullable=False),
    Column("received", Integer, nullable=False, default=0),
    Column("sha256", String(64)),
    Column("handle", String(300), unique=True),
    Column("created_at", Float, nullable=False),
)

Row = dict[str, Any]
T, U = meta_message_templates.c, meta_template_uploads.c

_INSERT = Query(insert(meta_message_templates))
_BY_ID = Query(select(meta_message_templates).where(T.id == bindparam("template_id")))
_BY_NAME_LANGUAGE = Query(select(meta_message_templates).where(
    T.waba_id == bindparam("waba"), T.name == bindparam("template_name"), T.language == bindparam("lang")))
_BY_NAME = Query(select(meta_message_templates).where(
    T.waba_id == bindparam("waba"), T.name == bindparam("template_name")).order_by(T.id))
_DELETE_BY_ID = Query(delete(meta_message_templates).where(T.id == bindparam("template_id")))
_DELETE_BY_NAME = Query(delete(meta_message_templates).where(
    T.waba_id == bindparam("waba"), T.name == bindparam("template_name")))
_DUE = Query(select(meta_message_templates).where(
    T.status == "PENDING", T.review_due_at <= bindparam("now")).order_by(T.review_due_at).limit(100))
_NEXT_DUE = Query(select(T.review_due_at).where(T.status == "PENDING", T.review_due_at.is_not(None))
                  .order_by(T.review_due_at).limit(1))
# Conditional: the review applies only to the state it was decided on (replicas, concurrent decisions).
_SET_STATUS = Query(update(meta_message_templates).where(
    T.id == bindparam("template_id"), T.status == bindparam("expected_status"),
).values(status=bindparam("status"), reason=bindparam("reason"), review_due_at=bindparam("review_due_at"),
         updated_at=bindparam("updated_at")))
_SET_CATEGORY = Query(update(meta_message_templates).where(T.id == bindparam("template_id")).values(
    category=bindparam("category"), previous_category=bindparam("previous_category"),
    updated_at=bindparam("updated_at")))
_EDIT = Query(update(meta_message_templates).where(T.id == bindparam("template_id")).values(
    category=bindparam("category"), components=bindparam("components"),
    parameter_format=bindparam("parameter_format"),
    cta_url_link_tracking_opted_out=bindparam("cta_url_link_tracking_opted_out"),
    status=bindparam("status"), reason=None, review_due_at=bindparam("review_due_at"),
    updated_at=bindparam("updated_at")))

_INSERT_UPLOAD = Query(insert(meta_template_uploads))
_UPLOAD = Query(select(meta_template_uploads).where(U.id == bindparam("upload_id")))
_FINISH_UPLOAD = Query(update(meta_template_uploads).where(U.id == bindparam("upload_id"), U.handle.is_(None))
                       .values(received=bindparam("received"), sha256=bindparam("sha256"),
                               handle=bindparam("handle")))
_HANDLE = Query(select(U.id).where(U.handle == bindparam("handle")))


def _list_query(*, name: bool, status: bool, category: bool, language: bool, after: bool) -> Query:
    conditions = [T.waba_id == bindparam("waba")]
    if name:
        conditions.append(T.name == bindparam("template_name"))
    if status:
        conditions.append(T.status == bindparam("status"))
    if category:
        conditions.append(T.category == bindparam("category"))
    if language:
        conditions.append(T.language == bindparam("lang"))
    if after:
        conditions.append(T.id > bindparam("after_id"))
    return Query(select(meta_message_templates).where(and_(*conditions)).order_by(T.id).limit(bindparam("limit")))


_LIST: dict[tuple[bool, ...], Query] = {}


def insert_template(cursor: Cursor, row: Row) -> None:
    cursor.run(_INSERT, **row)


def get_template(cursor: Cursor, template_id: str) -> Row | None:
    return cursor.row(_BY_ID, template_id=template_id)


def find_template(cursor: Cursor, waba_id: str, name: str, language: str) -> Row | None:
    return cursor.row(_BY_NAME_LANGUAGE, waba=waba_id, template_name=name, lang=language)


def templates_named(cursor: Cursor, waba_id: str, name: str) -> list[Row]:
    return cursor.rows(_BY_NAME, waba=waba_id, template_name=name)


def list_templates(cursor: Cursor, waba_id: str, filters: dict[str, str], after_id: str | None,
                   limit: int) -> list[Row]:
    """A page in id order; `filters` may hold name, status, category, language."""
    key = tuple(name in filters for name in ("name", "status", "category", "language")) + (after_id is not None,)
    query = _LIST.get(key)
    if query is None:
        query = _LIST[key] = _list_query(name=key[0], status=key[1], category=key[2], language=key[3], after=key[4])
    params: dict[str, Any] = {"waba": waba_id, "limit": limit}
    renamed = {"name": "template_name", "language": "lang"}
    params.update({renamed.get(k, k): v for k, v in filters.items()})
    if after_id is not None:
        params["after_id"] = after_id
    return cursor.rows(query, **params)


def delete_template(cursor: Cursor, template_id: str) -> int:
    return cursor.run(_DELETE_BY_ID, template_id=template_id)


def delete_templates_named(cursor: Cursor, waba_id: str, name: str) -> int:
    return cursor.run(_DELETE_BY_NAME, waba=waba_id, template_name=name)


def due_for_review(cursor: Cursor, now: float) -> list[Row]:
    return cursor.rows(_DUE, now=now)


def next_review_due(cursor: Cursor) -> float | None:
    return cursor.scalar(_NEXT_DUE)


def set_status(cursor: Cursor, template_id: str, expected_status: str, status: str, reason: str | None,
               review_due_at: float | None, now: float) -> bool:
    return cursor.run(_SET_STATUS, template_id=template_id, expected_status=expected_status, status=status,
                      reason=reason, review_due_at=review_due_at, updated_at=now) == 1


def set_category(cursor: Cursor, template_id: str, category: str, previous_category: str, now: float) -> None:
    cursor.run(_SET_CATEGORY, template_id=template_id, category=category, previous_category=previous_category,
               updated_at=now)


def edit_template(cursor: Cursor, template_id: str, values: Row) -> None:
    cursor.run(_EDIT, template_id=template_id, **values)


def insert_upload(cursor: Cursor, row: Row) -> None:
    cursor.run(_INSERT_UPLOAD, **row)


def get_upload(cursor: Cursor, upload_id: str) -> Row | None:
    return cursor.row(_UPLOAD, upload_id=upload_id)


def finish_upload(cursor: Cursor, upload_id: str, received: int, sha256: str, handle: str) -> bool:
    return cursor.run(_FINISH_UPLOAD, upload_id=upload_id, received=received, sha256=sha256, handle=handle) == 1


def handle_exists(cursor: Cursor, handle: str) -> bool:
    return cursor.scalar(_HANDLE, handle=handle) is not None


# Meta gives every new WABA this approved sample template, so a first template send works at once.
_HELLO_WORLD_COMPONENTS = [
    {"type": "HEADER", "format": "TEXT", "text": "Hello World"},
    {"type": "BODY", "text": "Welcome and congratulations!! This message demonstrates your ability to send a "
                             "WhatsApp message notification from the Cloud API, hosted by Meta. Thank you for "
                             "taking the time to test with us."},
    {"type": "FOOTER", "text": "WhatsApp Business Platform sample message"},
]


def insert_sample_template(cursor: Cursor, waba_id: str, template_id: str, now: float) -> None:
    """Meta's `hello_world` (en_US, UTILITY, APPROVED) in a new WABA."""
    insert_template(cursor, {
        "id": template_id, "waba_id": waba_id, "name": "hello_world", "language": "en_US", "category": "UTILITY",
        "previous_category": None, "status": "APPROVED", "reason": None, "parameter_format": "POSITIONAL",
        "components": json.dumps(_HELLO_WORLD_COMPONENTS), "library_template_name": None,
        "cta_url_link_tracking_opted_out": False, "review_due_at": None, "created_at": now, "updated_at": now})
