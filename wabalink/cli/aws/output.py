"""Output formatting for `wabalink socialmessaging ...`, byte-compatible with the AWS CLI.

Over 400 lines because it re-implements the five output formats of AWS CLI v2 byte for byte (json, text, table, yaml, yaml-stream); splitting them would scatter the shared traversal.

json, text and table reproduce what the AWS CLI prints for the same response (the
algorithms of `awscli.formatter`, `awscli.text` and `awscli.table`, re-implemented
here so the CLI does not import awscli); yaml and yaml-stream follow AWS CLI v2.

Runtime imports stay light: jmespath and yaml are imported only when needed.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import sys
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol, TextIO

OUTPUT_FORMATS = ("json", "text", "table", "yaml", "yaml-stream", "off")
COLOR_CHOICES = ("on", "off", "auto")
DEFAULT_TERMINAL_WIDTH = 80


class PageIteratorLike(Protocol):
    """What render() needs from a botocore PageIterator (duck-typed, nothing imported)."""

    result_keys: list[Any]
    non_aggregate_part: dict[str, Any]
    resume_token: Any

    def __iter__(self) -> Iterator[dict[str, Any]]: ...

    def build_full_result(self) -> dict[str, Any]: ...


def render(
    data: Any,
    *,
    output: str,
    query: Any | None,
    color: str,
    stream: TextIO,
    operation_model: Any = None,
    is_paginated_stream: bool = False,
) -> None:
    """Write `data` to `stream` as the AWS CLI would with `--output output --query query`.

    `data` is a response dict (ResponseMetadata is dropped if still there) or, with
    `is_paginated_stream=True`, a botocore PageIterator (or any iterable of page dicts):
    json/table/yaml then print the merged result, text prints page by page (as the
    AWS CLI does), yaml-stream prints each page as one item of a YAML list.
    `query` is a JMESPath string or a compiled expression (anything with `.search`).
    `operation_model` (or an operation name string) gives the table title.
    """
    if output not in OUTPUT_FORMATS:
        raise ValueError(f"Unknown output type: {output}")
    if color not in COLOR_CHOICES:
        raise ValueError(f"Unknown color option: {color}")
    if output == "off":
        _drain(data, is_paginated_stream)
        return
    if is_paginated_stream:
        _render_pages(data, output=output, query=query, color=color, stream=stream,
                      title=_title_of(operation_model))
    else:
        response = _apply_query(_prepare(data), query)
        _render_one(response, output=output, color=color, stream=stream,
                    title=_title_of(operation_model))
    _flush(stream)


# --- shared helpers -------------------------------------------------------------------


def _title_of(operation_model: Any) -> str:
    if operation_model is None:
        return ""
    if isinstance(operation_model, str):
        return operation_model
    return str(getattr(operation_model, "name", ""))


class UnparsedTimestamp(str):
    """A datetime printed as str(datetime), as v2 prints the datetimes of its output skeleton stub:
    YAML writes it as a plain (unquoted) timestamp, every other format as this text."""


def _prepare(value: Any) -> Any:
    """Drop ResponseMetadata and make every value JSON-native (datetimes -> ISO 8601)."""
    if isinstance(value, Mapping) and "ResponseMetadata" in value:
        value = {k: v for k, v in value.items() if k != "ResponseMetadata"}
    return _plain(value)


def _plain(value: Any) -> Any:
    # The command layer normally converts timestamps already; this keeps raw botocore
    # values (datetime, bytes) printable the way the AWS CLI's json encoder prints them.
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("utf-8")
    return value


def _apply_query(value: Any, query: Any | None) -> Any:
    if query is None:
        return value
    if hasattr(query, "search"):
        return query.search(value)
    import jmespath  # lazy: only commands with --query pay for it

    return jmespath.search(query, value)


def _flush(stream: TextIO) -> None:
    try:
        stream.flush()
    except (OSError, ValueError):
        pass


def _drain(data: Any, is_paginated_stream: bool) -> None:
    # `--output off` still makes every paginated call, like the AWS CLI.
    if is_paginated_stream:
        for _ in data:
            pass


def _render_one(response: Any, *, output: str, color: str, stream: TextIO, title: str) -> None:
    if output == "json":
        write_json(response, stream)
    elif output == "text":
        write_text(response, stream)
    elif output == "table":
        write_table(title, response, stream, colorize=_want_color(color, stream))
    elif output == "yaml":
        write_yaml(response, stream)
    elif output == "yaml-stream":
        write_yaml_stream_item(response, stream)


def _render_pages(pages: Any, *, output: str, query: Any | None, color: str, stream: TextIO,
                  title: str) -> None:
    if output == "yaml-stream":
        # Each page is dumped (query applied per page) as soon as it arrives.
        for page in pages:
            write_yaml_stream_item(_apply_query(_prepare(page), query), stream)
            _flush(stream)
    elif output == "text":
        _write_text_pages(pages, query, stream)
    else:
        merged = _apply_query(_prepare(_merge_pages(pages)), query)
        _render_one(merged, output=output, color=color, stream=stream, title=title)


def _merge_pages(pages: Any) -> Any:
    if hasattr(pages, "build_full_result"):
        return pages.build_full_result()
    # A plain iterable of pages cannot be merged without the paginator's result keys.
    materialized = list(pages)
    if len(materialized) == 1:
        return materialized[0]
    raise TypeError("merging several pages needs a botocore PageIterator")


def _want_color(color: str, stream: TextIO) -> bool:
    if color == "on":
        return True
    if color == "off":
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


# --- json -----------------------------------------------------------------------------


def write_json(response: Any, stream: TextIO) -> None:
    # An empty dict is an operation without output: the AWS CLI prints nothing then,
    # while other falsy values (null, [], "") are printed.
    if response == {}:
        return
    json.dump(response, stream, indent=4, ensure_ascii=False, default=_json_default)
    stream.write("\n")


def _json_default(value: Any) -> Any:
    plain = _plain(value)
    if plain is value:
        raise TypeError("Encountered unrecognized type in JSON encoder.")
    return plain


# --- text -----------------------------------------------------------------------------


def write_text(value: Any, stream: TextIO) -> None:
    """Tab-separated lines: sorted scalar keys per row, nested keys upper-cased as prefix."""
    _text_value(value, stream, identifier=None, scalar_keys=None)


def _is_container(value: Any) -> bool:
    return isinstance(value, (dict, list))


def _text_value(value: Any, stream: TextIO, identifier: str | None,
                scalar_keys: list[str] | None) -> None:
    if isinstance(value, dict):
        _text_dict(value, stream, identifier, scalar_keys)
    elif isinstance(value, list):
        _text_list(value, stream, identifier)
    else:
        stream.write(f"{value}\n")


def _text_list(items: list[Any], stream: TextIO, identifier: str | None) -> None:
    if not items:
        return
    if any(isinstance(item, dict) for item in items):
        # Rows of one list share the union of scalar keys, so columns line up.
        shared_keys = _union_scalar_keys(items)
        for item in items:
            _text_value(item, stream, identifier, shared_keys)
    elif any(isinstance(item, list) for item in items):
        scalars = [item for item in items if not _is_container(item)]
        nested = [item for item in items if _is_container(item)]
        if scalars:
            _text_scalars(scalars, stream, identifier)
        for item in nested:
            _text_value(item, stream, identifier, None)
    else:
        _text_scalars(items, stream, identifier)


def _text_scalars(items: list[Any], stream: TextIO, identifier: str | None) -> None:
    if identifier is None:
        stream.write("\t".join(str(item) for item in items) + "\n")
        return
    for item in items:
        stream.write(f"{identifier.upper()}\t{item}\n")


def _union_scalar_keys(items: list[Any]) -> list[str]:
    keys: set[str] = set()
    for item in items:
        keys.update(key for key, value in item.items() if not _is_container(value))
    return sorted(keys)


def _text_dict(item: dict[str, Any], stream: TextIO, identifier: str | None,
               scalar_keys: list[str] | None) -> None:
    if scalar_keys is None:
        ordered = sorted(item.items())
        cells = [str(value) for _, value in ordered if not _is_container(value)]
        nested = [(key, value) for key, value in ordered if _is_container(value)]
    else:
        cells = [str(item.get(key, "")) for key in scalar_keys]
        nested = [(key, item[key]) for key in sorted(set(item) - set(scalar_keys))]
    if cells:
        if identifier is not None:
            cells.insert(0, identifier.upper())
        stream.write("\t".join(cells) + "\n")
    for key, value in nested:
        _text_value(value, stream, key, None)


def _write_text_pages(pages: Any, query: Any | None, stream: TextIO) -> None:
    """Text output of a paginated call: one block per page, as the AWS CLI prints it.

    With a botocore PageIterator only the result keys of each page are shown (plus the
    non-aggregated members on the first page) and a truncation token comes last as
    `NEXTTOKEN <token>`; the query applies to each page separately.
    """
    result_keys = getattr(pages, "result_keys", None)
    if result_keys is None:
        for page in pages:
            write_text(_apply_query(_prepare(page), query), stream)
        return
    from botocore.utils import set_value_from_jmespath  # already loaded with botocore

    for index, page in enumerate(pages):
        current: dict[str, Any] = {} if index else dict(pages.non_aggregate_part)
        for result_key in result_keys:
            set_value_from_jmespath(current, result_key.expression, result_key.search(page))
        write_text(_apply_query(_prepare(current), query), stream)
    if pages.resume_token:
        write_text(_apply_query({"NextToken": {"NextToken": pages.resume_token}}, query), stream)


# --- table ----------------------------------------------------------------------------

# The ANSI sequences colorama emits for the AWS CLI's colorized table.
_BRIGHT_BLUE = "\x1b[1m\x1b[34m"
_DIM_YELLOW = "\x1b[2m\x1b[33m"
_RESET = "\x1b[0m"


def terminal_width() -> int:
    """Width of the terminal on standard output, as the AWS CLI measures it (no COLUMNS)."""
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return DEFAULT_TERMINAL_WIDTH


def display_width(text: Any) -> int:
    """Columns taken by `str(text)`: East Asian wide, full-width and ambiguous count 2."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WFA" else 1 for ch in str(text))


