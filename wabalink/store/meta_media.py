"""The simulator's media: one row per media id Meta handed out (uploaded by a business number, or
received by one in an inbound message); the bytes live in the blob store under `blob_key`.

A media id belongs to one phone number and expires (30 days uploaded, 7 days inbound, as Meta
says); a deleted one keeps its row, so a second delete or a read says "not found" the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Boolean, Column, Float, Index, String, Table, bindparam, insert, select, update

from wabalink.store.db import Query, Store
from wabalink.store.schema import metadata

UPLOADED_LIFETIME_SECONDS = 30 * 24 * 3600
INBOUND_LIFETIME_SECONDS = 7 * 24 * 3600
ORIGINS = ("uploaded", "inbound")

meta_media = Table(
    "meta_media",
    metadata,
    Column("id", String(32), primary_key=True),  # Meta's numeric media id
    Column("phone_number_id", String(32), nullable=False),  # the owner: uploader or inbound receiver
    Column("mime_type", String(200), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("file_size", BigInteger, nullable=False),  # bytes
    Column("filename", String(255)),
    Column("blob_key", String(64), nullable=False),
    Column("origin", String(10), nullable=False),  # uploaded | inbound
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
    Index("ix_meta_media_phone", "phone_number_id"),
    Index("ix_meta_media_expires", "deleted", "expires_at"),
)

M = meta_media.c
_INSERT = Query(insert(meta_media))
_SELECT = Query(select(meta_media).where(M.id == bindparam("media_id")))
_EXPIRE = Query(update(meta_media).where(M.id == bindparam("media_id")).values(expires_at=bindparam("expires_at")))
_EXPIRED = Query(select(M.id, M.blob_key).where(M.deleted.is_(False), M.expires_at <= bindparam("now"))
                 .order_by(M.expires_at).limit(bindparam("limit")))
_MARK_DELETED = Query(update(meta_media).where(M.id == bindparam("media_id"), M.deleted.is_(False))
                      .values(deleted=True))


@dataclass(frozen=True)
class MediaRecord:
    id: str
    phone_number_id: str
    mime_type: str
    sha256: str
    file_size: int
    filename: str | None
    blob_key: str
    origin: str
    created_at: float
    expires_at: float
    deleted: bool

    def usable(self, now: float) -> bool:
        return not self.deleted and now < self.expires_at


def lifetime_seconds(origin: str) -> int:
    return UPLOADED_LIFETIME_SECONDS if origin == "uploaded" else INBOUND_LIFETIME_SECONDS


class MetaMedia:
    def __init__(self, store: Store) -> None:
        self.store = store

    def insert(self, record: MediaRecord) -> None:
        with self.store.writer() as cursor:
            cursor.run(_INSERT, id=record.id, phone_number_id=record.phone_number_id, mime_type=record.mime_type,
                       sha256=record.sha256, file_size=record.file_size, filename=record.filename,
                       blob_key=record.blob_key, origin=record.origin, created_at=record.created_at,
                       expires_at=record.expires_at, deleted=False)

    def get(self, media_id: str) -> MediaRecord | None:
        with self.store.reader(snapshot=False) as cursor:
            row = cursor.row(_SELECT, media_id=media_id)
        if row is None:
            return None
        row["file_size"] = int(row["file_size"])
        row["deleted"] = bool(row["deleted"])
        return MediaRecord(**row)

    def expire(self, media_id: str, now: float) -> None:
        with self.store.writer() as cursor:
            cursor.run(_EXPIRE, media_id=media_id, expires_at=now)

    def expired(self, now: float, limit: int) -> list[tuple[str, str]]:
        """(media id, blob key) of expired media whose bytes are still kept, oldest first."""
        with self.store.reader(snapshot=False) as cursor:
            return [(row[0], row[1]) for row in cursor.tuples(_EXPIRED, now=now, limit=limit)]

    def mark_deleted(self, media_id: str) -> bool:
        """True when this call deleted it (a second delete finds nothing to delete)."""
        with self.store.writer() as cursor:
            return cursor.run(_MARK_DELETED, media_id=media_id) == 1


__all__ = ["meta_media", "MetaMedia", "MediaRecord", "lifetime_seconds", "ORIGINS",
           "UPLOADED_LIFETIME_SECONDS", "INBOUND_LIFETIME_SECONDS"]
