"""Cloud API checks of a message body (`POST /{phone-number-id}/messages`), with Meta's codes:
131008 a required parameter is missing, 131009 a parameter's value is not valid, 100 for the
envelope (`messaging_product`, an unknown `type`). Each error says which parameter, in
`error_data.details`, as Meta does."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from wabalink.meta.errors import GraphError

MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")
CAPTIONED_MEDIA = ("image", "video", "document")
MESSAGE_TYPES = ("text", "reaction", "location", "contacts", "interactive", "template", *MEDIA_TYPES)
RECIPIENT = re.compile(r"\+?([0-9]{5,15})")
TEXT_BODY_MAX = 4096
CAPTION_MAX = 1024
INTERACTIVE_BODY_MAX = 1024
HEADER_FOOTER_MAX = 60
BUTTON_TITLE_MAX = 20
REPLY_ID_MAX = 256
MAX_REPLY_BUTTONS = 3
MAX_LIST_ROWS = 10
MAX_LIST_SECTIONS = 10
ROW_TITLE_MAX = 24
ROW_DESCRIPTION_MAX = 72
CALLBACK_DATA_MAX = 512
INTERACTIVE_TYPES = ("button", "list", "cta_url", "flow", "location_request_message")
OBJECT_MEMBERS = frozenset({*MESSAGE_TYPES, "context"})


def missing(name: str) -> GraphError:
    return GraphError(400, "(#131008) Required parameter is missing", "OAuthException", 131008,
                      details=f"Parameter '{name}' is required.")


def invalid(name: str, why: str) -> GraphError:
    return GraphError(400, "(#131009) Parameter value is not valid", "OAuthException", 131009,
                      details=f"Parameter '{name}' is not valid: {why}")


def invalid_envelope(message: str) -> GraphError:
    return GraphError(400, f"(#100) {message}", "OAuthException", 100)


@dataclass(frozen=True)
class CheckedMessage:
    type: str
    to: str  # as given (the answer's contacts[].input)
    wa_id: str  # digits only
    content: dict[str, Any]  # the type's object (e.g. {"body": ...} for text)
    context_message_id: str | None
    callback_data: str | None

    @property
    def template(self) -> dict[str, Any] | None:
        return self.content if self.type == "template" else None


def message_from_params(params: dict[str, str]) -> dict[str, Any]:
    """The Graph layer keeps a JSON body's nested objects as JSON text: parse them back."""
    message: dict[str, Any] = {}
    for name, value in params.items():
        # Only members that are objects or lists: `biz_opaque_callback_data` may well hold JSON text.
        if name in OBJECT_MEMBERS and isinstance(value, str) and value[:1] in ("{", "["):
            try:
                message[name] = json.loads(value)
                continue
            except ValueError:
                pass
        message[name] = value
    return message


def check_message(message: dict[str, Any]) -> CheckedMessage:
    """A message to send (not a mark-as-read), checked."""
    recipient_type = message.get("recipient_type", "individual")
    if recipient_type != "individual":
        raise invalid("recipient_type", "must be 'individual'")
    to = message.get("to")
    if to is None or to == "":
        raise missing("to")
    found = RECIPIENT.fullmatch(str(to).strip())
    if found is None:
        raise invalid("to", "a phone number in international format, digits with or without '+'")
    kind = message.get("type", "text")
    if kind not in MESSAGE_TYPES:
        raise invalid_envelope(f"Param type must be one of {{{', '.join(t.upper() for t in MESSAGE_TYPES)}}} "
                               f"- got \"{str(kind)[:40]}\".")
    if kind == "contacts":
        check_contacts(message)
        content: dict[str, Any] = {"contacts": message["contacts"]}
    else:
        content = _object(message, kind, required=True) or {}
        CHECKS[kind](kind, content)
    context = _object(message, "context", required=False)
    context_id = None
    if context is not None:
        context_id = context.get("message_id")
        if not isinstance(context_id, str) or not context_id:
            raise missing("context.message_id")
    callback = message.get("biz_opaque_callback_data")
    if callback is not None and (not isinstance(callback, str) or len(callback) > CALLBACK_DATA_MAX):
        raise invalid("biz_opaque_callback_data", f"a string of at most {CALLBACK_DATA_MAX} characters")
    return CheckedMessage(kind, str(to), found.group(1), content, context_id, callback)


