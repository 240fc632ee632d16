"""Cloud API sending: `POST /{version}/{phone-number-id}/messages`.

A message is checked (message_checks.py), then admitted against the number's limits: registered
(133010), not to itself (131021), its throughput tier (130429), the pair rate to one user
(131056). An accepted message is stored with its scheduled statuses in one transaction; whether it
will fail (a recipient rule, or 131047 outside the 24-hour customer service window for anything
but a template) is decided then and reported later as a `failed` status, as Meta does.
`{"status": "read", "message_id"}` marks an inbound message read.

Templates are checked by `wabalink.meta.templates.check_template_send` and media ids by
`wabalink.meta.media.media_exists` when those modules exist (imported lazily, so the areas can
land in either order; without them a template or media id is taken as existing)."""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import TYPE_CHECKING, Any

from wabalink.meta.access import authorize_phone
from wabalink.meta.calls import GraphCall
from wabalink.meta.delivery import (
    FAILURE_TITLES,
    digits_of,
    forced_failure,
    number_settings,
    schedule_statuses,
    throughput_error,
    window_open,
)
from wabalink.meta.errors import GraphError, unknown_object_error
from wabalink.meta.message_checks import (
    MEDIA_TYPES,
    CheckedMessage,
    check_message,
    invalid,
    invalid_envelope,
    message_from_params,
    missing,
)
from wabalink.meta.routing import Route
from wabalink.store import meta_messages as q
from wabalink.store.db import Cursor
from wabalink.store.meta_state import PhoneNumberRecord

if TYPE_CHECKING:
    from wabalink.meta.simulator import MetaSimulator

TEMPLATE_PRICING_CATEGORY = "utility"  # when the templates area does not say


def new_wamid(wa_id: str) -> str:
    """Meta's shape: `wamid.` and base64 of a small binary record naming the user and a random id."""
    random_id = secrets.token_hex(10).upper().encode()
    record = b"\x1c\x18" + bytes([len(wa_id)]) + wa_id.encode() + b"\x15\x02\x00\x11\x18" \
        + bytes([len(random_id)]) + random_id + b"\x00"
    return "wamid." + base64.b64encode(record).decode()


def not_registered_error() -> GraphError:
    return GraphError(400, "(#133010) Account not registered", "OAuthException", 133010,
                      details="The phone number is not registered on the WhatsApp Business Platform.")


def recipient_is_sender_error() -> GraphError:
    return GraphError(400, "(#131021) Recipient cannot be sender", "OAuthException", 131021,
                      details="Sender and recipient phone number is the same.")


def pair_rate_error() -> GraphError:
    return GraphError(400, "(#131056) (Business Account, Consumer Account) pair rate limit hit", "OAuthException",
                      131056, details="Message failed to send because there were too many messages sent from "
                                      "this phone number to the same phone number in a short period of time.")


def _send(sim: MetaSimulator, call: GraphCall) -> dict[str, Any]:
    phone_id = call.args["phone_id"]
    authorize_phone(sim, call.caller, phone_id, "POST")
    phone = sim.state.get_phone_number(phone_id)
    if phone is None:
        raise unknown_object_error(phone_id, "POST")
    message = message_from_params(call.params)
    product = message.get("messaging_product")
    if product is None:
        raise invalid_envelope("The parameter messaging_product is required.")
    if product != "whatsapp":
        raise invalid_envelope(f"Param messaging_product must be one of {{WHATSAPP}} - got \"{str(product)[:40]}\".")
    if phone.status != "REGISTERED":
        raise not_registered_error()
    if message.get("status") is not None:
        return _mark_read(sim, phone, message)
    checked = check_message(message)
    if checked.wa_id == digits_of(phone.display_phone_number):
        raise recipient_is_sender_error()
    category = _check_references(sim, phone, checked)
    wamid = new_wamid(checked.wa_id)
    now = time.time()
    # Committed together with other threads' writes under load (store/group_commit.py).
    first_due = sim.store.write_grouped(
        lambda cursor: _admit_and_store(sim, cursor, phone, checked, wamid, category, now))
    sim.messaging.scheduler.wake_by(first_due)
    return {"messaging_product": "whatsapp", "contacts": [{"input": checked.to, "wa_id": checked.wa_id}],
            "messages": [{"id": wamid, "message_status": "accepted"}]}


def _check_references(sim: MetaSimulator, phone: PhoneNumberRecord, checked: CheckedMessage) -> str:
    """Templates and media ids exist; the message's pricing category."""
    # Imported here: templates and media import this module's helpers (a cycle at import time).
    from wabalink.meta import media, templates

    if checked.template is not None:
        templates.check_template_send(sim, phone.waba_id, checked.template)
        return TEMPLATE_PRICING_CATEGORY
    media_id = checked.content.get("id") if checked.type in MEDIA_TYPES else None
    if media_id is not None and not media.media_exists(sim, phone.id, media_id):
        raise invalid(f"{checked.type}.id", f"media {media_id} was not found for this phone number")
    return "service"


def _admit_and_store(sim: MetaSimulator, cursor: Cursor, phone: PhoneNumberRecord, checked: CheckedMessage,
                     wamid: str, category: str, now: float) -> float:
    """Admits and stores the message with its scheduled statuses; returns when the first is due."""
    settings = number_settings(cursor, phone.id)
    if not sim.messaging.throughput.admit(phone.id, settings.throughput_mps, now):
        raise throughput_error()
    cursor.lock(f"meta-pair:{phone.id}:{checked.wa_id}")
    recent = cursor.scalar(q.COUNT_TO_USER_SINCE, phone_id=phone.id, user=checked.wa_id,
                           since=now - settings.pair_window_seconds)
    if recent >= settings.pair_limit:
        raise pair_rate_error()
    failure = forced_failure(cursor, phone.id, settings, checked.wa_id)
    if failure is None and checked.type != "template" and not window_open(cursor, phone.id, checked.wa_id, now):
        failure = (131047, FAILURE_TITLES[131047])
    content = dict(checked.content)
    if checked.context_message_id is not None:
        content = {**content, "context": {"message_id": checked.context_message_id}}
    cursor.run(q.INSERT_MESSAGE, wamid=wamid, phone_number_id=phone.id, waba_id=phone.waba_id,
               direction="outbound", user_wa_id=checked.wa_id, type=checked.type,
               content=json.dumps(content, ensure_ascii=False), status="accepted", error_code=None,
               pricing_category=category, callback_data=checked.callback_data, created_at=now, updated_at=now)
    return schedule_statuses(cursor, wamid, settings, now, failure)


def _mark_read(sim: MetaSimulator, phone: PhoneNumberRecord, message: dict[str, Any]) -> dict[str, Any]:
    if message["status"] != "read":
        raise invalid("status", "must be 'read'")
    message_id = message.get("message_id")
    if not message_id:
        raise missing("message_id")
    if not isinstance(message_id, str) or len(message_id) > q.WAMID_MAX_LENGTH:
        raise invalid("message_id", "must be the wamid of a message this number received")
    with sim.store.writer() as cursor:
        marked = cursor.run(q.MARK_INBOUND_READ, message_wamid=message_id, phone_id=phone.id, updated_at=time.time())
    if not marked:
        raise invalid("message_id", "must be the wamid of a message this number received")
    return {"success": True}


GRAPH_ROUTES = [Route("POST", "/{phone_id}/messages", _send)]
