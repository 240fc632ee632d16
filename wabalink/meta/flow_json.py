"""Flow JSON validation as Meta reports it: a list of errors, each
`{error, error_type, message, line_start, line_end, column_start, column_end, pointers[{..., path}]}`
pointing at the offending value in the uploaded text (lines and columns from 1).

Checked: JSON syntax; `version` among the supported ones; `screens` a non-empty list of objects
with unique upper-case ids, a `layout` of type SingleColumnLayout whose components are known types;
at least one `terminal` screen; `data_api_version` (with `routing_model`) only with an endpoint URI.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field
from typing import Any

SUPPORTED_VERSIONS = ("6.0", "6.1", "6.2", "6.3", "7.0", "7.1", "7.2", "7.3")
DATA_API_VERSIONS = ("3.0",)
SCREEN_ID = re.compile(r"[A-Z][A-Z_]*")
LAYOUT_TYPE = "SingleColumnLayout"
COMPONENT_TYPES = frozenset({
    "TextHeading", "TextSubheading", "TextBody", "TextCaption", "RichText", "TextInput", "TextArea",
    "CheckboxGroup", "RadioButtonsGroup", "Dropdown", "ChipsSelector", "DatePicker", "CalendarPicker", "OptIn",
    "Footer", "EmbeddedLink", "Image", "ImageCarousel", "PhotoPicker", "DocumentPicker", "If", "Switch",
    "NavigationList", "Form",
})
FLOW_JSON_ERROR, JSON_SYNTAX_ERROR = "FLOW_JSON_ERROR", "JSON_SYNTAX_ERROR"
Span = tuple[int, int]


@dataclass
class _Finding:
    error: str
    message: str
    path: str
    error_type: str = FLOW_JSON_ERROR


@dataclass
class FlowJsonCheck:
    """The outcome: the parsed document (None when not JSON) and Meta-style errors."""
    document: dict[str, Any] | None
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def json_version(self) -> str | None:
        version = (self.document or {}).get("version")
        return version if isinstance(version, str) else None

    @property
    def data_api_version(self) -> str | None:
        version = (self.document or {}).get("data_api_version")
        return version if isinstance(version, str) else None


def check_flow_json(text: str, *, endpoint_uri: str | None) -> FlowJsonCheck:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as error:
        line, column = (error.lineno, error.colno) if isinstance(error, json.JSONDecodeError) else (1, 1)
        message = error.msg if isinstance(error, json.JSONDecodeError) else "nesting too deep"
        return FlowJsonCheck(None, [_error("INVALID_JSON", f"Invalid JSON: {message}.", JSON_SYNTAX_ERROR,
                                           (line, column, line, column), "")])
    if not isinstance(document, dict):
        return FlowJsonCheck(None, [_error("INVALID_PROPERTY_VALUE", "The Flow JSON must be an object.",
                                           FLOW_JSON_ERROR, (1, 1, 1, 1), "")])
    findings = _findings(document, endpoint_uri)
    if not findings:
        return FlowJsonCheck(document)
    spans = _Spans(text)
    return FlowJsonCheck(document, [_error(f.error, f.message, f.error_type, spans.position(f.path), f.path)
                                    for f in findings])


def _findings(document: dict[str, Any], endpoint_uri: str | None) -> list[_Finding]:
    found: list[_Finding] = []
    version = document.get("version")
    if version is None:
        found.append(_Finding("MISSING_REQUIRED_PROPERTY", "The property 'version' is required.", ""))
    elif version not in SUPPORTED_VERSIONS:
        found.append(_Finding("INVALID_PROPERTY_VALUE", f"Invalid value found for property 'version': "
                              f"supported versions are {', '.join(SUPPORTED_VERSIONS)}.", "version"))
    found += _data_api_findings(document, endpoint_uri)
    screens = document.get("screens")
    if not isinstance(screens, list) or not screens:
        found.append(_Finding("INVALID_PROPERTY_VALUE" if "screens" in document else "MISSING_REQUIRED_PROPERTY",
                              "The property 'screens' must be a non-empty array of screens.",
                              "screens" if "screens" in document else ""))
        return found
    seen: set[str] = set()
    terminal = False
    for index, screen in enumerate(screens):
        path = f"screens[{index}]"
        if not isinstance(screen, dict):
            found.append(_Finding("INVALID_PROPERTY_VALUE", "A screen must be an object.", path))
            continue
        terminal = terminal or screen.get("terminal") is True
        found += _screen_findings(screen, path, seen)
    if not terminal:
        found.append(_Finding("MISSING_TERMINAL_SCREEN", "At least one screen must have 'terminal': true.",
                              "screens"))
    return found


def _data_api_findings(document: dict[str, Any], endpoint_uri: str | None) -> list[_Finding]:
    found: list[_Finding] = []
    data_api = document.get("data_api_version")
    if data_api is not None and data_api not in DATA_API_VERSIONS:
        found.append(_Finding("INVALID_PROPERTY_VALUE", "Invalid value found for property 'data_api_version': "
                              f"supported versions are {', '.join(DATA_API_VERSIONS)}.", "data_api_version"))
    if data_api is not None and "routing_model" not in document:
        found.append(_Finding("MISSING_REQUIRED_PROPERTY",
                              "The property 'routing_model' is required with 'data_api_version'.", ""))
    if (data_api is not None or "routing_model" in document) and not endpoint_uri:
        path = "data_api_version" if data_api is not None else "routing_model"
        found.append(_Finding("MISSING_FLOW_ENDPOINT", "A Flow using a data endpoint ('data_api_version', "
                              "'routing_model') needs an endpoint_uri: set the Flow's endpoint first.", path))
    return found


def _screen_findings(screen: dict[str, Any], path: str, seen: set[str]) -> list[_Finding]:
    found: list[_Finding] = []
    screen_id = screen.get("id")
    if not isinstance(screen_id, str) or not SCREEN_ID.fullmatch(screen_id):
        found.append(_Finding("INVALID_PROPERTY_VALUE", "Invalid value found for property 'id': a screen id is "
                              "upper-case letters and underscores.", f"{path}.id" if "id" in screen else path))
    elif screen_id in seen:
        found.append(_Finding("DUPLICATE_SCREEN_ID", f"Screen id '{screen_id}' is used by more than one screen.",
                              f"{path}.id"))
    else:
        seen.add(screen_id)
    layout = screen.get("layout")
    if not isinstance(layout, dict):
        found.append(_Finding("MISSING_REQUIRED_PROPERTY", "The property 'layout' is required.", path))
        return found
    if layout.get("type") != LAYOUT_TYPE:
        found.append(_Finding("INVALID_PROPERTY_VALUE", f"Invalid value found for property 'type': the layout "
                              f"type must be '{LAYOUT_TYPE}'.", f"{path}.layout.type" if "type" in layout
                              else f"{path}.layout"))
    children = layout.get("children")
    if not isinstance(children, list):
        found.append(_Finding("MISSING_REQUIRED_PROPERTY", "The property 'children' is required.", f"{path}.layout"))
        return found
    found += _component_findings(children, f"{path}.layout.children")
    return found


def _component_findings(children: list[Any], path: str) -> list[_Finding]:
    found: list[_Finding] = []
    for index, component in enumerate(children):
        where = f"{path}[{index}]"
        kind = component.get("type") if isinstance(component, dict) else None
        if kind not in COMPONENT_TYPES:
            found.append(_Finding("INVALID_PROPERTY_VALUE", "Invalid value found for property 'type'.",
                                  f"{where}.type" if isinstance(component, dict) and "type" in component else where))
            continue
        nested = component.get("children")
        if isinstance(nested, list):  # Form (and If/Switch branches) hold components too
            found += _component_findings(nested, f"{where}.children")
    return found


def _error(error: str, message: str, error_type: str, position: tuple[int, int, int, int], path: str
           ) -> dict[str, Any]:
    line_start, column_start, line_end, column_end = position
    where = {"line_start": line_start, "line_end": line_end, "column_start": column_start, "column_end": column_end}
    pointers = [{**where, "path": path}] if path else []
    return {"error": error, "error_type": error_type, "message": message, **where, "pointers": pointers}


class _Spans:
    """Where each value of a JSON text starts and ends, by path (`screens[0].layout.type`); the
    text is known to be valid JSON. Scalars are decoded by the C scanner."""

    _WHITESPACE = re.compile(r"[ \t\n\r]*")

    def __init__(self, text: str) -> None:
        self._text = text
        self._decoder = json.JSONDecoder()
        self._newlines = [i for i, ch in enumerate(text) if ch == "\n"]
        self.spans: dict[str, Span] = {}
        self._value(self._skip(0), "")

    def position(self, path: str) -> tuple[int, int, int, int]:
        start, end = self.spans.get(path, (0, 1))
        return (*self._line_column(start), *self._line_column(max(start, end - 1)))

    def _line_column(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_left(self._newlines, offset)
        line_start = self._newlines[line - 1] + 1 if line else 0
        return line + 1, offset - line_start + 1

    def _skip(self, index: int) -> int:
        match = self._WHITESPACE.match(self._text, index)
        return match.end() if match else index

    def _value(self, index: int, path: str) -> int:
        char = self._text[index]
        if char == "{":
            end = self._object(index, path)
        elif char == "[":
            end = self._array(index, path)
        else:
            _, end = self._decoder.raw_decode(self._text, index)
        self.spans[path] = (index, end)
        return end

    def _object(self, index: int, path: str) -> int:
        index = self._skip(index + 1)
        if self._text[index] == "}":
            return index + 1
        while True:
            key, index = self._decoder.raw_decode(self._text, index)
            index = self._skip(self._skip(index) + 1)  # past ':'
            index = self._skip(self._value(index, f"{path}.{key}" if path else str(key)))
            if self._text[index] == "}":
                return index + 1
            index = self._skip(index + 1)  # past ','

    def _array(self, index: int, path: str) -> int:
        index = self._skip(index + 1)
        if self._text[index] == "]":
            return index + 1
        position = 0
        while True:
            index = self._skip(self._value(index, f"{path}[{position}]"))
            position += 1
            if self._text[index] == "]":
                return index + 1
            index = self._skip(index + 1)
