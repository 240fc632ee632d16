"""Sandbox controls of a number's messaging:

  PUT    /phone-numbers/{id}/throughput      {tier: STANDARD|HIGH|COEXISTENCE} or {messagesPerSecond}
  PUT    /phone-numbers/{id}/delivery        {sentDelayMs?, deliveredDelayMs?, readDelayMs?, stopAt?:
                                             "sent"|"delivered"|null, pairLimit?, pairWindowSeconds?,
                                             undeliverableSuffix?}  (unnamed members keep their value)
  GET    /phone-numbers/{id}/messaging       the number's settings and failure rules
  POST   /phone-numbers/{id}/failure-rules   {recipientSuffix? | recipientPattern?, errorCode, errorTitle?}
  DELETE /phone-numbers/{id}/failure-rules
  GET    /phone-numbers/{id}/conversations   users with their last messages, window open or closed
  POST   /phone-numbers/{id}/inbound         a user writes to the number (inbound.py)
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from typing import TYPE_CHECKING, Any

from wabalink.meta import inbound
from wabalink.meta.calls import SandboxCall
from wabalink.meta.delivery import (
    FAILURE_TITLES,
    THROUGHPUT_TIERS,
    WINDOW_SECONDS,
    NumberSettings,
    failure_rules,
    number_settings,
    save_number_settings,
)
from wabalink.meta.errors import SandboxError
from wabalink.meta.routing import Route
from wabalink.meta.sandbox_input import meta_id, optional_int, optional_str
from wabalink.server.http import HttpResponse, json_response
from wabalink.store import meta_messages as q

if TYPE_CHECKING:
    from wabalink.meta.simulator import MetaSimulator

MAX_DELAY_MS = 3_600_000
MAX_THROUGHPUT = 100_000
SUFFIX = re.compile(r"[0-9]{0,15}")
# Failure-rule patterns run on every send, under the GIL: without groups no repeat can nest, so
# matching a recipient (at most 20 characters) stays cheap whatever the pattern.
SAFE_PATTERN = re.compile(r"(?:[0-9+.^$|?*]|\\[d+.]|\[[0-9^\-]+\]|\{[0-9]{1,2}(?:,[0-9]{0,2})?\}){1,200}")
MAX_REPEATS = 4  # k repeats on a 20-character recipient: at most 20**k steps when nothing matches
CONVERSATIONS_LIMIT = 100
MESSAGES_PER_CONVERSATION = 20


def _phone(sim: MetaSimulator, call: SandboxCall) -> str:
    phone_id = meta_id(call.args["phone_id"], "phoneNumberId")
    if sim.state.get_phone_number(phone_id) is None:
        raise SandboxError(404, f"phone number {phone_id} not found")
    return phone_id


def _settings_json(settings: NumberSettings) -> dict[str, Any]:
    return {"throughputMps": settings.throughput_mps, "sentDelayMs": settings.sent_delay_ms,
            "deliveredDelayMs": settings.delivered_delay_ms, "readDelayMs": settings.read_delay_ms,
            "stopAt": settings.stop_at, "pairLimit": settings.pair_limit,
            "pairWindowSeconds": settings.pair_window_seconds, "undeliverableSuffix": settings.undeliverable_suffix}


def _update_settings(sim: MetaSimulator, phone_id: str, changes: dict[str, Any]) -> HttpResponse:
    with sim.store.writer() as cursor:
        settings = dataclasses.replace(number_settings(cursor, phone_id), **changes)
        save_number_settings(cursor, phone_id, settings)
        rules = failure_rules(cursor, phone_id)
    return json_response(200, _messaging_json(phone_id, settings, rules))


def _messaging_json(phone_id: str, settings: NumberSettings, rules: list[Any]) -> dict[str, Any]:
    return {"phoneNumberId": phone_id, **_settings_json(settings),
            "failureRules": [{"id": r.id, "recipientSuffix": r.recipient_suffix,
                              "recipientPattern": r.recipient_pattern, "errorCode": r.error_code,
                              "errorTitle": r.error_title} for r in rules]}


def _set_throughput(sim: MetaSimulator, call: SandboxCall) -> HttpResponse:
    phone_id = _phone(sim, call)
    body = call.body()
    tier = optional_str(body, "tier")
    if (tier is None) == (body.get("messagesPerSecond") is None):
        raise SandboxError(400, f"give tier ({', '.join(THROUGHPUT_TIERS)}) or messagesPerSecond")
    if tier is not None and tier not in THROUGHPUT_TIERS:
        raise SandboxError(400, f"tier must be one of {', '.join(THROUGHPUT_TIERS)}")
    mps = THROUGHPUT_TIERS[tier] if tier else optional_int(body, "messagesPerSecond", 0, minimum=1,
                                                           maximum=MAX_THROUGHPUT)
    return _update_settings(sim, phone_id, {"throughput_mps": mps})


def _set_delivery(sim: MetaSimulator, call: SandboxCall) -> HttpResponse:
    phone_id = _phone(sim, call)
    body = call.body()
    changes: dict[str, Any] = {}
    for name, field in (("sentDelayMs", "sent_delay_ms"), ("deliveredDelayMs", "delivered_delay_ms"),
                        ("readDelayMs", "read_delay_ms")):
        if body.get(name) is not None:
            changes[field] = optional_int(body, name, 0, minimum=0, maximum=MAX_DELAY_MS)
    if body.get("pairLimit") is not None:
        changes["pair_limit"] = optional_int(body, "pairLimit", 0, minimum=1, maximum=1_000_000)
    if body.get("pairWindowSeconds") is not None:
        changes["pair_window_seconds"] = optional_int(body, "pairWindowSeconds", 0, minimum=1, maximum=86_400)
    if "stopAt" in body:
        if body["stopAt"] not in (None, "sent", "delivered", "read"):
            raise SandboxError(400, "stopAt must be sent, delivered, read or null")
        changes["stop_at"] = None if body["stopAt"] in (None, "read") else body["stopAt"]
    if "undeliverableSuffix" in body:
        suffix = body["undeliverableSuffix"] or ""
        if not isinstance(suffix, str) or not SUFFIX.fullmatch(suffix):
            raise SandboxError(400, "undeliverableSuffix must be up to 15 digits (empty: no built-in rule)")
        changes["undeliverable_suffix"] = suffix
    return _update_settings(sim, phone_id, changes)


def _show_messaging(sim: MetaSimulator, call: SandboxCall) -> HttpResponse:
    phone_id = _phone(sim, call)
    with sim.store.reader() as cursor:
        settings, rules = number_settings(cursor, phone_id), failure_rules(cursor, phone_id)
    return json_response(200, _messaging_json(phone_id, settings, rules))


def _add_failure_rule(sim: MetaSimulator, call: SandboxCall) -> HttpResponse:
    phone_id = _phone(sim, call)
    body = call.body()
    suffix = optional_str(body, "recipientSuffix", max_length=15)
    pattern = optional_str(body, "recipientPattern", max_length=200)
    if suffix is None and pattern is None:
        raise SandboxError(400, "give recipientSuffix or recipientPattern (or both)")
    if suffix is not None and not SUFFIX.fullmatch(suffix):
        raise SandboxError(400, "recipientSuffix must be digits")
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as error:
            raise SandboxError(400, f"recipientPattern is not a regular expression: {error}") from None
        repeats = sum(pattern.count(op) for op in "*+?{") - pattern.count("\\+")
        if not SAFE_PATTERN.fullmatch(pattern) or repeats > MAX_REPEATS:
            raise SandboxError(400, "recipientPattern may use digits, +, ., \\d, character classes [..], "
                                    "^, $, | and at most 4 repeats (? * + {m,n}), without groups: nested or many repeats "
                                    "(e.g. (\\d*)*) could stall the server on every send")
    code = optional_int(body, "errorCode", 0, minimum=1, maximum=999_999)
    if code == 0:
        raise SandboxError(400, "errorCode is required (e.g. 131026, 131049, 131050)")
    title = optional_str(body, "errorTitle") or FAILURE_TITLES.get(code, "Message failed to send")
    with sim.store.writer() as cursor:
        cursor.run(q.INSERT_RULE, phone_number_id=phone_id, recipient_suffix=suffix, recipient_pattern=pattern,
                   error_code=code, error_title=title, created_at=time.time())
        settings, rules = number_settings(cursor, phone_id), failure_rules(cursor, phone_id)
    return json_response(201, _messaging_json(phone_id, settings, rules))


def _clear_failure_rules(sim: MetaSimulator, call: SandboxCall) -> HttpResponse:
    phone_id = _phone(sim, call)
    with sim.store.writer() as cursor:
        cursor.run(q.DELETE_RULES, phone_id=phone_id)
        settings = number_settings(cursor, phone_id)
    return json_response(200, _messaging_json(phone_id, settings, []))


def _conversations(sim: MetaSimulator, call: SandboxCall) -> HttpResponse:
    phone_id = _phone(sim, call)
    now = time.time()
    conversations = []
    with sim.store.reader() as cursor:
        for user, last_at in cursor.tuples(q.CONVERSATION_USERS, phone_id=phone_id, limit=CONVERSATIONS_LIMIT):
            window = q.window_of(cursor, phone_id, user)
            messages = cursor.rows(q.LAST_MESSAGES, phone_id=phone_id, user=user, limit=MESSAGES_PER_CONVERSATION)
            open_ = window is not None and now - window["last_inbound_at"] < WINDOW_SECONDS
            conversations.append({
                "waId": user, "profileName": window["profile_name"] if window else None,
                "lastMessageAt": last_at, "windowOpen": open_,
                "windowExpiresAt": window["last_inbound_at"] + WINDOW_SECONDS if window else None,
                "messages": [_message_json(row) for row in messages]})
    return json_response(200, {"phoneNumberId": phone_id, "conversations": conversations})


def _message_json(row: dict[str, Any]) -> dict[str, Any]:
    return {"wamid": row["wamid"], "direction": row["direction"], "type": row["type"], "status": row["status"],
            "errorCode": row["error_code"], "createdAt": row["created_at"], "updatedAt": row["updated_at"],
            "content": json.loads(row["content"])}


SANDBOX_ROUTES = [
    Route("PUT", "/phone-numbers/{phone_id}/throughput", _set_throughput),
    Route("PUT", "/phone-numbers/{phone_id}/delivery", _set_delivery),
    Route("GET", "/phone-numbers/{phone_id}/messaging", _show_messaging),
    Route("POST", "/phone-numbers/{phone_id}/failure-rules", _add_failure_rule),
    Route("DELETE", "/phone-numbers/{phone_id}/failure-rules", _clear_failure_rules),
    Route("GET", "/phone-numbers/{phone_id}/conversations", _conversations),
    Route("POST", "/phone-numbers/{phone_id}/inbound", inbound.receive_inbound),
]
