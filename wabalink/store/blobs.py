"""Media bytes, kept outside the relational rows: a folder beside the SQLite database by default
(`<state folder>/blobs/`), or an S3 bucket (`s3://bucket/prefix`) that replicas sharing a PostgreSQL
database can all read.

Bytes always move in chunks: a write streams the source to a temporary file (hashing and counting
as it goes) and renames it into place, so a crash never leaves half a blob under a real key, and a
100 MB document never sits whole in memory. A write may stop early: `put` raises `BlobTooLarge`
once the source passes `max_bytes`, leaving nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

CHUNK_BYTES = 64 * 1024


class Readable(Protocol):
    """What a blob is written from: anything with a file's `read(size)` (a file, a response body,
    a multipart part)."""

    def read(self, size: int = ..., /) -> bytes: ...


class BlobTooLarge(Exception):
    """The source is larger than the write allowed."""


class BlobMissing(Exception):
    """No blob under that key."""


@dataclass(frozen=True)
class WrittenBlob:
    size: int
    sha256: str


class BlobStore(Protocol):
    def put(self, key: str, source: Readable, *, max_bytes: int | None = None,
            head_check: Callable[[bytes], None] | None = None) -> WrittenBlob: ...
    def open(self, key: str) -> BinaryIO: ...
    def delete(self, key: str) -> None: ...


def copy_in_chunks(source: Readable, target: BinaryIO, *, max_bytes: int | None = None,
                   head_check: Callable[[bytes], None] | None = None) -> WrittenBlob:
    """Copies chunk by chunk, counting and hashing. `head_check` sees the first chunk before any
    byte is written (a file's type or flags live in its first bytes)."""
    digest = hashlib.sha256()
    size = 0
    first = True
    while True:
        chunk = source.read(CHUNK_BYTES)
        if first and head_check is not None:
            head_check(chunk or b"")
        first = False
        if not chunk:
            return WrittenBlob(size, digest.hexdigest())
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            raise BlobTooLarge(f"larger than {max_bytes} bytes")
        digest.update(chunk)
        target.write(chunk)


def iter_chunks(stream: BinaryIO) -> Iterator[bytes]:
    try:
        while chunk := stream.read(CHUNK_BYTES):
            yield chunk
    finally:
        stream.close()


class FolderBlobStore:
    """One file per blob under `root`, named by key (keys are generated ids, never caller input)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        if not key or "/" in key or "\\" in key or key.startswith("."):
            raise ValueError("a blob key is one plain file name")
        return self.root / key

    def put(self, key: str, source: Readable, *, max_bytes: int | None = None,
            head_check: Callable[[bytes], None] | None = None) -> WrittenBlob:
        target = self._path(key)
        handle, temp_name = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        try:
            with os.fdopen(handle, "wb") as temp:
                written = copy_in_chunks(source, temp, max_bytes=max_bytes, head_check=head_check)
                temp.flush()
                os.fsync(temp.fileno())
            os.replace(temp_name, target)
            return written
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self._path(key), "rb")
        except FileNotFoundError:
            raise BlobMissing(key) from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


class S3BlobStore:
    """Blobs as objects `prefix + key` of one bucket, through botocore (the standard credential
    chain; `AWS_ENDPOINT_URL_S3` or the endpoint given). A write spools to a local temporary file
    first, so the upload knows its length and the source is read exactly once."""

    def __init__(self, bucket: str, prefix: str, client: Any) -> None:
        self.bucket, self.prefix, self.client = bucket, prefix, client

    def put(self, key: str, source: Readable, *, max_bytes: int | None = None,
            head_check: Callable[[bytes], None] | None = None) -> WrittenBlob:
        with tempfile.TemporaryFile() as spool:
            written = copy_in_chunks(source, spool, max_bytes=max_bytes, head_check=head_check)
            spool.seek(0)
            self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=spool,
                                   ContentLength=written.size)
        return written

    def open(self, key: str) -> BinaryIO:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise BlobMissing(key) from None
            raise

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.prefix + key)


def default_blob_folder(database_url: str | None) -> Path:
    """Beside the SQLite file; for PostgreSQL, in the state folder (WABALINK_STATE_DIR)."""
    if database_url and database_url.startswith("sqlite:///"):
        return Path(database_url[len("sqlite:///"):].split("?", 1)[0]).resolve().parent / "blobs"
    return Path(os.environ.get("WABALINK_STATE_DIR", ".wabalink")) / "blobs"


def open_blob_store(location: str | None, database_url: str | None, *, s3_endpoint_url: str | None = None
                    ) -> BlobStore:
    """`location`: None (the default folder), a folder path, or `s3://bucket/prefix`."""
    if location and location.startswith("s3://"):
        bucket, _, prefix = location[len("s3://"):].partition("/")
        if not bucket:
            raise ValueError("--blob-store s3://BUCKET[/PREFIX] needs a bucket name")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        import botocore.session

        client = botocore.session.get_session().create_client("s3", endpoint_url=s3_endpoint_url)
        return S3BlobStore(bucket, prefix, client)
    return FolderBlobStore(Path(location) if location else default_blob_folder(database_url))


__all__ = ["BlobStore", "FolderBlobStore", "S3BlobStore", "BlobTooLarge", "BlobMissing", "WrittenBlob",
           "open_blob_store", "copy_in_chunks", "Readable", "iter_chunks", "CHUNK_BYTES"]
