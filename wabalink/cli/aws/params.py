"""Model-driven argument table and value conversion for one operation."""
from __future__ import annotations

import base64
import binascii
import json
import os
from typing import Any

from . import shorthand
from .model import Operation, Shape


class ParamError(Exception):
    """A parameter value that cannot be used (exit 252)."""

    def __init__(self, cli_name: str, message: str):
        self.cli_name = cli_name
        super().__init__(f"Error parsing parameter '{cli_name}': {message}")


class ParamFileError(Exception):
    pass


# -- file:// and fileb:// ---------------------------------------------------------

def load_paramfile(value: Any) -> Any:
    """Return the file's contents for file:// (text) and fileb:// (bytes), else None."""
    if not isinstance(value, str):
        return None
    for prefix, binary in (("fileb://", True), ("file://", False)):
        if value.startswith(prefix):
            path = os.path.expanduser(os.path.expandvars(value[len(prefix):]))
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError as e:
                raise ParamFileError(f"Unable to load paramfile {value}: {e}") from None
            if binary:
                return data
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                raise ParamFileError(
                    f"Unable to load paramfile ({value}), text contents could not be decoded.  "
                    "If this is a binary file, please use the fileb:// prefix instead of the "
                    "file:// prefix."
                ) from None
    return None


def resolve_paramfile(cli_name: str, value: Any) -> Any:
    try:
        loaded = load_paramfile(value)
    except ParamFileError as e:
        raise ParamError(cli_name, str(e)) from None
    return value if loaded is None else loaded


# -- the argument table -------------------------------------------------------------

class Argument:
    """One ``--kebab-name`` option that maps to a top-level input member."""

    def __init__(self, member: str, shape: Shape, required: bool):
        from botocore import xform_name

        self.member = member
        self.shape = shape
        self.required = required
        self.cli_name = "--" + xform_name(member, "-")
        self.hidden = False

    @property
    def type_name(self) -> str:
        return self.shape.type_name

    @property
    def is_bool(self) -> bool:
        return self.type_name == "boolean"

    @property
    def nargs_list(self) -> bool:
        return self.type_name == "list"


class PagingArgument:
    def __init__(self, cli_name: str, key: str, type_name: str):
        self.cli_name = cli_name
        self.key = key  # PaginationConfig key
        self.type_name = type_name
        self.required = False
        self.is_bool = False
        self.nargs_list = False
        self.hidden = False


def argument_table(op: Operation) -> dict[str, Any]:
    table: dict[str, Any] = {}
    shape = op.input_shape
    if shape is not None:
        required = set(shape.required_members)
        for name, mshape in shape.members.items():
            arg = Argument(name, mshape, name in required)
            table[arg.cli_name] = arg
    pag = op.paginator
    if pag is not None:
        from botocore import xform_name

        tokens = pag["input_token"]
        tokens = tokens if isinstance(tokens, list) else [tokens]
        shadow = [xform_name(t, "-") for t in tokens]
        limit_type = "integer"
        if "limit_key" in pag:
            shadow.append(xform_name(pag["limit_key"], "-"))
            limit_type = shape.members[pag["limit_key"]].type_name if shape else "integer"
        for name in shadow:
            if "--" + name in table:
                table["--" + name].hidden = True
        table["--starting-token"] = PagingArgument("--starting-token", "StartingToken", "string")
        if "limit_key" in pag:
            table["--page-size"] = PagingArgument("--page-size", "PageSize", limit_type)
        table["--max-items"] = PagingArgument("--max-items", "MaxItems", limit_type)
    return table


# -- value conversion -------------------------------------------------------------

def _json(cli_name: str, text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as e:
        raise ParamError(cli_name, f"Invalid JSON: {e}\nJSON received: {text}") from None


def _scalar(arg_name: str, shape: Shape, value: Any) -> Any:
    t = shape.type_name
    if isinstance(value, bytes) and t != "blob":
        value = value.decode("utf-8")
    if t in ("integer", "long"):
        try:
            return int(value)
        except ValueError:
            raise ParamError(arg_name, f"invalid literal for int() with base 10: '{value}'") from None
    if t in ("float", "double"):
        try:
            return float(value)
        except ValueError:
            raise ParamError(arg_name, f"could not convert string to float: '{value}'") from None
    if t == "boolean":
        return not (isinstance(value, str) and value.lower() == "false") and bool(value)
    return value


def convert(arg: Argument, raw: Any, binary_format: str) -> Any:
    """Turn the command-line value(s) of *arg* into the API value."""
    shape = arg.shape
    name = arg.cli_name
    t = shape.type_name
    if arg.is_bool:
        return raw  # already True/False from --flag / --no-flag
    if t == "list":
        items = [resolve_paramfile(name, v) for v in raw]
        if len(items) == 1 and isinstance(items[0], str) and items[0].strip().startswith("["):
            value = _json(name, items[0])
        elif shorthand.supports_shorthand(shape):
            value = []
            for item in items:
                if isinstance(item, str) and item.strip().startswith(("{", "[")):
                    value.append(_json(name, item))
                else:
                    value.append(_parse_shorthand(name, item, shape.member))
        else:
            value = [_scalar(name, shape.member, v) for v in items]
    elif t in ("structure", "map"):
        raw = resolve_paramfile(name, raw)
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8")
        if raw.strip().startswith("{") or shape.is_document:
            value = _json(name, raw)
        elif shorthand.supports_shorthand(shape):
            value = _parse_shorthand(name, raw, shape)
        else:
            raise ParamError(name, f"Invalid JSON:\n{raw}")
    else:
        value = _scalar(name, shape, resolve_paramfile(name, raw))
    return apply_blob_format(value, shape, binary_format, name)


def _parse_shorthand(name: str, text: str, shape: Shape) -> Any:
    def loader(v):
        return load_paramfile(v)

    try:
        parsed = shorthand.Parser(loader).parse(text)
        return shorthand.coerce(parsed, shape)
    except (shorthand.ShorthandError, ParamFileError) as e:
        raise ParamError(name, str(e)) from None


def apply_blob_format(value: Any, shape: Shape, binary_format: str, name: str, _seen=None) -> Any:
    """Blob members given as text: base64-decode them (v2 default) or take them raw."""
    t = shape.type_name
    if value is None:
        return value
    if t == "blob":
        if isinstance(value, str):
            if binary_format == "raw-in-base64-out":
                return value.encode("utf-8")
            try:
                return base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise ParamError(name, f'Invalid base64: "{value}"') from None
        return value
    if t == "structure" and isinstance(value, dict):
        members = shape.members
        return {
            k: apply_blob_format(v, members[k], binary_format, name) if k in members else v
            for k, v in value.items()
        }
    if t == "list" and isinstance(value, list):
        m = shape.member
        return [apply_blob_format(v, m, binary_format, name) for v in value]
    if t == "map" and isinstance(value, dict):
        vs = shape.value
        return {k: apply_blob_format(v, vs, binary_format, name) for k, v in value.items()}
    return value