class _Section:
    def __init__(self, title: Any, indent_level: int) -> None:
        self.title = title
        self.indent_level = indent_level
        self.headers: list[str] = []
        self.rows: list[list[str]] = []
        self.max_widths: list[int] = []
        self.column_count: int | None = None

    def set_headers(self, headers: list[str]) -> None:
        self._widen(headers)
        if self.column_count is None:
            self.column_count = len(headers)
        self.headers = headers

    def add_row(self, row: Iterable[Any]) -> None:
        cells = list(row)
        if self.column_count is None:
            self.column_count = len(cells)
        if len(cells) != self.column_count:
            raise ValueError(
                f"Row should have {self.column_count} elements, instead it has {len(cells)}")
        text_cells = [str(cell) for cell in cells]
        self.rows.append(text_cells)
        self._widen(text_cells)

    def _widen(self, cells: list[Any]) -> None:
        if not self.max_widths:
            self.max_widths = [display_width(cell) for cell in cells]
            return
        for index, cell in enumerate(cells):
            self.max_widths[index] = max(display_width(cell), self.max_widths[index])

    def natural_width(self) -> int:
        """Width with 4 columns of padding per cell, borders and the indentation bars."""
        outer = 2 * self.indent_level
        cells = sum(width + 4 for width in self.max_widths) + 2 + outer
        return max(display_width(self.title) + 2 + outer, cells)

    def column_widths(self, total: int) -> list[int]:
        """Scale the padded natural widths so that they add up to exactly `total`."""
        padded = [width + 4 for width in self.max_widths]
        if not padded:
            return padded
        scale = total / float(sum(padded))
        widths = [int(round(scale * width)) for width in padded]
        excess = sum(widths) - total
        while excess != 0:
            # Trim from the left, or grow from the right, one column at a time.
            order = range(len(widths)) if excess > 0 else reversed(range(len(widths)))
            for index in order:
                if excess > 0:
                    widths[index] -= 1
                    excess -= 1
                else:
                    widths[index] += 1
                    excess += 1
                if excess == 0:
                    break
        return widths


