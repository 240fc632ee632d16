"""GraphClient against a misbehaving Graph API: a tiny HTTP server answering each malformed shape.
Every one must raise GraphUnavailableError (the service's DependencyException), never another
exception (a 500) and never a success."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from wabalink.meta.client import GraphApiError, GraphClient, GraphProtocolError, GraphUnavailableError

WABA_ID = "123456789012345"
PHONE_ID = "223456789012345"
GOOD_PHONE = {"id": PHONE_ID, "display_phone_number": "+1 555-010-1234", "verified_name": "Acme",
              "quality_rating": "GREEN", "platform_type": "NOT_APPLICABLE", "status": "PENDING"}


class FakeGraph:
    """Answers every request with `status` and `body`, whatever was asked."""

    def __init__(self) -> None:
        self.status = 200
        self.body = b"{}"
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                self.send_response(fake.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(fake.body)))
                self.end_headers()
                self.wfile.write(fake.body)

            do_GET = do_POST = do_DELETE = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]

    def answer(self, payload: Any, status: int = 200) -> None:
        self.status = status
        self.body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGraph]:
    server = FakeGraph()
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def client(fake: FakeGraph) -> Iterator[GraphClient]:
    graph = GraphClient(f"http://127.0.0.1:{fake.port}", "1|secret", 5)
    yield graph
    graph.close()


Call = Callable[[GraphClient], Any]
LIST: Call = lambda c: c.list_phone_numbers(WABA_ID)  # noqa: E731
GET_WABA: Call = lambda c: c.get_waba(WABA_ID)  # noqa: E731
EXPANDED: Call = lambda c: c.get_waba_with_phone_numbers(WABA_ID)  # noqa: E731
PHONE: Call = lambda c: c.get_phone_number(PHONE_ID)  # noqa: E731
DEBUG: Call = lambda c: c.debug_token("EAAWtoken")  # noqa: E731
REGISTER: Call = lambda c: c.register_phone_number(PHONE_ID, "123456")  # noqa: E731

MALFORMED: list[tuple[str, Call, Any]] = [
    ("number without id", LIST, {"data": [{k: v for k, v in GOOD_PHONE.items() if k != "id"}], "paging": {}}),
    ("number with non-numeric id", LIST, {"data": [{**GOOD_PHONE, "id": "12/../34"}]}),
    ("number with object id", LIST, {"data": [{**GOOD_PHONE, "id": {"x": 1}}]}),
    ("data not a list", LIST, {"data": "numbers"}),
    ("data missing", LIST, {"paging": {}}),
    ("number not an object", LIST, {"data": ["x"]}),
    ("paging not an object", LIST, {"data": [GOOD_PHONE], "paging": ["next"]}),
    ("cursors not an object", LIST, {"data": [GOOD_PHONE], "paging": {"cursors": "a", "next": "x"}}),
    ("21-character display number", LIST, {"data": [{**GOOD_PHONE, "display_phone_number": "+1 555 010 1234 56789"}]}),
    ("21-character E.164 number", LIST, {"data": [{**GOOD_PHONE, "display_phone_number": "12345678901234567890"}]}),
    ("display number without digits", PHONE, {**GOOD_PHONE, "display_phone_number": "none"}),
    ("201-character verified name", PHONE, {**GOOD_PHONE, "verified_name": "n" * 201}),
    ("NUL in verified name", PHONE, {**GOOD_PHONE, "verified_name": "Ac\u0000me"}),
    ("quality rating not a string", PHONE, {**GOOD_PHONE, "quality_rating": ["GREEN"]}),
    ("over-long quality rating", PHONE, {**GOOD_PHONE, "quality_rating": "GREEN" * 3}),
    ("WABA without name", GET_WABA, {"id": WABA_ID}),
    ("WABA name over 200", GET_WABA, {"id": WABA_ID, "name": "w" * 201}),
    ("WABA name with NUL", GET_WABA, {"id": WABA_ID, "name": "\u0000"}),
    ("another WABA", GET_WABA, {"id": "999", "name": "Other"}),
    ("expansion not an object", EXPANDED, {"id": WABA_ID, "name": "Acme", "phone_numbers": [GOOD_PHONE]}),
    ("expansion data not a list", EXPANDED, {"id": WABA_ID, "name": "Acme", "phone_numbers": {"data": {}}}),
    ("error is a list", GET_WABA, {"error": ["boom"]}),
    ("error is a string with 400", GET_WABA, {"error": "boom"}),
    ("error list with 200 on register", REGISTER, {"error": [], "success": True}),
    ("register without success", REGISTER, {"success": "yes"}),
    ("debug_token without data", DEBUG, {}),
    ("debug_token data a list", DEBUG, {"data": []}),
    ("debug_token is_valid not boolean", DEBUG, {"data": {"is_valid": "true", "scopes": []}}),
    ("debug_token scopes not a list", DEBUG, {"data": {"is_valid": True, "scopes": "all"}}),
    ("debug_token granular scopes not a list", DEBUG, {"data": {"is_valid": True, "granular_scopes": {}}}),
    ("debug_token target ids malformed", DEBUG,
     {"data": {"is_valid": True, "granular_scopes": [{"scope": "whatsapp_business_management", "target_ids": [[1]]}]}}),
    ("debug_token error not an object", DEBUG, {"data": {"is_valid": False, "error": "expired"}}),
    ("a JSON array", GET_WABA, [1, 2]),
    ("deeply nested JSON", GET_WABA, b"[" * 100_000 + b"]" * 100_000),
    ("not JSON", GET_WABA, b"<html>"),
]


@pytest.mark.parametrize(("call", "payload"), [(c, p) for _, c, p in MALFORMED], ids=[n for n, _, _ in MALFORMED])
def test_malformed_answers_are_unavailable_errors(fake: FakeGraph, client: GraphClient, call: Call,
                                                  payload: Any) -> None:
    fake.answer(payload)
    with pytest.raises(GraphUnavailableError):
        call(client)


def test_malformed_shapes_are_protocol_errors(fake: FakeGraph, client: GraphClient) -> None:
    fake.answer({"data": [{"display_phone_number": "+1 555"}]})
    with pytest.raises(GraphProtocolError) as raised:
        LIST(client)
    assert "phone number id" in str(raised.value)


def test_error_object_text_is_bounded_and_cleaned(fake: FakeGraph, client: GraphClient) -> None:
    fake.answer({"error": {"message": "bad\u0000" + "x" * 10_000, "type": ["odd"], "code": "190",
                           "error_subcode": "463"}}, status=400)
    with pytest.raises(GraphApiError) as raised:
        GET_WABA(client)
    error = raised.value
    assert len(error.message) <= 500 and "\u0000" not in error.message
    assert error.code == 190 and error.token_invalid_reason == "expired"


def test_well_formed_answers_still_parse(fake: FakeGraph, client: GraphClient) -> None:
    fake.answer({"data": [GOOD_PHONE, {**GOOD_PHONE, "id": int("323456789012345")}], "paging": {}})
    numbers = LIST(client)
    assert [n.id for n in numbers] == [PHONE_ID, "323456789012345"]
    assert numbers[0].phone_number == "+15550101234"
    fake.answer({"id": WABA_ID, "name": "Acme", "timezone_id": 1})
    assert GET_WABA(client).timezone_id == "1"
    fake.answer({"id": WABA_ID, "name": "Acme"})
    assert EXPANDED(client)[1] == []  # Meta leaves an empty edge out


def test_oversized_body_is_refused(fake: FakeGraph, client: GraphClient) -> None:
    fake.answer(b'{"data": [' + b" " * (9 * 1024 * 1024) + b"]}")
    with pytest.raises(GraphUnavailableError):
        LIST(client)


@pytest.mark.parametrize(("error", "reason"), [
    ({"code": 190, "subcode": 463, "message": "Session has expired on Monday"}, "expired"),
    ({"code": 190, "subcode": 460, "message": "The session has been invalidated"}, "revoked"),
    ({"code": 190, "subcode": 458, "message": "The user has not authorized application 1."}, "revoked"),
    ({"code": 190, "message": "Invalid OAuth access token - Cannot parse access token"}, "unknown"),
])
def test_debug_token_says_why_a_token_is_invalid(fake: FakeGraph, client: GraphClient, error: dict[str, Any],
                                                 reason: str) -> None:
    fake.answer({"data": {"is_valid": False, "scopes": [], "error": error}})
    info = DEBUG(client)
    assert not info.is_valid and info.invalid_reason == reason


def test_valid_token_has_no_invalid_reason(fake: FakeGraph, client: GraphClient) -> None:
    fake.answer({"data": {"is_valid": True, "app_id": "1", "scopes": ["whatsapp_business_management"],
                          "granular_scopes": [{"scope": "whatsapp_business_management", "target_ids": [WABA_ID]}]}})
    info = DEBUG(client)
    assert info.invalid_reason is None and info.granted_waba_ids == [WABA_ID]
