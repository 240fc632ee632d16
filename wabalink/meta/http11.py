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


class ConnectionDropped(OSError):
    """The server closed the connection before answering (an idle keep-alive connection, say)."""


class ProtocolError(OSError):
    """The answer is not HTTP/1.x."""


class Http11Connection:
    def __init__(self, host: str, port: int | None, *, tls: bool, timeout: float) -> None:
        self.host = host
        self.port = port or (443 if tls else 80)
        self.tls = tls
        self.timeout = timeout
        default_port = 443 if tls else 80
        self._host_header = host if self.port == default_port else f"{host}:{self.port}"
        self._socket: socket.socket | None = None
        self._reader: BinaryIO | None = None

    @property
    def is_open(self) -> bool:
        return self._socket is not None

    def request(self, method: str, target: str, headers: dict[str, str], body: bytes | None) -> tuple[int, bytes, bool]:
        """Sends one request and reads its whole answer: (status, body, connection still usable)."""
        if self._socket is None:
            self._connect()
        assert self._socket is not None and self._reader is not None
        head = [f"{method} {target} HTTP/1.1", f"Host: {self._host_header}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None or method in ("POST", "PUT", "PATCH"):
            head.append(f"Content-Length: {len(body or b'')}")
        self._socket.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (body or b""))
        status, keep_alive, length, chunked = self._read_head()
        if chunked:
            data = self._read_chunked()
        elif length is not None:
            data = self._read_exactly(length)
        elif status in (204, 304) or method == "HEAD":
            data = b""
        else:  # the body runs to the end of the connection
            data = self._reader.read()
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

    def _read_head(self) -> tuple[int, bool, int | None, bool]:
        assert self._reader is not None
        status_line = self._reader.readline(MAX_LINE + 1)
        while status_line in (b"\r\n", b"\n"):  # tolerate a stray empty line between answers
            status_line = self._reader.readline(MAX_LINE + 1)
        if not status_line:
            raise ConnectionDropped("the connection was closed before an answer")
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise ProtocolError("the answer does not start with an HTTP/1.x status line")
        status = int(parts[1])
        keep_alive = parts[0] == b"HTTP/1.1"
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
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = value.endswith(b"chunked")
            elif name == b"connection":
                keep_alive = b"close" not in value if keep_alive else b"keep-alive" in value
        else:
            raise ProtocolError("the answer has too many headers")
        if 100 <= status < 200:  # an interim answer (100 Continue): the real one follows
            return self._read_head()
        return status, keep_alive, length, chunked

    def _read_exactly(self, size: int) -> bytes:
        assert self._reader is not None
        data = self._reader.read(size)
        if len(data) != size:
            raise ConnectionDropped("the answer's body was cut short")
        return data

    def _read_chunked(self) -> bytes:
        assert self._reader is not None
        chunks = []
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
            chunks.append(self._read_exactly(size))
            self._read_exactly(2)  # the CRLF after each chunk