class _TableBuilder:
    """Turns a response into sections the way the AWS CLI's table formatter does."""

    def __init__(self) -> None:
        self.sections: list[_Section] = []
        self._current: _Section | None = None

    def _open(self, title: Any, indent_level: int) -> None:
        self._current = _Section(title, indent_level)
        self.sections.append(self._current)

    def _section(self) -> _Section:
        if self._current is None:  # rows before any section: the AWS CLI fails too
            raise AttributeError("table row without a section")
        return self._current

    def build(self, title: Any, value: Any, indent_level: int = 0) -> bool:
        if not value:
            return False
        if title is not None:
            self._open(title, indent_level)
        if isinstance(value, list):
            if isinstance(value[0], dict):
                self._list_of_dicts(value, indent_level, title)
            else:
                for item in value:
                    if not _is_container(item):
                        self._section().add_row([item])
                    elif all(not _is_container(cell) for cell in item):
                        self._section().add_row(item)
                    else:
                        self.build(None, item)
        if isinstance(value, dict):
            self._dict(value, indent_level)
        return True

    def _dict(self, value: dict[str, Any], indent_level: int) -> None:
        scalar_keys, nested_keys = _split_keys(value)
        if len(scalar_keys) == 1:
            # A lone scalar member shows as a key/value row, without a header.
            self._section().add_row([scalar_keys[0], value[scalar_keys[0]]])
        elif scalar_keys:
            self._section().set_headers(scalar_keys)
            self._section().add_row([value[key] for key in scalar_keys])
        for key in nested_keys:
            self.build(key, value[key], indent_level + 1)

    def _list_of_dicts(self, items: list[Any], indent_level: int, title: Any) -> None:
        scalar_keys: set[str] = set()
        nested_keys: set[str] = set()
        for item in items:
            item_scalars, item_nested = _split_keys(item)
            scalar_keys.update(item_scalars)
            nested_keys.update(item_nested)
        headers, nested = sorted(scalar_keys), sorted(nested_keys)
        self._section().set_headers(headers)
        for position, item in enumerate(items):
            if position and nested:
                # Items with nested members each get their own titled section.
                self._open(title, indent_level)
                self._section().set_headers(headers)
            self._section().add_row([item.get(key, "") for key in headers])
            for key in nested:
                if key in item:
                    self.build(key, item[key], indent_level + 1)


