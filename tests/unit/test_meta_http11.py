"""The Graph client's HTTP/1.1 connection against a scripted server: body framings, keep-alive,
and a server that drops idle connections."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from wabalink.meta.client import GraphClient, GraphUnavailableError
from wabalink.meta.http11 import ConnectionDropped, Http11Connection

OK_JSON = b'{"success": true}'


class ScriptedServer:
    """Answers each request on a connection with the next canned answer; `close_after` answers per
    connection, then closes it (as a server closing idle keep-alive connections does)."""

    def __init__(self, answers: list[bytes], close_after: int = 1000) -> None:
        self.answers = answers
        self.close_after = close_after
        self.requests: list[bytes] = []
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                reader = conn.makefile("rb")
                for _ in range(self.close_after):
                    head = b""
                    while not head.endswith(b"\r\n\r\n"):
                        line = reader.readline()
                        if not line:
                            break
                        head += line
                    if not head:
                        break
                    length = [int(field.split(b":")[1]) for field in head.split(b"\r\n") if field.lower().startswith(b"content-length")]
                    self.requests.append(head + (reader.read(length[0]) if length else b""))
                    conn.sendall(self.answers.pop(0))
                reader.close()  # or the socket stays open behind it
                conn.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def scripted() -> Iterator[type[ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(*args, **kwargs) -> ScriptedServer:  # type: ignore[no-untyped-def]
        server = ScriptedServer(*args, **kwargs)
        servers.append(server)
        return server

    yield start  # type: ignore[misc]
    for server in servers:
        server.close()


def answer(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    head = "\r\n".join([f"HTTP/1.1 {status}", *headers]) + "\r\n\r\n"
    return head.encode() + body


def test_content_length_and_keep_alive(scripted) -> None:  # type: ignore[no-untyped-def]
    server = scripted([answer(OK_JSON, f"Content-Length: {len(OK_JSON)}")] * 2)
    connection = Http11Connection("127.0.0.1", server.port, tls=False, timeout=5)
    assert connection.request("GET", "/a", {}, None) == (200, OK_JSON, True)
    assert connection.request("POST", "/b", {"Content-Type": "application/json"}, b"{}") == (200, OK_JSON, True)
    assert server.connections == 1
    assert server.requests[1].startswith(b"POST /b HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"Content-Length: 2\r\n" in server.requests[1] and server.requests[1].endswith(b"{}")


def test_chunked_body_and_connection_close(scripted) -> None:  # type: ignore[no-untyped-def]
    chunked = b"7\r\n{\"succe\r\n" + b"a\r\nss\": true}\r\n" + b"0\r\n\r\n"
    server = scripted([answer(chunked, "Transfer-Encoding: chunked", "Connection: close")])
    connection = Http11Connection("127.0.0.1", server.port, tls=False, timeout=5)
    assert connection.request("GET", "/", {}, None) == (200, OK_JSON, False)
    assert not connection.is_open


def test_body_until_the_connection_ends(scripted) -> None:  # type: ignore[no-untyped-def]
    server = scripted([answer(OK_JSON, "Connection: close")], close_after=1)
    connection = Http11Connection("127.0.0.1", server.port, tls=False, timeout=5)
    assert connection.request("GET", "/", {}, None) == (200, OK_JSON, False)


def test_a_dropped_connection_is_reported(scripted) -> None:  # type: ignore[no-untyped-def]
    server = scripted([answer(OK_JSON, f"Content-Length: {len(OK_JSON)}")], close_after=1)
    connection = Http11Connection("127.0.0.1", server.port, tls=False, timeout=5)
    connection.request("GET", "/", {}, None)
    with pytest.raises((ConnectionDropped, ConnectionResetError, BrokenPipeError)):
        connection.request("GET", "/", {}, None)


def test_graph_client_retries_once_on_a_stale_connection(scripted) -> None:  # type: ignore[no-untyped-def]
    ok = answer(OK_JSON, f"Content-Length: {len(OK_JSON)}")
    server = scripted([ok, ok], close_after=1)  # every connection serves one answer, then closes
    client = GraphClient(f"http://127.0.0.1:{server.port}", "1|secret", 5)
    client.subscribe_app("123")
    client.subscribe_app("123")  # the kept connection is dead: a fresh one carries the call
    assert server.connections == 2


def test_graph_client_reports_a_non_http_answer(scripted) -> None:  # type: ignore[no-untyped-def]
    server = scripted([b"SSH-2.0-OpenSSH\r\n\r\n"])
    client = GraphClient(f"http://127.0.0.1:{server.port}", "1|secret", 5)
    with pytest.raises(GraphUnavailableError):
        client.subscribe_app("123")


def test_no_body_statuses_ignore_content_length(scripted) -> None:  # type: ignore[no-untyped-def]
    server = scripted([answer(b"", "Content-Length: 17", status="304 Not Modified"),
                       answer(OK_JSON, f"Content-Length: {len(OK_JSON)}")])
    connection = Http11Connection("127.0.0.1", server.port, tls=False, timeout=5)
    assert connection.request("GET", "/", {}, None) == (304, b"", True)
    assert connection.request("GET", "/", {}, None) == (200, OK_JSON, True)


def test_interim_answers_are_skipped(scripted) -> None:  # type: ignore[no-untyped-def]
    server = scripted([b"HTTP/1.1 100 Continue\r\n\r\n" + answer(OK_JSON, f"Content-Length: {len(OK_JSON)}")])
    connection = Http11Connection("127.0.0.1", server.port, tls=False, timeout=5)
    assert connection.request("POST", "/", {}, b"{}") == (200, OK_JSON, True)


@pytest.mark.parametrize("length", ["-1", "1_7", "+5", "x"])
def test_a_content_length_that_is_not_digits_is_refused(scripted, length: str) -> None:  # type: ignore[no-untyped-def]
    server = scripted([answer(OK_JSON, f"Content-Length: {length}")])
    connection = Http11Connection("127.0.0.1", server.port, tls=False, timeout=5)
    with pytest.raises(OSError):
        connection.request("GET", "/", {}, None)
    assert not connection.is_open


def test_connection_close_wins_over_keep_alive(scripted) -> None:  # type: ignore[no-untyped-def]
    server = scripted([answer(OK_JSON, f"Content-Length: {len(OK_JSON)}", "Connection: close",
                              "Connection: keep-alive")])
    connection = Http11Connection("127.0.0.1", server.port, tls=False, timeout=5)
    assert connection.request("GET", "/", {}, None) == (200, OK_JSON, False)


def test_line_breaks_in_headers_are_refused_before_sending(scripted) -> None:  # type: ignore[no-untyped-def]
    server = scripted([])
    connection = Http11Connection("127.0.0.1", server.port, tls=False, timeout=5)
    with pytest.raises(ValueError):
        connection.request("GET", "/", {"Authorization": "Bearer x\r\nX-Injected: 1"}, None)
    assert server.requests == []


def test_an_answer_cut_short_is_not_sent_again(scripted) -> None:  # type: ignore[no-untyped-def]
    ok = answer(OK_JSON, f"Content-Length: {len(OK_JSON)}")
    cut = answer(OK_JSON[:5], f"Content-Length: {len(OK_JSON)}")  # then the server closes
    server = scripted([ok, cut], close_after=2)
    client = GraphClient(f"http://127.0.0.1:{server.port}", "1|secret", 5)
    client.subscribe_app("123")
    with pytest.raises(GraphUnavailableError):
        client.subscribe_app("123")
    assert len(server.requests) == 2  # the server acted on it: never a second time


@pytest.mark.parametrize("framing", ["content-length", "chunked", "until-close"])
def test_an_oversized_body_is_refused(scripted, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                                      framing: str) -> None:
    import wabalink.meta.http11 as http11
    monkeypatch.setattr(http11, "MAX_BODY_BYTES", 16)
    body = b'{"data": "' + b"x" * 32 + b'"}'
    answers = {
        "content-length": answer(body, f"Content-Length: {len(body)}"),
        "chunked": answer(b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:10], body[10:]))
                          + b"0\r\n\r\n", "Transfer-Encoding: chunked"),
        "until-close": answer(body, "Connection: close"),
    }
    server = scripted([answers[framing]], close_after=1)
    connection = Http11Connection("127.0.0.1", server.port, tls=False, timeout=5)
    with pytest.raises(http11.ProtocolError, match="too large"):
        connection.request("GET", "/", {}, None)
    assert not connection.is_open
