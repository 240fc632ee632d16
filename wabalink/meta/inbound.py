"""A simulated WhatsApp user writes to a business number (sandbox):
`POST /phone-numbers/{phone_id}/inbound` with `{"from": "+E164", "name"?, and one of "text",
"image": {"data": base64, "mimeType", "caption"?}, "buttonReply": {"id", "title"},
"listReply": {"id", "title", "description"?}, "reaction": {"emoji"}, "location": {"latitude",
"longitude", "name"?, "address"?}; "context": "<wamid>" for replies and reactions}`; answers
`{"wamid"}`. The message is stored, the user's 24-hour window with the number opens, and the
`messages` webhook goes out in Meta's inbound shape, all in one transaction. Image bytes go to the
media store (`wabalink.meta.media.store_media`, its media id fetchable like any inbound media)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import re
import time
from typing import TYPE_CHECKING, Any

from wabalink.meta.calls import SandboxCall
from wabalink.meta.delivery import digits_of
from wabalink.meta.errors import SandboxError
from wabalink.meta.messages import new_wamid
from wabalink.meta.sandbox_input import CONTROL_CHARACTERS, meta_id, optional_str
from wabalink.meta.webhooks import enqueue_webhook, wake_sender
from wabalink.server.http import HttpResponse, json_response
from wabalink.store import meta_messages as q

if TYPE_CHECKING:
    from wabalink.meta.simulator import MetaSimulator

E164 = re.compile(r"\+?([0-9]{5,15})")
KINDS = ("text", "image", "buttonReply", "listReply", "reaction", "location")
IMAGE_MIME_TYPES = ("image/jpeg", "image/png")
IMAGE_MAX_BYTES = 5 * 1024 * 1024
TEXT_MAX = 4096


def _kind(body: dict[str, Any]) -> str:
    given = [kind for kind in KINDS if body.get(kind) is not None]
    if len(given) != 1:
        raise SandboxError(400, f"give exactly one of {', '.join(KINDS)}")
    return given[0]


def _string(container: dict[str, Any], name: str, path: str, max_length: int, *, required: bool = True) -> str | None:
    value = container.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value) or len(value) > max_length:
        raise SandboxError(400, f"{path}{name} must be a string of 1 to {max_length} characters")
    if CONTROL_CHARACTERS.search(value.replace("\n", "").replace("\t", "")):
        raise SandboxError(400, f"{path}{name} must not contain control characters")
    return value


def _object(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = body[name]
    if not isinstance(value, dict):
        raise SandboxError(400, f"{name} must be an object")
    return value


def _context(sim: MetaSimulator, body: dict[str, Any], phone_id: str, required: bool) -> str | None:
    context = optional_str(body, "context", max_length=q.WAMID_MAX_LENGTH)
    if context is None:
        if required:
            raise SandboxError(400, "context is required: the wamid of the business's message it answers")
        return None
    with sim.store.reader() as cursor:
        row = cursor.row(q.SELECT_MESSAGE, message_wamid=context)
    if row is None or row["phone_number_id"] != phone_id:
        raise SandboxError(404, f"context {context} is not a message of phone number {phone_id}")
    return context


def _content(sim: MetaSimulator, phone_id: str, body: dict[str, Any], kind: str) -> tuple[str, dict[str, Any]]:
    """(Meta's message type, the type's members) of the inbound message."""
    if kind == "text":
        return "text", {"text": {"body": _string(body, "text", "", TEXT_MAX)}}
    if kind in ("buttonReply", "listReply"):
        reply = _object(body, kind)
        members = {"id": _string(reply, "id", f"{kind}.", 256), "title": _string(reply, "title", f"{kind}.", 72)}
        meta_kind = "button_reply" if kind == "buttonReply" else "list_reply"
        if kind == "listReply" and reply.get("description") is not None:
            members["description"] = _string(reply, "description", f"{kind}.", 72)
        return "interactive", {"interactive": {"type": meta_kind, meta_kind: members}}
    if kind == "reaction":
        reaction = _object(body, kind)
        emoji = _string(reaction, "emoji", "reaction.", 16)
        return "reaction", {"reaction": {"message_id": body["context"], "emoji": emoji}}
    if kind == "location":
        return "location", {"location": _location(_object(body, kind))}
    return "image", {"image": _image(sim, phone_id, _object(body, kind))}


def _location(location: dict[str, Any]) -> dict[str, Any]:
    members: dict[str, Any] = {}
    for name, bound in (("latitude", 90), ("longitude", 180)):
        value = location.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not -bound <= value <= bound:
            raise SandboxError(400, f"location.{name} must be a number from -{bound} to {bound}")
        members[name] = value
    for name in ("name", "address"):
        text = _string(location, name, "location.", 1000, required=False)
        if text is not None:
            members[name] = text
    return members


def _image(sim: MetaSimulator, phone_id: str, image: dict[str, Any]) -> dict[str, Any]:
    mime_type = _string(image, "mimeType", "image.", 100)
    if mime_type not in IMAGE_MIME_TYPES:
        raise SandboxError(400, f"image.mimeType must be one of {', '.join(IMAGE_MIME_TYPES)}")
    data = image.get("data")
    try:
        raw = base64.b64decode(data, validate=True) if isinstance(data, str) else None
    except (binascii.Error, ValueError):
        raw = None
    if not raw:
        raise SandboxError(400, "image.data must be the image's bytes in base64")
    if len(raw) > IMAGE_MAX_BYTES:
        raise SandboxError(400, f"image.data must be at most {IMAGE_MAX_BYTES} bytes")
    caption = _string(image, "caption", "image.", 1024, required=False)
    from wabalink.meta import media  # media imports the messages module this one uses

    media_id = media.store_media(sim, phone_id, io.BytesIO(raw), mime_type, origin="inbound")
    members = {"mime_type": mime_type, "sha256": base64.b64encode(hashlib.sha256(raw).digest()).decode(),
               "id": media_id}
    if caption is not None:
        members["caption"] = caption
    return members


def _known_profile_name(sim: MetaSimulator, phone_id: str, user: str) -> str | None:
    with sim.store.reader() as cursor:
        window = q.window_of(cursor, phone_id, user)
    return window["profile_name"] if window else None


def receive_inbound(sim: MetaSimulator, call: SandboxCall) -> HttpResponse:
    phone_id = meta_id(call.args["phone_id"], "phoneNumberId")
    body = call.body()
    sender = optional_str(body, "from", max_length=16)
    found = E164.fullmatch(sender or "")
    if found is None:
        raise SandboxError(400, "from is required: the user's phone number in E.164 (+ and 5 to 15 digits)")
    user = found.group(1)
    phone = sim.state.get_phone_number(phone_id)
    if phone is None:
        raise SandboxError(404, f"phone number {phone_id} not found")
    if phone.status != "REGISTERED":
        raise SandboxError(409, f"phone number {phone_id} is not registered: WhatsApp users cannot reach it")
    name = optional_str(body, "name") or _known_profile_name(sim, phone_id, user) or f"User {user[-4:]}"
    kind = _kind(body)
    context = _context(sim, body, phone_id, required=kind in ("buttonReply", "listReply", "reaction"))
    meta_type, members = _content(sim, phone_id, body, kind)
    now = time.time()
    wamid = new_wamid(user)
    message: dict[str, Any] = {"from": user, "id": wamid, "timestamp": str(int(now)), "type": meta_type, **members}
    if context is not None and meta_type != "reaction":
        message["context"] = {"from": digits_of(phone.display_phone_number), "id": context}
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": digits_of(phone.display_phone_number), "phone_number_id": phone_id},
             "contacts": [{"profile": {"name": name}, "wa_id": user}],
             "messages": [message]}
    with sim.store.writer() as cursor:
        cursor.run(q.INSERT_MESSAGE, wamid=wamid, phone_number_id=phone_id, waba_id=phone.waba_id,
                   direction="inbound", user_wa_id=user, type=meta_type,
                   content=json.dumps(members[meta_type], ensure_ascii=False), status="received", error_code=None,
                   pricing_category=None, callback_data=None, created_at=now, updated_at=now)
        q.touch_window(cursor, phone_id, user, name, now)
        enqueue_webhook(sim, cursor, phone.waba_id, "messages", value)
    wake_sender(sim)
    return json_response(201, {"wamid": wamid})
