"""A Python client for the Meta simulator's sandbox (`/meta/sandbox/...` of a wabalink server):
WABAs and numbers, embedded sign-up tokens, faults, quality ratings, inbound messages, template
reviews, delivery rules and the store reset. Standard library only (urllib).

Each method is one HTTP call and returns the JSON answer (or the one value that matters, as
`mint_token` returns the token). A refusal raises `SandboxError` with the status and the
simulator's message; a route this build of wabalink does not serve raises `SandboxRouteMissing`.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

SANDBOX_PREFIX = "/meta/sandbox"
TIMEOUT_SECONDS = 30.0
_UNSET: Any = object()


class SandboxError(Exception):
    """The sandbox refused a call: `status` is the HTTP status, `message` the simulator's reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status, self.message = status, message


class SandboxRouteMissing(SandboxError, NotImplementedError):
    """The server has no such sandbox route: the area that provides it is not in this build."""


class SandboxClient:
    def __init__(self, endpoint: str, token: str | None = None, *, timeout: float = TIMEOUT_SECONDS) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.token = token  # the operator token, for servers started with a sandbox token
        self.timeout = timeout

    # --- WABAs, numbers, tokens ---------------------------------------------------------------

    def create_waba(self, name: str = "Acme", phone_numbers: int = 1, *, currency: str | None = None,
                    timezone_id: str | None = None, business_name: str | None = None) -> dict[str, Any]:
        """A WABA with `phone_numbers` numbers and its embedded sign-up token: {"wabaId",
        "accessToken", "phoneNumbers": [{"id", "displayPhoneNumber", ...}], ...}."""
        return self.request("POST", "/wabas", _given(name=name, phoneNumbers=phone_numbers, currency=currency,
                                                    timezoneId=timezone_id, businessName=business_name))

    def show_waba(self, waba_id: str) -> dict[str, Any]:
        return self.request("GET", f"/wabas/{_segment(waba_id)}")

    def add_phone_numbers(self, waba_id: str, count: int = 1, *, display_phone_number: str | None = None,
                          verified_name: str | None = None) -> list[dict[str, Any]]:
        answer = self.request("POST", f"/wabas/{_segment(waba_id)}/phone-numbers", _given(
            count=count, displayPhoneNumber=display_phone_number, verifiedName=verified_name))
        return answer["phoneNumbers"]

    def mint_token(self, waba_ids: list[str], *, expires_in: int | None = None,
                   scopes: list[str] | None = None) -> str:
        """A new embedded sign-up access token granted `waba_ids`."""
        answer = self.request("POST", "/tokens", _given(wabaIds=waba_ids, expiresInSeconds=expires_in, scopes=scopes))
        return answer["accessToken"]

    def expire_token(self, access_token: str) -> None:
        self.request("POST", "/tokens/expire", {"accessToken": access_token})

    def revoke_token(self, access_token: str) -> None:
        self.request("POST", "/tokens/revoke", {"accessToken": access_token})

    def set_quality_rating(self, phone_number_id: str, rating: str) -> dict[str, Any]:
        """GREEN, YELLOW, RED or UNKNOWN, for Meta's phone number id."""
        return self.request("PUT", f"/phone-numbers/{_segment(phone_number_id)}/quality-rating",
                            {"qualityRating": rating})

    # --- faults -------------------------------------------------------------------------------

    def inject_fault(self, *, fail_next: int = 0, status: int = 500, path_contains: str | None = None,
                     latency_ms: int = 0, duration_seconds: float | None = None) -> dict[str, Any]:
        """Fail the next `fail_next` Graph API calls (or every call for `duration_seconds`) with
        `status`, only calls whose path contains `path_contains` if given; add `latency_ms` to
        every call."""
        return self.request("POST", "/faults", _given(failNext=fail_next, status=status, pathContains=path_contains,
                                                     latencyMs=latency_ms, durationSeconds=duration_seconds))

    def show_faults(self) -> dict[str, Any]:
        return self.request("GET", "/faults")

    def clear_faults(self) -> dict[str, Any]:
        return self.request("DELETE", "/faults")

    # --- messaging (the messaging area's routes) ------------------------------------------------

    def send_inbound(self, phone_number_id: str, *, from_number: str, text: str | None = None,
                     image: bytes | None = None, image_mime_type: str = "image/jpeg", caption: str | None = None,
                     button_reply: tuple[str, str] | None = None, list_reply: tuple[str, str] | None = None,
                     reaction: str | None = None, location: tuple[float, float] | None = None,
                     context: str | None = None, name: str | None = None) -> str:
        """A WhatsApp user (`from_number`, E.164) writes to the business number `phone_number_id`
        (Meta's id): give exactly one of text, image (bytes), button_reply/list_reply (id, title),
        reaction (an emoji) or location (latitude, longitude); `context` is the wamid of the
        business's message it answers. Returns the inbound message's wamid."""
        body = _given(**{"from": from_number}, name=name, context=context, text=text)
        if image is not None:
            body["image"] = _given(data=base64.b64encode(image).decode(), mimeType=image_mime_type, caption=caption)
        if button_reply is not None:
            body["buttonReply"] = {"id": button_reply[0], "title": button_reply[1]}
        if list_reply is not None:
            body["listReply"] = {"id": list_reply[0], "title": list_reply[1]}
        if reaction is not None:
            body["reaction"] = {"emoji": reaction}
        if location is not None:
            body["location"] = {"latitude": location[0], "longitude": location[1]}
        answer = self.request("POST", f"/phone-numbers/{_segment(phone_number_id)}/inbound", body)
        return answer["wamid"]

    def set_delivery(self, phone_number_id: str, *, sent_delay_ms: int | None = None,
                     delivered_delay_ms: int | None = None, read_delay_ms: int | None = None,
                     stop_at: str | None = _UNSET, pair_limit: int | None = None,
                     pair_window_seconds: int | None = None,
                     undeliverable_suffix: str | None = None) -> dict[str, Any]:
        """The number's delivery schedule and rules; members not given keep their value.
        `stop_at`: "sent" or "delivered" to stop there, None to go on to "read"."""
        body = _given(sentDelayMs=sent_delay_ms, deliveredDelayMs=delivered_delay_ms, readDelayMs=read_delay_ms,
                      pairLimit=pair_limit, pairWindowSeconds=pair_window_seconds,
                      undeliverableSuffix=undeliverable_suffix)
        if stop_at is not _UNSET:
            body["stopAt"] = stop_at
        return self.request("PUT", f"/phone-numbers/{_segment(phone_number_id)}/delivery", body)

    def add_failure_rule(self, phone_number_id: str, error_code: int, *, recipient_suffix: str | None = None,
                         recipient_pattern: str | None = None, error_title: str | None = None) -> dict[str, Any]:
        """Messages to matching recipients fail with Meta's `error_code` (e.g. 131026)."""
        return self.request("POST", f"/phone-numbers/{_segment(phone_number_id)}/failure-rules", _given(
            errorCode=error_code, recipientSuffix=recipient_suffix, recipientPattern=recipient_pattern,
            errorTitle=error_title))

    def clear_failure_rules(self, phone_number_id: str) -> dict[str, Any]:
        return self.request("DELETE", f"/phone-numbers/{_segment(phone_number_id)}/failure-rules")

    def set_throughput(self, phone_number_id: str, *, tier: str | None = None,
                       messages_per_second: int | None = None) -> dict[str, Any]:
        return self.request("PUT", f"/phone-numbers/{_segment(phone_number_id)}/throughput",
                            _given(tier=tier, messagesPerSecond=messages_per_second))

    # --- templates (the templates area's route) -------------------------------------------------

    def review_template(self, template_id: str, decision: str | None = None, *, reason: str | None = None,
                        category: str | None = None) -> dict[str, Any]:
        """Meta's review of a message template: APPROVED, REJECTED (with `reason`), PAUSED or
        DISABLED, and/or a new `category`; each sends its webhook."""
        return self.request("POST", f"/templates/{_segment(template_id)}/review",
                            _given(decision=decision, reason=reason, category=category))

    # --- the whole store ------------------------------------------------------------------------

    def reset(self) -> dict[str, Any]:
        """Empties the store: every linked WABA, simulated WABA, token, message and event of every
        account is gone; the server's generated secrets stay."""
        return self.request("POST", "/reset")

    # --- HTTP -----------------------------------------------------------------------------------

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One sandbox call: `path` after `/meta/sandbox`; the JSON answer."""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.endpoint + SANDBOX_PREFIX + path, data=data, method=method,
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return _json(response.read())
        except urllib.error.HTTPError as error:
            answer = _json(error.read())
            message = answer.get("error", {}).get("message") if isinstance(answer, dict) else None
            message = str(message or answer)
            if error.code == 404 and message.startswith("no sandbox route"):
                raise SandboxRouteMissing(404, f"{message}: this build of wabalink does not include the area "
                                          "that serves it") from None
            raise SandboxError(error.code, message) from None


def _given(**members: Any) -> dict[str, Any]:
    return {name: value for name, value in members.items() if value is not None}


def _segment(value: str) -> str:
    return urllib.parse.quote(str(value), safe="")


def _json(data: bytes) -> Any:
    try:
        return json.loads(data) if data.strip() else {}
    except ValueError:
        return data.decode("utf-8", "replace")[:500]


__all__ = ["SandboxClient", "SandboxError", "SandboxRouteMissing"]
