"""A minimal HTTP/1.1 client connection for the Graph client: keep-alive, Content-Length and chunked
bodies, TLS. http.client parses every response's headers with the email package, which costs more
than the simulator takes to answer; this reads the three headers that matter and nothing else.
"""

from __future__ import annotations

import socket
import ssl
from typing import BinaryIO

MAX_LINE = 65536
MAX_HEADERS = 200
MAX_INTERIM_ANSWERS = 10
# Graph answers are small JSON documents; a bigger body is a misbehaving server, not data.
MAX_BODY_BYTES = 8 * 1024 * 1024
NO_BODY_STATUSES = frozenset({204, 304})
_FORBIDDEN_IN_HEADERS = ("\r", "\n", "\0")


class ConnectionDropped(OSError):
    """The server closed the connection before any byte of an answer (an idle keep-alive
    connection it had closed, say): the request may be sent again on a fresh connection."""


class ProtocolError(OSError):
    """The answer is not HTTP/1.x."""


class Http11Connection:
    def __init__(self, host: str, port: int | None, *, tls: bool, timeout: float) -> None:
        self.host = host
        self.port = port or (443 if tls else 80)
        self.tls = tls
        self.timeout = timeout
        default_port = 443 if tls else 80
        host_name = f"[{host}]" if ":" in host else host  # an IPv6 literal
        self._host_header = host_name if self.port == default_port else f"{host_name}:{self.port}"
        self._socket: socket.socket | None = None
        self._reader: BinaryIO | None = None

    @property
    def is_open(self) -> bool:
        return self._socket is not None

    def request(self, method: str, target: str, headers: dict[str, str], body: bytes | None) -> tuple[int, bytes, bool]:
        """Sends one request and reads its whole answer: (status, body, connection still usable).
        Raises ConnectionDropped only when no byte of an answer came; any failure closes the
        connection, so a half-read answer never meets the next request."""
        for text in (method, target, *headers, *headers.values()):
            if any(forbidden in text for forbidden in _FORBIDDEN_IN_HEADERS):
                raise ValueError("a request line or header carries a line break or NUL")
        try:
            if self._socket is None:
                self._connect()
            assert self._socket is not None
            head = [f"{method} {target} HTTP/1.1", f"Host: {self._host_header}"]
            head += [f"{name}: {value}" for name, value in headers.items()]
            if body is not None or method in ("POST", "PUT", "PATCH"):
                head.append(f"Content-Length: {len(body or b'')}")
            try:
                self._socket.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (body or b""))
                status_line = self._read_status_line()
            except (ConnectionResetError, BrokenPipeError) as error:
                raise ConnectionDropped(f"the connection was closed before an answer: {type(error).__name__}") from None
            return self._read_answer(method, status_line)
        except BaseException:
            self.close()
            raise

    def _read_answer(self, method: str, status_line: bytes) -> tuple[int, bytes, bool]:
        assert self._reader is not None
        for _ in range(MAX_INTERIM_ANSWERS):
            status, keep_alive, length, chunked = self._read_head(status_line)
            if not 100 <= status < 200:
                break
            status_line = self._read_status_line()  # an interim answer (100 Continue): the real one follows
        else:
            raise ProtocolError("too many interim answers")
        if status in NO_BODY_STATUSES or method == "HEAD":
            data = b""
        elif chunked:
            data = self._read_chunked()
        elif length is not None:
            data = self._read_exactly(length)
        else:  # the body runs to the end of the connection
            data = self._reader.read(MAX_BODY_BYTES + 1)
            if len(data) > MAX_BODY_BYTES:
                raise ProtocolError("the answer's body is too large")
            keep_alive = False
        if not keep_alive:
            self.close()
        return status, data, keep_alive

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        if self._socket is not None:
            self._socket.close()
        self._socket = self._reader = None

    def _connect(self) -> None:
        raw = socket.create_connection((self.host, self.port), timeout=self.timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket = ssl.create_default_context().wrap_socket(raw, server_hostname=self.host) if self.tls else raw
        self._reader = self._socket.makefile("rb")

    def _read_status_line(self) -> bytes:
        assert self._reader is not None
        status_line = self._reader.readline(MAX_LINE + 1)
        while status_line in (b"\r\n", b"\n"):  # tolerate a stray empty line between answers
            status_line = self._reader.readline(MAX_LINE + 1)
        if not status_line:
            raise ConnectionDropped("the connection was closed before an answer")
        return status_line

    def _read_head(self, status_line: bytes) -> tuple[int, bool, int | None, bool]:
        assert self._reader is not None
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise ProtocolError("the answer does not start with an HTTP/1.x status line")
        status = int(parts[1])
        keep_alive = parts[0] == b"HTTP/1.1"
        close_asked = False
        length: int | None = None
        chunked = False
        for _ in range(MAX_HEADERS):
            line = self._reader.readline(MAX_LINE + 1)
            if line in (b"\r\n", b"\n"):
                break
            if not line or len(line) > MAX_LINE:
                raise ProtocolError("the answer's headers are cut short or too long")
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            value = value.strip().lower()
            if name == b"content-length":
                if not value.isdigit():
                    raise ProtocolError("the answer's Content-Length is not a number")
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = value.endswith(b"chunked")
            elif name == b"connection":
                close_asked = close_asked or b"close" in value
                keep_alive = keep_alive or b"keep-alive" in value
        else:
            raise ProtocolError("the answer has too many headers")
        return status, keep_alive and not close_asked, length, chunked

    def _read_exactly(self, size: int) -> bytes:
        assert self._reader is not None
        if size > MAX_BODY_BYTES:
            raise ProtocolError("the answer's body is too large")
        data = self._reader.read(size)
        if len(data) != size:
            raise ProtocolError("the answer's body was cut short")
        return data

    def _read_chunked(self) -> bytes:
        assert self._reader is not None
        chunks: list[bytes] = []
        received = 0
        while True:
            size_line = self._reader.readline(MAX_LINE + 1)
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise ProtocolError("a chunk size is not a number") from None
            if size == 0:
                while self._reader.readline(MAX_LINE + 1) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            received += size
            if received > MAX_BODY_BYTES:
                raise ProtocolError("the answer's body is too large")
            chunks.append(self._read_exactly(size))
            self._read_exactly(2)  # the CRLF after each chunk
