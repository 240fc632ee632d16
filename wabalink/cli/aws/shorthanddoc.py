"""The "Shorthand Syntax" example of a help page, as AWS CLI v2 writes it."""
from __future__ import annotations

from . import shorthand
from .model import Shape

COMPLEX = ("structure", "list", "map")
MAX_DEPTH = 3  # deeper shapes are too complex for an example: v2 then prints none


class _TooComplex(Exception):
    pass


def has_no_examples(shape: Shape) -> bool:
    """A structure of a single string "Value" is given as that string: v2 shows no syntax."""
    return shape.type_name == "structure" and list(shape.members) == ["Value"] \
        and shape.members["Value"].type_name == "string"


def shorthand_example(shape: Shape) -> str | None:
    """The example, '' when too deep for one, None when the shape takes no shorthand."""
    if not shorthand.supports_shorthand(shape):
        return None
    try:
        if shape.type_name == "list":
            return _value(shape.member, []) + " ..."
        return _value(shape, [])
    except _TooComplex:
        return ""


def _value(shape: Shape, stack: list[str]) -> str:
    if len(stack) > MAX_DEPTH:
        raise _TooComplex
    t = shape.type_name
    if t == "structure":
        parts = [_member(name, m, stack) for name, m in shape.members.items() if not _holds_document(m)]
        return ",".join(parts) if not stack else "{" + ",".join(parts) + "}"
    if t == "list":
        element = _nested(shape.member, stack)
        if shape.member.type_name in COMPLEX or len(stack) > 1:
            return f"[{element},{element}]"
        return f"{element},{element}"
    if t == "map":
        value = _nested(shape.value, stack)
        text = f"KeyName1={value},KeyName2={value}"
        if shape.key.enum and not stack:
            return text + "\n\nWhere valid key names are:\n" + "".join(f"  {e}\n" for e in shape.key.enum)
        return "{" + text + "}" if stack else text
    return t


def _nested(shape: Shape, stack: list[str]) -> str:
    stack.append(shape.name)
    try:
        return _value(shape, stack)
    finally:
        stack.pop()


def _member(name: str, shape: Shape, stack: list[str]) -> str:
    if shape.name in stack:
        return "( ... recursive ... )"
    return f"{name}={_nested(shape, stack)}"


def _holds_document(shape: Shape) -> bool:
    if shape.is_document:
        return True
    if shape.type_name == "list":
        return shape.member.is_document
    if shape.type_name == "map":
        return shape.value.is_document
    return False
