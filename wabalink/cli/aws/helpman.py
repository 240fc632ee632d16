"""Help pages as AWS CLI v2 renders them: reStructuredText -> man page (docutils) -> groff.

The reStructuredText has v2's layout, so the page printed is v2's, byte for byte (program name
aside).  Without groff (or docutils), helppage's plain-text renderer is used instead.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

from . import model
from .helppage import GLOBAL_OPTIONS
from .model import Operation, Shape
from .rstdoc import RstWriter
from .shorthanddoc import has_no_examples, shorthand_example

SCALARS = {"string", "integer", "long", "boolean", "double", "float", "blob", "timestamp"}
CROSSLINK = "See also: AWS API Documentation"
PAGINATION_HTML = {
    "--starting-token": "<p>A token to specify where to start paginating.  This is the <code>NextToken</code> from a previously truncated response.</p>",
    "--page-size": "<p>The size of each page to get in the AWS service call.  This does not affect the number of items returned in the command's output.  Setting a smaller page size results in more calls to the AWS service, retrieving fewer items in each call.  This can help prevent the AWS service calls from timing out.</p>",
    "--max-items": "<p>The total number of items to return in the command's output. If the total number of items available is more than the value specified, a <code>NextToken</code> is provided in the command's output.  To resume pagination, provide the <code>NextToken</code> value in the <code>starting-token</code> argument of a subsequent command.  <b>Do not</b> use the <code>NextToken</code> response element directly outside of the AWS CLI.</p>",
}
PAGINATION_LINK = ('<p>For usage examples, see <a href="https://docs.aws.amazon.com/cli/latest/userguide/'
                   'pagination.html">Pagination</a> in the <i>AWS Command Line Interface User Guide</i>.</p>')
CLI_INPUT_RST = (
    "``--cli-input-json`` | ``--cli-input-yaml`` (string)\nReads arguments from the JSON string provided. "
    "The JSON string follows the format provided by ``--generate-cli-skeleton``. If other arguments are "
    "provided on the command line, those values will override the JSON-provided values. It is not "
    "possible to pass arbitrary binary values using a JSON-provided value as the string will be taken "
    "literally. This may not be specified along with ``--cli-input-yaml``.\n\n")
SKELETON_RST = (
    "``--generate-cli-skeleton`` (string)\nPrints a JSON skeleton to standard output without sending an "
    "API request. If provided with no value or the value ``input``, prints a sample input JSON that can be "
    "used as an argument for ``--cli-input-json``. Similarly, if provided ``yaml-input`` it will print a "
    "sample input YAML that can be used with ``--cli-input-yaml``. If provided with the value ``output``, it "
    "validates the command inputs and returns a sample output JSON for that command. The generated JSON "
    "skeleton is not stable between versions of the AWS CLI and there are no backwards compatibility "
    "guarantees in the JSON skeleton generated.\n\n")
# Literal words of the global options' documentation (v2 marks them as code).
GLOBAL_CODE_WORDS = r"(?<= )(fileb://|file://|cli-binary-format)(?=[ .])"


def _global_options_rst() -> str:
    out = []
    for name, typ, doc, choices in GLOBAL_OPTIONS:
        text = re.sub(GLOBAL_CODE_WORDS, r"``\1``", doc)
        out.append(f"``{name}`` ({typ})\n\n{text}\n\n")
        if choices:
            out.append("\n" + "".join(f"*   {c}\n\n" for c in choices) + "\n")
    return "".join(out)


def _title(w: RstWriter, ref: str, name: str) -> None:
    w.new_paragraph()
    w.writeln(f".. _cli:{ref}:")
    w.heading(name, "*")


def _constraints(shape: Shape, w: RstWriter) -> None:
    traits = [(k, shape.metadata[k]) for k in ("min", "max", "pattern") if shape.metadata.get(k) is not None]
    if traits:
        w.new_paragraph()
        w.write("Constraints:")
        w.items([f"{k}: ``{v}``" for k, v in traits])


def _enums(shape: Shape, w: RstWriter) -> None:
    if shape.type_name == "string" and shape.enum:
        w.new_paragraph()
        w.write("Possible values:")
        w.items([f"``{e}``" for e in shape.enum])


def _children(shape: Shape) -> list[tuple[str, Shape, bool]]:
    t = shape.type_name
    if t == "structure":
        required = set(shape.required_members)
        return [(n, m, n in required) for n, m in shape.members.items()]
    if t == "list":
        return [("", shape.member, False)]
    if t == "map":
        return [("key", shape.key, False), ("value", shape.value, False)]
    return []


def _member(w: RstWriter, name: str, shape: Shape, stack: list[str], required: bool) -> None:
    if shape.name in stack and stack.count(shape.name) > 1:
        if shape.type_name == "structure":
            w.write("( ... recursive ... )")
        return
    stack.append(shape.name)
    label = f"{name} -> ({shape.type_name})" if name else f"({shape.type_name})"
    w.write(label + (" [required]" if required else ""))
    w.indent()
    w.new_paragraph()
    w.include_html(shape.documentation)
    _enums(shape, w)
    _constraints(shape, w)
    w.new_paragraph()
    for sub_name, sub, sub_required in _children(shape):
        _member(w, sub_name, sub, stack, sub_required)
    w.dedent()
    w.new_paragraph()
    stack.pop()


def _example_value(shape: Shape, enums: bool = True) -> str:
    if shape.type_name == "string":
        return "|".join(f'"{e}"' for e in shape.enum) if shape.enum and enums else '"string"'
    return "true|false" if shape.type_name == "boolean" else shape.type_name


def _json_example(w: RstWriter, shape: Shape, stack: list[str]) -> None:
    if shape.name in stack and stack.count(shape.name) > 1:
        if shape.type_name == "structure":
            w.write("{ ... recursive ... }")
        return
    stack.append(shape.name)
    t = shape.type_name
    if t == "list":
        w.write("[")
        if shape.member.type_name in SCALARS:
            w.write(f"{_example_value(shape.member)}, ...")
        else:
            w.indent()
            w.new_line()
            _json_example(w, shape.member, stack)
            w.new_line()
            w.write("...")
            w.dedent()
            w.new_line()
        w.write("]")
    elif t == "map":
        w.write("{")
        w.indent()
        w.write(f"{_example_value(shape.key)}: ")
        if shape.value.type_name in SCALARS:
            w.write(_example_value(shape.value))
        else:
            w.indent()
            _json_example(w, shape.value, stack)
            w.dedent()
        w.new_line()
        w.write("...")
        w.dedent()
        w.write("}")
    elif t == "structure":
        if shape.is_document:
            w.write("{...}")
        else:
            _json_structure(w, shape, stack)
    stack.pop()


def _json_structure(w: RstWriter, shape: Shape, stack: list[str]) -> None:
    w.write("{")
    w.indent()
    w.new_line()
    members = list(shape.members.items())
    for i, (name, member) in enumerate(members):
        if member.type_name in SCALARS:
            w.write(f'"{name}": {_example_value(member)}')
        else:
            w.write(f'"{name}": ')
            _json_example(w, member, stack)
        if i < len(members) - 1:
            w.write(",")
            w.new_line()
    w.dedent()
    w.new_line()
    w.write("}")


def _option(w: RstWriter, arg: Any, op: Operation) -> None:
    shape: Shape | None = getattr(arg, "shape", None)
    if shape is None:  # a paging argument: v2's own documentation, page size with its shape's limits
        w.write(f"``{arg.cli_name}`` ({arg.type_name})\n")
        w.indent()
        w.include_html(PAGINATION_HTML[arg.cli_name] + PAGINATION_LINK)
        limit = (op.paginator or {}).get("limit_key")
        if arg.cli_name == "--page-size" and limit and op.input_shape is not None:
            _constraints(op.input_shape.members[limit], w)
        w.dedent()
        w.new_paragraph()
        return
    name = f"``{arg.cli_name}`` | ``--no-{arg.cli_name[2:]}``" if arg.is_bool else f"``{arg.cli_name}``"
    w.write(f"{name} ({shape.type_name}){' [required]' if arg.required else ''}\n")
    w.indent()
    w.include_html(shape.documentation)
    _enums(shape, w)
    _constraints(shape, w)
    for name, sub, required in _children(shape):
        _member(w, name, sub, [shape.name], required)
    w.dedent()
    w.new_paragraph()
    if not arg.is_bool:
        _option_example(w, shape)


def _option_example(w: RstWriter, shape: Shape) -> None:
    if has_no_examples(shape):
        return
    example = shorthand_example(shape)
    if example:
        w.new_paragraph()
        w.write("Shorthand Syntax")
        w.start_code_block()
        for line in example.splitlines():
            w.writeln(line)
        w.end_code_block()
    if shape.type_name == "list" and shape.member.type_name in SCALARS:
        value = _example_value(shape.member, enums=False)
        w.new_paragraph()
        w.write("Syntax")
        w.start_code_block()
        w.write(f"{value} {value} ...")
        w.end_code_block()
        w.new_paragraph()
    elif shape.type_name not in SCALARS:
        w.new_paragraph()
        w.write("JSON Syntax")
        w.start_code_block()
        _json_example(w, shape, [])
        w.end_code_block()
        w.new_paragraph()


def _paging_note(w: RstWriter, op: Operation) -> None:
    pag = op.paginator
    if pag is None:
        return
    w.new_paragraph()
    w.write(f"``{op.cli_name}`` is a paginated operation. Multiple API calls may be issued in order to "
            "retrieve the entire data set of results. You can disable pagination by providing the "
            "``--no-paginate`` argument.\n")
    keys = pag.get("result_key")
    if keys:
        keys = keys if isinstance(keys, list) else [keys]
        w.write("When using ``--output text`` and the ``--query`` argument on a paginated response, the "
                "``--query`` argument must extract data from the results of the following query expressions: "
                + ", ".join(f"``{k}``" for k in keys) + "\n")


def operation_rst(op: Operation, table: dict) -> str:
    w = RstWriter()
    _title(w, f"aws socialmessaging {op.cli_name}", op.cli_name)
    w.heading("Description", "=")
    w.include_html(op.documentation)
    w.new_paragraph()
    w.write(CROSSLINK)
    w.writeln("")
    _paging_note(w, op)
    w.heading("Synopsis", "=")
    w.start_code_block()
    w.writeln(op.cli_name)
    visible = [a for a in table.values() if not a.hidden]
    modeled = [a for a in visible if hasattr(a, "shape")]
    paging = [a for a in visible if not hasattr(a, "shape")]
    for a in modeled:
        option = f"{a.cli_name} | --no-{a.cli_name[2:]}" if a.is_bool else f"{a.cli_name} <value>"
        w.writeln(option if a.required else f"[{option}]")
    w.writeln("[--cli-input-json | --cli-input-yaml]")
    for a in paging:
        w.writeln(f"[{a.cli_name} <value>]")
    w.writeln("[--generate-cli-skeleton <value>]")
    for name, typ, _doc, _choices in GLOBAL_OPTIONS:
        w.writeln(f"[{name}]" if typ == "boolean" else f"[{name} <value>]")
    w.end_code_block()
    w.heading("Options", "=")
    for a in modeled:
        _option(w, a, op)
    w.write(CLI_INPUT_RST)
    for a in paging:
        _option(w, a, op)
    w.write(SKELETON_RST)
    w.heading("Global Options", "=")
    w.write(_global_options_rst())
    w.heading("Output", "=")
    shape = op.output_shape
    if shape is None or not shape.members:
        w.write("None")
    else:
        for name, member in shape.members.items():
            _member(w, name, member, [], False)
    return w.value()


def service_rst() -> str:
    w = RstWriter()
    _title(w, "aws socialmessaging", "socialmessaging")
    w.heading("Description", "=")
    w.include_html(model.service_json().get("documentation", ""))
    w.heading("Available Commands", "=")
    w.items(sorted([*model.operations_by_cli_name(), "help"]))
    return w.value()


def render(rst: str) -> str | None:
    """The page as v2 prints it (groff's ASCII output); None without groff."""
    groff = shutil.which("groff")
    if groff is None:
        return None
    try:
        from docutils.core import publish_string
        from docutils.writers import manpage
    except ImportError:
        return None
    man = publish_string(rst, writer=manpage.Writer(), settings_overrides={"line_length_limit": 50_000})
    done = subprocess.run([groff, "-m", "man", "-T", "ascii"], input=man, capture_output=True, check=False)
    return done.stdout.decode("utf-8")