def _object(container: dict[str, Any], name: str, *, required: bool, path: str = "") -> dict[str, Any] | None:
    value = container.get(name)
    if value is None:
        if required:
            raise missing(path + name)
        return None
    if not isinstance(value, dict):
        raise invalid(path + name, "must be an object")
    return value


def _text(container: dict[str, Any], name: str, path: str, *, max_length: int, required: bool = True,
          allow_empty: bool = False) -> str | None:
    value = container.get(name)
    if value is None or (value == "" and not allow_empty):
        if required:
            raise missing(path + name)
        return None
    if not isinstance(value, str):
        raise invalid(path + name, "must be a string")
    if len(value) > max_length:
        raise invalid(path + name, f"must be at most {max_length} characters")
    return value


def _list(container: dict[str, Any], name: str, path: str, *, low: int, high: int) -> list[Any]:
    value = container.get(name)
    if value is None:
        raise missing(path + name)
    if not isinstance(value, list) or not low <= len(value) <= high:
        raise invalid(path + name, f"must be a list of {low} to {high} items")
    return value


def _check_text(kind: str, content: dict[str, Any]) -> None:
    _text(content, "body", "text.", max_length=TEXT_BODY_MAX)
    if "preview_url" in content and not isinstance(content["preview_url"], bool):
        raise invalid("text.preview_url", "must be true or false")


