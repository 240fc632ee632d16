"""The Graph client's media calls whose bodies are files: a streamed multipart upload and a streamed
download (the keep-alive transport of `client.py` reads whole answers, which suits JSON only).
Each file call opens its own connection: a file costs far more than a TCP handshake.
"""

from __future__ import annotations

import http.client
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from wabalink.meta.graph_answers import GraphProtocolError, GraphUnavailableError, parse_answer
from wabalink.store.blobs import Readable

CHUNK_BYTES = 64 * 1024
MAX_ERROR_BODY_BYTES = 64 * 1024
_SAFE_FILENAME = re.compile(r'[^A-Za-z0-9._ -]')
_SHA256 = re.compile(r"[0-9a-f]{64}")


class SourceFailed(Exception):
    """The file being uploaded could not be read to its end (its own source failed, not Meta)."""


@dataclass(frozen=True)
class MediaInfo:
    """`GET /{media-id}` as Meta answers it."""
    id: str
    url: str
    mime_type: str
    sha256: str
    file_size: int


def media_info(answer: dict[str, Any], media_id: str) -> MediaInfo:
    url, mime, sha256, size = (answer.get(name) for name in ("url", "mime_type", "sha256", "file_size"))
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or len(url) > 4096:
        raise GraphProtocolError("Graph media answer has no usable url")
    if not isinstance(mime, str) or "/" not in mime or len(mime) > 200:
        raise GraphProtocolError("Graph media answer has no mime_type")
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise GraphProtocolError("Graph media answer has no sha256")
    if isinstance(size, str) and size.isdigit():
        size = int(size)  # Meta sends file_size as a string
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise GraphProtocolError("Graph media answer has no file_size")
    if str(answer.get("id", media_id)) != media_id:
        raise GraphProtocolError("Graph media answer is about another media id")
    return MediaInfo(media_id, url, mime, sha256, size)


def media_id_of(answer: dict[str, Any]) -> str:
    media_id = answer.get("id")
    if not isinstance(media_id, str) or not media_id.isalnum() or len(media_id) > 100:
        raise GraphProtocolError("Graph media upload answer has no id")
    return media_id


class Download:
    """A streamed answer body: `read(n)` like a file; `close()` when done."""

    def __init__(self, connection: http.client.HTTPConnection, response: http.client.HTTPResponse) -> None:
        self._connection, self._response = connection, response
        self.content_type = response.getheader("content-type", "application/octet-stream")
        length = response.getheader("content-length")
        self.size = int(length) if length and length.isdigit() else None

    def read(self, size: int = CHUNK_BYTES) -> bytes:
        try:
            return self._response.read(size)
        except (OSError, http.client.HTTPException) as error:
            raise GraphUnavailableError(f"media download cut short: {type(error).__name__}") from None

    def close(self) -> None:
        self._response.close()
        self._connection.close()

    def __enter__(self) -> Download:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _connection(url: str, timeout: float) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise GraphUnavailableError("a media URL must be http:// or https://")
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return kind(parts.hostname, parts.port, timeout=timeout), target


def upload(url: str, token: str, timeout: float, fields: dict[str, str], source: Readable, size: int | None,
           filename: str, mime_type: str) -> dict[str, Any]:
    """POSTs multipart/form-data (fields, then the file streamed from `source`); Meta's JSON answer.
    With `size` the body has a Content-Length, else it is sent chunked."""
    boundary = "wabalink-" + os.urandom(12).hex()
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items())
    safe_name = _SAFE_FILENAME.sub("_", filename)[:200] or "file"
    head += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{safe_name}"\r\n'
             f"Content-Type: {mime_type}\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json",
               "Content-Type": f"multipart/form-data; boundary={boundary}"}
    if size is not None:
        headers["Content-Length"] = str(len(head) + size + len(tail))
    connection, target = _connection(url, timeout)
    try:
        connection.request("POST", target, body=_body(head, source, size, tail), headers=headers,
                           encode_chunked=size is None)
        response = connection.getresponse()
        return parse_answer(response.status, response.read(MAX_ERROR_BODY_BYTES), "POST", "/media")
    except (OSError, http.client.HTTPException) as error:
        raise GraphUnavailableError(f"Graph API unreachable (media upload): {type(error).__name__}") from None
    finally:
        connection.close()


def _body(head: bytes, source: Readable, size: int | None, tail: bytes) -> Iterator[bytes]:
    yield head
    sent = 0
    while True:
        try:
            chunk = source.read(CHUNK_BYTES)
        except OSError as error:
            raise SourceFailed(str(error)) from None
        if not chunk:
            break
        sent += len(chunk)
        yield chunk
    if size is not None and sent != size:
        raise SourceFailed(f"the media source gave {sent} bytes, not the {size} announced")
    yield tail


def download(url: str, token: str, timeout: float) -> Download:
    """GETs a media URL Meta handed out, with the token in the header (never in the URL)."""
    connection, target = _connection(url, timeout)
    try:
        connection.request("GET", target, headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
    except (OSError, http.client.HTTPException) as error:
        connection.close()
        raise GraphUnavailableError(f"media download unreachable: {type(error).__name__}") from None
    if response.status != 200:
        try:
            parse_answer(response.status, response.read(MAX_ERROR_BODY_BYTES), "GET", "media URL")
        finally:
            connection.close()
        raise GraphUnavailableError(f"media download answered HTTP {response.status}")
    return Download(connection, response)
