"""The console's parts on their own: the live stream's bounds (heartbeat, lifetime, cap), signed
sessions and sealed form values, the same-origin check, and how errors find their form fields."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import pytest

from wabalink.aws.exceptions import ValidationException
from wabalink.console import live
from wabalink.console.actions import ActionError
from wabalink.console.session import CrossSiteRequest, Sessions, check_same_origin
from wabalink.server.http import HttpRequest


def run_stream(fingerprints: list[str], *, cap: int = 2, open_streams: int = 0,
               disconnect_after: float | None = None) -> tuple[list[dict[str, Any]], live.StreamLimiter]:
    limiter = live.StreamLimiter(cap)
    limiter.open = open_streams
    workers = ThreadPoolExecutor(2)
    page = SimpleNamespace(console=SimpleNamespace(streams=limiter, workers=workers),
                           request=SimpleNamespace(path="/console/stream/test"))
    values = iter(fingerprints)
    last = {"value": fingerprints[0]}

    def fingerprint() -> str:
        last["value"] = next(values, last["value"])
        return last["value"]

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(disconnect_after if disconnect_after is not None else 3600)
        return {"type": "http.disconnect"}

    asyncio.run(live.stream(page, lambda _page: fingerprint, receive, send))  # type: ignore[arg-type]
    workers.shutdown()
    return sent, limiter


def body_text(sent: list[dict[str, Any]]) -> str:
    return "".join(m.get("body", b"").decode() for m in sent if m["type"] == "http.response.body")


def test_a_stream_says_when_the_page_changed_sends_heartbeats_and_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "POLL_SECONDS", 0.01)
    monkeypatch.setattr(live, "HEARTBEAT_SECONDS", 0.05)
    monkeypatch.setattr(live, "MAX_LIFETIME_SECONDS", 0.3)
    started = time.monotonic()
    sent, limiter = run_stream(["a", "a", "b", "b"])
    assert time.monotonic() - started < 2
    assert sent[0]["status"] == 200 and (b"content-type", b"text/event-stream; charset=utf-8") in sent[0]["headers"]
    text = body_text(sent)
    assert text.startswith("retry: ") and text.count("event: changed") == 1 and ": heartbeat" in text
    assert sent[-1].get("more_body") is False and limiter.open == 0


def test_a_stream_ends_when_the_browser_goes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "POLL_SECONDS", 0.01)
    started = time.monotonic()
    _, limiter = run_stream(["a"], disconnect_after=0.05)
    assert time.monotonic() - started < 2 and limiter.open == 0


def test_streams_beyond_the_cap_are_answered_503() -> None:
    sent, limiter = run_stream(["a"], cap=2, open_streams=2)
    assert sent[0]["status"] == 503 and (b"retry-after", b"30") in sent[0]["headers"]
    assert limiter.open == 2
    assert live.stream_cap(1000) == 100 and live.stream_cap(40) == 10 and live.stream_cap(1) == 1


def sessions(strict: bool = False) -> Sessions:
    return Sessions(b"k" * 32, strict=strict, credentials={"AKIA1": ("secret-1", "111122223333")})


def with_cookie(cookie: tuple[bytes, bytes], **headers: str) -> HttpRequest:
    return HttpRequest("GET", "/console/", headers={"cookie": cookie[1].decode().split(";", 1)[0], **headers})


def test_sessions_are_signed_and_tampering_is_ignored() -> None:
    store = sessions()
    session = store.new(account_id="123456789012")
    name, value = store.cookie_header(session)
    assert name == b"set-cookie" and b"HttpOnly" in value and b"SameSite=Strict" in value
    assert store.read(with_cookie((name, value))) == session
    payload = value.decode().split(";", 1)[0]
    tampered = payload[:-3] + ("000" if not payload.endswith("000") else "111")
    assert store.read(HttpRequest("GET", "/", headers={"cookie": tampered})) is None
    assert sessions().read(with_cookie((name, value))) is not None  # same key, another replica
    assert Sessions(b"x" * 32, strict=False, credentials={}).read(with_cookie((name, value))) is None


def test_strict_login_checks_the_secret_and_renews_the_session() -> None:
    store = sessions(strict=True)
    anonymous = store.new()
    assert not store.is_signed_in(anonymous)
    assert store.login(anonymous, "AKIA1", "wrong") is None
    assert store.login(anonymous, "AKIA-unknown", "secret-1") is None
    signed_in = store.login(anonymous, "AKIA1", "secret-1")
    assert signed_in is not None and store.is_signed_in(signed_in) and signed_in.account_id == "111122223333"
    assert store.csrf_token(signed_in) != store.csrf_token(anonymous)
    assert store.choose(signed_in, "000000000000", "eu-west-1").account_id == "111122223333"
    with pytest.raises(ValueError):
        sessions().choose(anonymous, "12", None)


def test_sealed_values_belong_to_their_session() -> None:
    store = sessions()
    first, second = store.new(), store.new()
    sealed = store.seal(first, {"token": "t"})
    assert store.unseal(first, sealed) == {"token": "t"}
    assert store.unseal(second, sealed) is None
    assert store.unseal(first, sealed[:-1] + "0") in (None, {"token": "t"}) and store.unseal(first, "x.y") is None


@pytest.mark.parametrize("headers, refused", [
    ({"host": "127.0.0.1:4599", "origin": "http://127.0.0.1:4599"}, False),
    ({"host": "127.0.0.1:4599"}, False),
    ({"host": "127.0.0.1:4599", "referer": "http://127.0.0.1:4599/console/"}, False),
    ({"host": "127.0.0.1:4599", "origin": "http://attacker.example"}, True),
    ({"host": "127.0.0.1:4599", "origin": "null"}, True),
    ({"host": "127.0.0.1:4599", "origin": "http://127.0.0.1:4600"}, True),
    ({"host": "127.0.0.1:4599", "referer": "https://attacker.example/x"}, True),
    ({"host": "127.0.0.1:4599", "sec-fetch-site": "cross-site"}, True),
])
def test_same_origin_check(headers: dict[str, str], refused: bool) -> None:
    request = HttpRequest("POST", "/console/account", headers=headers)
    if refused:
        with pytest.raises(CrossSiteRequest):
            check_same_origin(request)
    else:
        check_same_origin(request)


def test_errors_find_the_fields_they_name() -> None:
    error = ActionError.from_aws(ValidationException(
        "1 validation error detected: Value at 'setupFinalization.phoneNumbers[1].twoFactorPin' failed to satisfy "
        "constraint: Member must have length less than or equal to 6"))
    assert error.for_field("setupFinalization.phoneNumbers[1].twoFactorPin")
    assert not error.for_field("setupFinalization.phoneNumbers[0].twoFactorPin")
    renumbered = error.renumbered("setupFinalization.phoneNumbers[1]", "setupFinalization.phoneNumbers[3]")
    assert renumbered.for_field("setupFinalization.phoneNumbers[3].twoFactorPin")
    whole = ActionError("InvalidParametersException", "setupFinalization.phoneNumbers[0] was rejected by Meta: x",
                        {"setupFinalization.phoneNumbers[0]"})
    assert whole.for_field("setupFinalization.phoneNumbers[0].twoFactorPin")
    top = ActionError("DependencyException", "setupFinalization: Meta failed", {"setupFinalization"})
    assert not top.for_field("setupFinalization.phoneNumbers[0].twoFactorPin")


REQUIRED_TEST_IDS = ("signup-start", "signup-business-name", "signup-add-number", "signup-verify-code", "signup-finish",
                     "finalize-pin", "finalize-region", "finalize-event-destination", "finalize-submit",
                     "linked-account-row", "inbox-conversation", "inbox-compose-text", "inbox-send", "message-status",
                     "event-row", "event-replay")


def test_the_controls_carry_their_stable_test_ids() -> None:
    from importlib import resources

    folder = resources.files("wabalink.console").joinpath("templates")
    text = "".join(entry.read_text() for entry in folder.iterdir() if entry.name.endswith(".html"))
    # Some are given to the field macro (testid="..."), which writes the data-testid attribute.
    assert [testid for testid in REQUIRED_TEST_IDS if f'testid="{testid}"' not in text] == []