def _split_keys(value: dict[str, Any]) -> tuple[list[str], list[str]]:
    scalars = sorted(key for key in value if not _is_container(value[key]))
    nested = sorted(key for key in value if _is_container(value[key]))
    return scalars, nested


class _TableRenderer:
    def __init__(self, sections: list[_Section], width_limit: int, colorize: bool) -> None:
        self.sections = sections
        self.width_limit = width_limit
        self.colorize = colorize

    def render(self, stream: TextIO) -> None:
        width = self._max_width()
        if width > self.width_limit:
            # Too wide for the terminal: single-row sections turn into key/value rows.
            self.sections = [_vertical(section) for section in self.sections]
            width = self._max_width()
        stream.write("-" * width + "\n")
        for section in self.sections:
            self._section(section, width, stream)

    def _max_width(self) -> int:
        return max(section.natural_width() for section in self.sections)

    def _cell(self, text: str) -> str:
        return f"{_BRIGHT_BLUE}{text}{_RESET}" if self.colorize else text

    def _bar(self) -> str:
        return f"{_DIM_YELLOW}|{_RESET}" if self.colorize else "|"

    def _section(self, section: _Section, width: int, stream: TextIO) -> None:
        bars = self._bar() * section.indent_level
        inner = width - 2 * section.indent_level

        def emit(line: str) -> None:
            stream.write(f"{bars}{line}{bars}\n")

        if section.title:
            emit(_centered(str(section.title), inner, "|", "|"))
            if not section.headers and not section.rows:
                emit("+" + "-" * (inner - 2) + "+")
        if section.headers:
            widths = section.column_widths(inner)
            emit(_rule(widths))
            emit("".join(_centered(header, cell_width, "|" if index == 0 else "", "|")
                         for index, (cell_width, header) in enumerate(zip(widths, section.headers))))
        if section.rows:
            widths = section.column_widths(inner)
            if not widths:
                return
            emit(_rule(widths))
            for row in section.rows:
                emit("".join(
                    _left_aligned(self._cell(cell), display_width(cell), cell_width,
                                  "|" if index == 0 else "")
                    for index, (cell_width, cell) in enumerate(zip(widths, row))))
            emit(_rule(widths))


def _vertical(section: _Section) -> _Section:
    if len(section.rows) != 1 or not section.headers:
        return section
    turned = _Section(section.title, section.indent_level)
    for header, cell in zip(section.headers, section.rows[0]):
        turned.add_row([header, cell])
    return turned


def _rule(widths: list[int]) -> str:
    parts = ["+" + "-" * (widths[0] - 2) + "+"] if widths else []
    parts.extend("-" * (width - 1) + "+" for width in widths[1:])
    return "".join(parts)


