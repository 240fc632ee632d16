"""The inbox of a business number: its conversations with simulated customers (from the
simulator's sandbox), each message with its live status, a composer that writes as the customer
(the sandbox's inbound route) and, when SendWhatsAppMessage exists, a reply as the business."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from wabalink.console import integrations
from wabalink.console.actions import ActionError
from wabalink.console.live import Fingerprint
from wabalink.console.render import redirect
from wabalink.console.web import Page, Route, page
from wabalink.server.http import HttpResponse

# An 8x8 green PNG: the picture a simulated customer sends from the console's composer.
SAMPLE_IMAGE_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAEUlEQVR4nGNQvZyGFTEMLQkAIIZXgYDWEVMAAAAASUVORK5CYII="
KINDS = ("text", "buttonReply", "listReply", "reaction", "image")
META_API_VERSION = "v21.0"


def _phone(p: Page) -> dict[str, Any]:
    """The caller's number (ActionError when it is not theirs)."""
    return p.call("GetLinkedWhatsAppBusinessAccountPhoneNumber", {"id": p.args["phone_id"]})["phoneNumber"]


def _conversations(p: Page, meta_phone_id: str) -> tuple[list[dict[str, Any]], str | None]:
    status, answer = p.console.sandbox("GET", f"/phone-numbers/{meta_phone_id}/conversations")
    if status != 200:
        return [], answer.get("error", {}).get("message", f"the simulator's sandbox answered {status}")
    conversations = answer.get("conversations", [])
    for conversation in conversations:
        for message in conversation.get("messages", []):
            message["summary"] = message_summary(message.get("type", ""), message.get("content"))
    return conversations, None


def message_summary(kind: str, content: Any) -> str:
    """What a message says, in a line: its text, caption, reply title, emoji or template name.
    `content` is the message type's members (`{"body": ...}` for text), or a whole message body."""
    if not isinstance(content, dict):
        return f"[{kind}]"
    nested = content.get(kind)
    members: dict[str, Any] = nested if isinstance(nested, dict) else content
    if kind == "text":
        return str(members.get("body", ""))
    if kind == "interactive":
        for reply in ("button_reply", "list_reply"):
            if isinstance(members.get(reply), dict):
                return f"{members[reply].get('title', '')} ({reply.replace('_', ' ')})"
        body = members.get("body")
        return str(body.get("text", "")) if isinstance(body, dict) else "[interactive]"
    if kind == "reaction":
        return f"{members.get('emoji', '')} (reaction)"
    if kind in ("image", "video", "document", "audio", "sticker"):
        return f"[{kind}] {members.get('caption', '')}".strip()
    if kind == "template":
        return f"[template {members.get('name', '')}]"
    return f"[{kind}]"


def _inbox(p: Page, *, error: str | None = None, typed: dict[str, str] | None = None, status: int = 200) -> HttpResponse:
    try:
        phone = _phone(p)
    except ActionError as missing:
        return p.render("refused.html", status=404, message=missing.message)
    if not integrations.inbox_available():
        return p.render("inbox.html", phone=phone, unavailable=True, conversations=[], selected=None, error=None,
                        typed={}, kinds=KINDS, can_send=False)
    conversations, sandbox_error = _conversations(p, phone["metaPhoneNumberId"])
    chosen = (typed or {}).get("from") or p.query.get("with")
    selected = next((c for c in conversations if c["waId"] == (chosen or "").lstrip("+")), None)
    if selected is None and conversations and not chosen:
        selected = conversations[0]
    return p.render("inbox.html", status=status, phone=phone, unavailable=False, conversations=conversations,
                    selected=selected, error=error or sandbox_error, typed=typed or {}, kinds=KINDS,
                    can_send=p.caller.available("SendWhatsAppMessage"))


@page()
def inbox(p: Page) -> HttpResponse:
    return _inbox(p)


def _inbound_body(form: dict[str, str]) -> dict[str, Any]:
    kind = form.get("kind", "text")
    body: dict[str, Any] = {"from": form.get("from", "").strip()}
    if form.get("name", "").strip():
        body["name"] = form["name"].strip()
    if form.get("context", "").strip():
        body["context"] = form["context"].strip()
    if kind == "text":
        body["text"] = form.get("text", "")
    elif kind in ("buttonReply", "listReply"):
        body[kind] = {"id": form.get("replyId", "").strip(), "title": form.get("replyTitle", "").strip()}
    elif kind == "reaction":
        body["reaction"] = {"emoji": form.get("emoji", "").strip()}
    elif kind == "image":
        body["image"] = {"data": SAMPLE_IMAGE_PNG, "mimeType": "image/png", "caption": form.get("text", "")}
    else:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    return body


@page()
def send_inbound(p: Page) -> HttpResponse:
    """The customer writes to the business: the simulator stores it and sends Meta's webhook."""
    try:
        phone = _phone(p)
        body = _inbound_body(p.form)
    except ActionError as missing:
        return p.render("refused.html", status=404, message=missing.message)
    except ValueError as wrong:
        return _inbox(p, error=str(wrong), typed=p.form, status=400)
    if not integrations.inbox_available():
        return _inbox(p)
    status, answer = p.console.sandbox("POST", f"/phone-numbers/{phone['metaPhoneNumberId']}/inbound", body)
    if status >= 300:
        return _inbox(p, error=answer.get("error", {}).get("message", str(status)), typed=p.form, status=400)
    return redirect(f"/console/phone-numbers/{p.args['phone_id']}/inbox?with={body['from'].lstrip('+')}")


@page()
def send_as_business(p: Page) -> HttpResponse:
    """A text reply through SendWhatsAppMessage, as an application would send it."""
    to = p.form.get("to", "").strip()
    message = {"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": p.form.get("body", "")}}
    try:
        p.call("SendWhatsAppMessage", {"originationPhoneNumberId": p.args["phone_id"],
                                       "message": json.dumps(message).encode(), "metaApiVersion": META_API_VERSION})
    except ActionError as error:
        return _inbox(p, error=error.message, typed={"with": to}, status=400)
    return redirect(f"/console/phone-numbers/{p.args['phone_id']}/inbox?with={to.lstrip('+')}")


@page(stream=True)
def inbox_stream(p: Page) -> Fingerprint | None:
    """Changes when a message arrives or a status changes."""
    try:
        meta_phone_id = _phone(p)["metaPhoneNumberId"]
    except ActionError:
        return None
    if not integrations.inbox_available():
        return None

    def fingerprint() -> str:
        conversations, error = _conversations(p, meta_phone_id)
        digest = hashlib.sha256(repr(error).encode())
        for conversation in conversations:
            for message in conversation.get("messages", []):
                digest.update(f"{message.get('wamid')}:{message.get('status')}:{message.get('updatedAt')};".encode())
        return digest.hexdigest()
    return fingerprint


ROUTES = [
    Route("GET", "/phone-numbers/{phone_id}/inbox", inbox),
    Route("POST", "/phone-numbers/{phone_id}/inbox/inbound", send_inbound),
    Route("POST", "/phone-numbers/{phone_id}/inbox/send", send_as_business),
    Route("GET", "/stream/inbox/{phone_id}", inbox_stream),
]
