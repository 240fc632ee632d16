"""Graph answers of the template endpoints, checked as `graph_answers.py` checks the others:
anything malformed is a `GraphProtocolError` (the service answers DependencyException)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from wabalink.meta.graph_answers import (
    CURSOR_MAX_LENGTH,
    GraphProtocolError,
    _as_id,
    _as_object,
    _as_text,
    _object,
    _optional_text,
    _text,
)

NAME_MAX = 512
LANGUAGE_MAX = 15
STATUS_MAX = 20
TEMPLATE_JSON_MAX = 6000  # GetWhatsAppMessageTemplate's `template` holds 6000 characters
LIBRARY_TEXT_MAX = 2000
HANDLE = re.compile(r"[A-Za-z0-9:+/=_\-]{1,300}")
UPLOAD_SESSION = re.compile(r"upload:[A-Za-z0-9_=\-]{1,200}")


@dataclass(frozen=True)
class CreatedTemplate:
    id: str
    status: str
    category: str


@dataclass(frozen=True)
class TemplateSummary:
    id: str
    name: str
    language: str
    status: str
    category: str
    quality_score: str | None
    correct_category: str | None
    node: dict[str, Any]  # the whole template as Meta answered it


def created_template(answer: dict[str, Any]) -> CreatedTemplate:
    return CreatedTemplate(id=_as_id(answer.get("id"), "template id"),
                           status=_text(answer, "status", "template", STATUS_MAX),
                           category=_text(answer, "category", "template", STATUS_MAX))


def template(item: Any) -> TemplateSummary:
    item = _as_object(item, "message template")
    if not isinstance(item.get("components", []), list):
        raise GraphProtocolError("Graph API answered a template whose components are not a list")
    score = item.get("quality_score")
    quality = _optional_text(_as_object(score, "quality_score"), "score", "template quality", STATUS_MAX) \
        if score is not None else None
    if len(json.dumps(item)) > TEMPLATE_JSON_MAX:
        raise GraphProtocolError(f"Graph API answered a template longer than {TEMPLATE_JSON_MAX} characters")
    return TemplateSummary(
        id=_as_id(item.get("id"), "template id"), name=_text(item, "name", "template", NAME_MAX),
        language=_text(item, "language", "template", LANGUAGE_MAX),
        status=_text(item, "status", "template", STATUS_MAX),
        category=_text(item, "category", "template", STATUS_MAX), quality_score=quality,
        correct_category=_optional_text(item, "correct_category", "template", STATUS_MAX), node=item)


def page(answer: Any, what: str) -> tuple[list[Any], str | None]:
    """A page's items and the cursor of the next page (None on the last)."""
    answer = _as_object(answer, what)
    data = answer.get("data")
    if not isinstance(data, list):
        raise GraphProtocolError(f"Graph API answered {what} without a data list")
    paging = _object(answer, "paging", what) if answer.get("paging") is not None else {}
    cursors = _object(paging, "cursors", what) if paging.get("cursors") is not None else {}
    after = _optional_text(cursors, "after", what, CURSOR_MAX_LENGTH, numbers=True)
    return data, (after if paging.get("next") is not None and after else None)


def library_template(item: Any) -> dict[str, Any]:
    """A library entry, its strings bounded (the model's limits) and typed."""
    item = _as_object(item, "library template")
    checked: dict[str, Any] = {"id": _as_id(item.get("id"), "library template id"),
                               "name": _text(item, "name", "library template", NAME_MAX),
                               "language": _text(item, "language", "library template", LANGUAGE_MAX),
                               "category": _text(item, "category", "library template", STATUS_MAX)}
    for key, limit in (("topic", 20), ("usecase", 30), ("header", 200), ("body", LIBRARY_TEXT_MAX)):
        value = _optional_text(item, key, "library template", limit)
        if value is not None:
            checked[key] = value
    checked["industry"] = [_as_text(v, "library industry", 100) for v in _list_of(item, "industry")]
    checked["body_params"] = [_as_text(v, "library body param", LIBRARY_TEXT_MAX) for v in _list_of(item, "body_params")]
    checked["buttons"] = [_library_button(b) for b in _list_of(item, "buttons")]
    return checked


def _library_button(item: Any) -> dict[str, Any]:
    item = _as_object(item, "library button")
    button: dict[str, Any] = {}
    for key, limit in (("type", 25), ("text", 40), ("phone_number", 20), ("url", 400), ("otp_type", 25)):
        value = _optional_text(item, key, "library button", limit)
        if value is not None:
            button[key] = value
    if isinstance(item.get("zero_tap_terms_accepted"), bool):
        button["zero_tap_terms_accepted"] = item["zero_tap_terms_accepted"]
    return button


def _list_of(item: dict[str, Any], key: str) -> list[Any]:
    value = item.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise GraphProtocolError(f"Graph API answered a library template whose {key} is not a list")
    return value


def upload_session(answer: dict[str, Any]) -> str:
    value = answer.get("id")
    if not isinstance(value, str) or not UPLOAD_SESSION.fullmatch(value):
        raise GraphProtocolError("Graph API answered an upload session without an upload:<id> id")
    return value


def upload_handle(answer: dict[str, Any]) -> str:
    value = answer.get("h")
    if not isinstance(value, str) or not HANDLE.fullmatch(value):
        raise GraphProtocolError("Graph API answered an upload without a handle")
    return value