def _check_media(kind: str, content: dict[str, Any]) -> None:
    media_id, link = content.get("id"), content.get("link")
    if (media_id is None) == (link is None):
        raise invalid(kind, "give exactly one of 'id' and 'link'")
    if media_id is not None and (not isinstance(media_id, str) or not media_id.isdigit() or len(media_id) > 32):
        raise invalid(f"{kind}.id", "must be a media id")
    if link is not None:
        parts = urlsplit(link) if isinstance(link, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or len(link) > 2048:
            raise invalid(f"{kind}.link", "must be an http or https URL")
    if "caption" in content:
        if kind not in CAPTIONED_MEDIA:
            raise invalid(f"{kind}.caption", f"{kind} messages take no caption")
        _text(content, "caption", f"{kind}.", max_length=CAPTION_MAX, required=False)
    if "filename" in content:
        if kind != "document":
            raise invalid(f"{kind}.filename", "only documents have a filename")
        _text(content, "filename", "document.", max_length=240, required=False)


def _check_reaction(kind: str, content: dict[str, Any]) -> None:
    _text(content, "message_id", "reaction.", max_length=200)
    emoji = _text(content, "emoji", "reaction.", max_length=16, allow_empty=True)  # "" removes a reaction
    if emoji is None:
        raise missing("reaction.emoji")


def _check_location(kind: str, content: dict[str, Any]) -> None:
    for name, bound in (("latitude", 90.0), ("longitude", 180.0)):
        value = content.get(name)
        if value is None:
            raise missing(f"location.{name}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise invalid(f"location.{name}", "must be a number") from None
        if isinstance(value, bool) or not -bound <= number <= bound:
            raise invalid(f"location.{name}", f"must be from -{bound:g} to {bound:g}")
    _text(content, "name", "location.", max_length=1000, required=False)
    _text(content, "address", "location.", max_length=1000, required=False)


def _check_interactive(kind: str, content: dict[str, Any]) -> None:
    interactive_type = content.get("type")
    if interactive_type is None:
        raise missing("interactive.type")
    if interactive_type not in INTERACTIVE_TYPES:
        raise invalid("interactive.type", f"must be one of {', '.join(INTERACTIVE_TYPES)}")
    body = _object(content, "body", required=interactive_type != "location_request_message", path="interactive.")
    if body is not None:
        _text(body, "text", "interactive.body.", max_length=INTERACTIVE_BODY_MAX)
    footer = _object(content, "footer", required=False, path="interactive.")
    if footer is not None:
        _text(footer, "text", "interactive.footer.", max_length=HEADER_FOOTER_MAX)
    action = _object(content, "action", required=True, path="interactive.")
    assert action is not None
    INTERACTIVE_CHECKS[interactive_type](action)


def _check_buttons(action: dict[str, Any]) -> None:
    buttons = _list(action, "buttons", "interactive.action.", low=1, high=MAX_REPLY_BUTTONS)
    seen_ids: set[str] = set()
    seen_titles: set[str] = set()
    for index, button in enumerate(buttons):
        path = f"interactive.action.buttons[{index}]."
        if not isinstance(button, dict) or button.get("type") != "reply":
            raise invalid(path + "type", "must be 'reply'")
        reply = _object(button, "reply", required=True, path=path)
        assert reply is not None
        button_id = _text(reply, "id", path + "reply.", max_length=REPLY_ID_MAX)
        title = _text(reply, "title", path + "reply.", max_length=BUTTON_TITLE_MAX)
        if button_id in seen_ids or title in seen_titles:
            raise invalid(path + "reply", "button ids and titles must be unique")
        seen_ids.add(button_id or "")
        seen_titles.add(title or "")


def _check_list(action: dict[str, Any]) -> None:
    _text(action, "button", "interactive.action.", max_length=BUTTON_TITLE_MAX)
    sections = _list(action, "sections", "interactive.action.", low=1, high=MAX_LIST_SECTIONS)
    rows_total = 0
    for s_index, section in enumerate(sections):
        path = f"interactive.action.sections[{s_index}]."
        if not isinstance(section, dict):
            raise invalid(path[:-1], "must be an object")
        if len(sections) > 1:
            _text(section, "title", path, max_length=ROW_TITLE_MAX)
        rows = _list(section, "rows", path, low=1, high=MAX_LIST_ROWS)
        rows_total += len(rows)
        for r_index, row in enumerate(rows):
            row_path = f"{path}rows[{r_index}]."
            if not isinstance(row, dict):
                raise invalid(row_path[:-1], "must be an object")
            _text(row, "id", row_path, max_length=200)
            _text(row, "title", row_path, max_length=ROW_TITLE_MAX)
            _text(row, "description", row_path, max_length=ROW_DESCRIPTION_MAX, required=False)
    if rows_total > MAX_LIST_ROWS:
        raise invalid("interactive.action.sections", f"at most {MAX_LIST_ROWS} rows in all")


def _check_named_action(name: str, required: tuple[str, ...]) -> Any:
    def check(action: dict[str, Any]) -> None:
        if action.get("name") != name:
            raise invalid("interactive.action.name", f"must be '{name}'")
        parameters = _object(action, "parameters", required=bool(required), path="interactive.action.")
        for field in required:  # "a|b": either
            names = field.split("|")
            if parameters is None or not any(parameters.get(n) for n in names):
                raise missing(f"interactive.action.parameters.{names[0]}")
        if name == "cta_url" and parameters is not None:
            _text(parameters, "display_text", "interactive.action.parameters.", max_length=BUTTON_TITLE_MAX)
    return check


def _check_template(kind: str, content: dict[str, Any]) -> None:
    name = _text(content, "name", "template.", max_length=512)
    if name is not None and not re.fullmatch(r"[a-z0-9_]+", name):
        raise invalid("template.name", "lowercase letters, digits and underscores")
    language = _object(content, "language", required=True, path="template.")
    assert language is not None
    _text(language, "code", "template.language.", max_length=15)
    components = content.get("components")
    if components is not None and (not isinstance(components, list)
                                   or not all(isinstance(c, dict) and isinstance(c.get("type"), str)
                                              for c in components)):
        raise invalid("template.components", "a list of objects, each with a type")


def check_contacts(message: dict[str, Any]) -> None:
    contacts = message.get("contacts")
    if contacts is None:
        raise missing("contacts")
    if not isinstance(contacts, list) or not contacts:
        raise invalid("contacts", "must be a non-empty list")
    for index, contact in enumerate(contacts):
        name = contact.get("name") if isinstance(contact, dict) else None
        if not isinstance(name, dict) or not isinstance(name.get("formatted_name"), str) \
                or not name["formatted_name"]:
            raise missing(f"contacts[{index}].name.formatted_name")


CHECKS = {"text": _check_text, "reaction": _check_reaction, "location": _check_location,
          "interactive": _check_interactive, "template": _check_template,
          **{kind: _check_media for kind in MEDIA_TYPES}}
INTERACTIVE_CHECKS = {
    "button": _check_buttons,
    "list": _check_list,
    "cta_url": _check_named_action("cta_url", ("display_text", "url")),
    "flow": _check_named_action("flow", ("flow_cta", "flow_id|flow_name")),
    "location_request_message": _check_named_action("send_location", ()),
}
