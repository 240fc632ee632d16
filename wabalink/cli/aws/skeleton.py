"""--generate-cli-skeleton: input (JSON), yaml-input (commented YAML) and output samples."""
from __future__ import annotations

import datetime as _dt
import json
import re
from typing import Any

from .model import Shape


def _skeleton(shape: Shape, stack: list[str], name: str, member_names: bool) -> Any:
    stack.append(shape.name)
    try:
        t = shape.type_name
        if t == "structure":
            if stack.count(shape.name) > 1:
                return {}
            return {
                k: _skeleton(m, stack, k, member_names) for k, m in shape.members.items()
            }
        if t == "list":
            m = shape.member
            return [_skeleton(m, stack, m.name if member_names else "", member_names)]
        if t == "map":
            return {"KeyName": _skeleton(shape.value, stack, "", member_names)}
        if t == "string":
            if member_names:
                return name
            enum = shape.enum
            return enum[0] if enum else ""
        if t in ("integer", "long"):
            return 0
        if t in ("float", "double"):
            return 0.0
        if t == "boolean":
            return True
        if t == "timestamp":
            return _dt.datetime(1970, 1, 1)
        return None  # blobs and anything else
    finally:
        stack.pop()


def input_skeleton(shape: Shape | None) -> dict:
    return {} if shape is None else _skeleton(shape, [], "", False)


def output_skeleton(shape: Shape | None) -> dict:
    return {} if shape is None else _skeleton(shape, [], "", True)


def _default(o):
    if isinstance(o, _dt.datetime):
        return o.isoformat()
    if isinstance(o, bytes):
        import base64

        return base64.b64encode(o).decode("utf-8")
    raise TypeError("Encountered unrecognized type in JSON encoder.")


def dumps_json(data: Any) -> str:
    return json.dumps(data, indent=4, default=_default) + "\n"


# -- yaml-input ---------------------------------------------------------------------

_TAG = re.compile(r"<[^>]+>")
MAP_KEY = "KeyName"


_SENTENCE_END = re.compile(r"[.:]+")
_YAML_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_YAML_RESERVED = {"true", "false", "null", "yes", "no", "on", "off", "y", "n"}


def first_sentence(doc: str) -> str:
    """v2's overview of a shape's documentation: its text up to the first '.' or ':' (so "E.164" cuts)."""
    from xml.dom import minidom
    from xml.parsers.expat import ExpatError

    try:
        text = "".join(_text_nodes(minidom.parseString(f"<doc>{doc}</doc>")))
    except ExpatError:
        text = doc
    text = _SENTENCE_END.split(text, 1)[0]
    if text:
        text += "."
    return text.replace("\n", " ").replace("\u2028", " ")


def _text_nodes(node: Any) -> list[str]:
    out: list[str] = []
    for child in node.childNodes:
        out.extend([child.data] if child.nodeType == child.TEXT_NODE else _text_nodes(child))
    return out


def _yaml_string(value: str) -> str:
    """A string as ruamel.yaml writes it: plain when unambiguous, else single-quoted."""
    if _YAML_PLAIN.fullmatch(value) and value.lower() not in _YAML_RESERVED:
        return value
    return "'" + value.replace("'", "''") + "'"


def _comment(shape: Shape, required: bool, first: bool) -> str:
    """The trailing comment; like v2 (ruamel.yaml), two spaces before it on a mapping's first key, one after."""
    parts = []
    if required:
        parts.append("[REQUIRED]")
    doc = first_sentence(shape.documentation)
    if doc:
        parts.append(doc)
    enum = shape.enum
    if enum:
        parts.append("Valid values are: " + ", ".join(enum) + ".")
    gap = "  " if first else " "
    return (gap + "# " + " ".join(parts)) if parts else ""


def _yaml_scalar(shape: Shape) -> str:
    t = shape.type_name
    if t == "string":
        return _yaml_string(shape.enum[0]) if shape.enum else "''"
    if t in ("integer", "long"):
        return "0"
    if t in ("float", "double"):
        return "0.0"
    if t == "boolean":
        return "true"
    if t == "timestamp":
        return "'1970-01-01T00:00:00'"
    if t == "blob":
        return "!!binary ''"  # v2 dumps the empty bytes value with ruamel.yaml's tag
    return "''"


def _yaml_lines(shape: Shape, indent: str, stack: list[str], out: list[str]) -> None:
    """Emit the members of a structure (or the entry of a map) at *indent*."""
    required = set(shape.required_members)
    for i, (key, m) in enumerate(shape.members.items()):
        _yaml_entry(key, m, key in required, indent, stack, out, first=i == 0)


def _yaml_entry(key: str, m: Shape, required: bool, indent: str, stack: list[str], out: list[str],
                first_prefix: str | None = None, first: bool = True):
    prefix = indent if first_prefix is None else first_prefix
    comment = _comment(m, required, first) if key != MAP_KEY else ""  # map entries are plain dicts in v2
    t = m.type_name
    if t == "structure":
        if m.name in stack:
            out.append(f"{prefix}{key}: {{}}{comment}")
            return
        out.append(f"{prefix}{key}:{comment}")
        _yaml_lines(m, indent + "  ", stack + [m.name], out)
    elif t == "list":
        out.append(f"{prefix}{key}:{comment}")
        _yaml_list_item(m.member, indent, stack, out)
    elif t == "map":
        out.append(f"{prefix}{key}:{comment}")
        _yaml_entry(MAP_KEY, m.value, False, indent + "  ", stack, out)
    else:
        out.append(f"{prefix}{key}: {_yaml_scalar(m)}{comment}")


def _yaml_list_item(m: Shape, indent: str, stack: list[str], out: list[str]):
    t = m.type_name
    if t == "structure":
        if m.name in stack or not m.members:
            out.append(f"{indent}- {{}}")
            return
        members = list(m.members.items())
        required = set(m.required_members)
        inner = indent + "  "
        for i, (key, mm) in enumerate(members):
            _yaml_entry(key, mm, key in required, inner, stack + [m.name], out,
                        first_prefix=(indent + "- ") if i == 0 else None, first=i == 0)
    elif t == "list":
        out.append(f"{indent}- []")
    elif t == "map":
        _yaml_entry(MAP_KEY, m.value, False, indent + "  ", stack, out, first_prefix=indent + "- ")
    else:
        out.append(f"{indent}- {_yaml_scalar(m)}")


def yaml_input_skeleton(shape: Shape | None) -> str:
    if shape is None or not shape.members:
        return "{}\n"
    out: list[str] = []
    _yaml_lines(shape, "", [shape.name], out)
    return "\n".join(out) + "\n"