def _centered(text: str, length: int, left: str, right: str) -> str:
    # Same arithmetic as the AWS CLI (including its behaviour when text overflows).
    text_length = display_width(text)
    start = (length // 2) - (text_length // 2) - 1
    used = len(left) + start + text_length
    return left + " " * start + text + " " * (length - len(right) - used) + right


def _left_aligned(text: str, text_length: int, length: int, left: str) -> str:
    right = "|"
    padding = 2 if length - (text_length + 2 + len(left) + len(right)) >= 0 else 0
    used = len(left) + padding + text_length
    return left + " " * padding + text + " " * (length - used - len(right)) + right


def write_table(title: str, response: Any, stream: TextIO, *, colorize: bool = False,
                width_limit: int | None = None) -> None:
    builder = _TableBuilder()
    if not builder.build(title, response):
        return
    limit = terminal_width() if width_limit is None else width_limit
    _TableRenderer(builder.sections, limit, colorize).render(stream)


# --- yaml (AWS CLI v2) ----------------------------------------------------------------


def write_yaml(response: Any, stream: TextIO) -> None:
    # Like json, an operation without output prints nothing.
    if response == {}:
        return
    _yaml_dump(response, stream)


def write_yaml_stream_item(response: Any, stream: TextIO) -> None:
    # yaml-stream wraps every response (or page) in a list, so pages concatenate into
    # one YAML sequence as they arrive; a response without output prints nothing (v2).
    if response == {}:
        return
    _yaml_dump([response], stream)


_DUMPER: Any = None


def _yaml_dump(value: Any, stream: TextIO) -> None:
    if value is None or isinstance(value, (str, int, float, bool)):
        # v2 prints a scalar (e.g. a --query result) as JSON: YAML would end it with "...".
        stream.write(json.dumps(value, ensure_ascii=False) + "\n")
        return
    import yaml  # lazy: only yaml output pays for it

    yaml.dump(value, stream, Dumper=_yaml_dumper_class(), default_flow_style=False,
              allow_unicode=True, sort_keys=True)


def _yaml_dumper_class() -> Any:
    """A PyYAML SafeDumper that quotes strings the way AWS CLI v2 (ruamel.yaml) does.

    AWS CLI v2 dumps with ruamel.yaml's safe dumper: block style, keys sorted, YAML 1.2
    resolution. So a string is quoted only when YAML 1.2 would read it as another type
    (`'123'`, `'true'`, `'null'`, `'2024-01-01T00:00:00+00:00'`), not for YAML 1.1-only
    booleans such as `yes`/`on`.
    """
    global _DUMPER
    if _DUMPER is None:
        _DUMPER = _build_yaml_dumper_class()
    return _DUMPER


def _build_yaml_dumper_class() -> Any:
    import re

    import yaml

    class V2Dumper(yaml.SafeDumper):
        yaml_implicit_resolvers: dict[str, list[Any]] = {}

    resolvers = [
        ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
        ("tag:yaml.org,2002:float", r"""^(?:
             [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
            |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
            |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
            |[-+]?\.(?:inf|Inf|INF)
            |\.(?:nan|NaN|NAN))$""", "-+0123456789."),
        ("tag:yaml.org,2002:int", r"""^(?:[-+]?0b[0-1_]+
            |[-+]?0o?[0-7_]+
            |[-+]?[0-9_]+
            |[-+]?0x[0-9a-fA-F_]+)$""", "-+0123456789"),
        ("tag:yaml.org,2002:merge", r"^(?:<<)$", "<"),
        ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
        ("tag:yaml.org,2002:timestamp", r"""^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
            |[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?
             (?:[Tt]|[ \t]+)[0-9][0-9]?
             :[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?
             (?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$""", "0123456789"),
        ("tag:yaml.org,2002:value", r"^(?:=)$", "="),
    ]
    for tag, pattern, first in resolvers:
        V2Dumper.add_implicit_resolver(tag, re.compile(pattern, re.X), list(first))

    def represent_str(dumper: Any, value: str) -> Any:
        # ruamel.yaml does not print characters beyond the BMP (emoji): it double-quotes the
        # string and escapes them ("\U0001F69A"), which PyYAML's emitter does in that style.
        if any(ord(ch) > 0xFFFF for ch in value):
            return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
        return dumper.represent_str(value)

    V2Dumper.add_representer(str, represent_str)
    V2Dumper.add_representer(UnparsedTimestamp, lambda dumper, value: dumper.represent_scalar(
        "tag:yaml.org,2002:timestamp", str(value)))
    return V2Dumper
