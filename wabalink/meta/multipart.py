"""A streaming multipart/form-data reader (RFC 7578): parts are read as files, chunk by chunk, so a
100 MB upload never sits in memory. Only what form uploads use: Content-Disposition's name and
filename, and Content-Type."""

from __future__ import annotations

import re
from collections.abc import Iterator

from wabalink.store.blobs import Readable

READ_BYTES = 64 * 1024
MAX_HEAD_BYTES = 16 * 1024
_BOUNDARY = re.compile(r'boundary=(?:"([^"]{1,70})"|([^\s;"]{1,70}))', re.IGNORECASE)
_PARAM = re.compile(r';\s*([a-zA-Z*]+)="?([^";]*)"?')


class MultipartError(ValueError):
    pass


def boundary_of(content_type: str) -> bytes | None:
    if not content_type.lower().startswith("multipart/form-data"):
        return None
    found = _BOUNDARY.search(content_type)
    return (found.group(1) or found.group(2)).encode("latin-1") if found else None


class Part:
    """One part: its headers, and its body as a file (`read`) that ends at the next boundary."""

    def __init__(self, reader: MultipartReader, headers: dict[str, str]) -> None:
        self._reader = reader
        disposition = headers.get("content-disposition", "")
        params = {key.lower(): value for key, value in _PARAM.findall(disposition)}
        self.name = params.get("name", "")
        self.filename = params.get("filename")
        self.content_type = headers.get("content-type")

    def read(self, size: int = READ_BYTES) -> bytes:
        return self._reader.read_body(size if size > 0 else READ_BYTES)

    def read_all(self, limit: int) -> bytes:
        data = b""
        while chunk := self.read(READ_BYTES):
            data += chunk
            if len(data) > limit:
                raise MultipartError(f"the field {self.name!r} is longer than {limit} bytes")
        return data


class MultipartReader:
    def __init__(self, source: Readable, boundary: bytes) -> None:
        self._source = source
        self._delimiter = b"\r\n--" + boundary
        self._buffer = b"\r\n"  # the first delimiter has no CRLF before it: pretend it does
        self._eof = False
        self._in_body = False
        self._finished = False

    def parts(self) -> Iterator[Part]:
        while True:
            while self._in_body:  # skip what the previous part's reader left unread
                if not self.read_body(READ_BYTES):
                    break
            if not self._next_part():
                return
            yield Part(self, self._read_head())

    def _fill(self, wanted: int) -> None:
        while len(self._buffer) < wanted and not self._eof:
            chunk = self._source.read(READ_BYTES)
            if chunk:
                self._buffer += chunk
            else:
                self._eof = True

    def _next_part(self) -> bool:
        """Consumes a delimiter; False at the closing one."""
        if self._finished:
            return False
        self._fill(len(self._delimiter) + 2)
        if not self._buffer.startswith(self._delimiter):
            raise MultipartError("a part does not start with the boundary")
        rest = self._buffer[len(self._delimiter):len(self._delimiter) + 2]
        self._buffer = self._buffer[len(self._delimiter) + 2:]
        if rest == b"--":
            self._finished = True
            return False
        if rest != b"\r\n":
            raise MultipartError("a boundary line is not followed by CRLF")
        return True

    def _read_head(self) -> dict[str, str]:
        while (end := self._buffer.find(b"\r\n\r\n")) < 0:
            if len(self._buffer) > MAX_HEAD_BYTES or self._eof:
                raise MultipartError("a part's headers are cut short or too long")
            self._fill(len(self._buffer) + READ_BYTES)
        head, self._buffer = self._buffer[:end], self._buffer[end + 4:]
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        self._in_body = True
        return headers

    def read_body(self, size: int) -> bytes:
        """Up to `size` bytes of the current part; b"" at its end. Bytes that might begin the
        delimiter are held back until the next read shows whether they do."""
        if not self._in_body:
            return b""
        self._fill(len(self._delimiter) + size)
        found = self._buffer.find(self._delimiter)
        if found == 0:
            self._in_body = False
            return b""
        if found > 0:
            take = min(found, size)
        elif self._eof:
            raise MultipartError("the body ends before the closing boundary")
        else:
            take = min(len(self._buffer) - len(self._delimiter) + 1, size)
        data, self._buffer = self._buffer[:take], self._buffer[take:]
        return data
