"""`wabalink socialmessaging [<operation>] help`: pages generated from the model.

Pages are AWS CLI v2's own (see helpman: reStructuredText, docutils, groff).  Where groff or
docutils is missing, the plain-text rendering below is printed instead, and says so.
"""
from __future__ import annotations

import re
import textwrap
from html import unescape

from . import model, shorthand
from .model import Operation, Shape

PROG = "wabalink"

_BLOCK = re.compile(r"</?(p|ul|ol|div|note|important|dl|dt|dd|br|h\d)(\s[^>]*)?/?>", re.I)
_LI = re.compile(r"<li(\s[^>]*)?>", re.I)
_TAG = re.compile(r"<[^>]+>")


def doc_to_text(doc: str) -> list[str]:
    """Model HTML documentation -> paragraphs (bullets prefixed with '  • ')."""
    if not doc:
        return []
    s = _LI.sub("\n\x00", doc)
    s = re.sub(r"</li>", "\n", s, flags=re.I)
    s = _BLOCK.sub("\n", s)
    s = _TAG.sub("", s)
    paras = []
    for line in s.split("\n"):
        bullet = line.startswith("\x00")
        text = " ".join(unescape(line.replace("\x00", "")).split())
        if not text:
            continue
        paras.append(("  • " if bullet else "") + text)
    return paras


def first_sentence(doc: str) -> str:
    text = " ".join(doc_to_text(doc))
    m = re.search(r"\.(\s|$)", text)
    return text[: m.start() + 1] if m else text


GLOBAL_OPTIONS = [
    ("--debug", "boolean", "Turn on debug logging.", None),
    ("--endpoint-url", "string", "Override command's default URL with the given URL.", None),
    ("--no-verify-ssl", "boolean", "By default, the AWS CLI uses SSL when communicating with AWS services. For each SSL connection, the AWS CLI will verify SSL certificates. This option overrides the default behavior of verifying SSL certificates.", None),
    ("--no-paginate", "boolean", "Disable automatic pagination. If automatic pagination is disabled, the AWS CLI will only make one call, for the first page of results.", None),
    ("--output", "string", "The formatting style for command output.", ["json", "text", "table", "yaml", "yaml-stream", "off"]),
    ("--query", "string", "A JMESPath query to use in filtering the response data.", None),
    ("--profile", "string", "Use a specific profile from your credential file.", None),
    ("--region", "string", "The region to use. Overrides config/env settings.", None),
    ("--version", "string", "Display the version of this tool.", None),
    ("--color", "string", "Turn on/off color output.", ["on", "off", "auto"]),
    ("--no-sign-request", "boolean", "Do not sign requests. Credentials will not be loaded if this argument is provided.", None),
    ("--ca-bundle", "string", "The CA certificate bundle to use when verifying SSL certificates. Overrides config/env settings.", None),
    ("--cli-read-timeout", "int", "The maximum socket read time in seconds. If the value is set to 0, the socket read will be blocking and not timeout. The default value is 60 seconds.", None),
    ("--cli-connect-timeout", "int", "The maximum socket connect time in seconds. If the value is set to 0, the socket connect will be blocking and not timeout. The default value is 60 seconds.", None),
    ("--cli-binary-format", "string", "The formatting style to be used for binary blobs. The default format is base64. The base64 format expects binary blobs to be provided as a base64 encoded string. The raw-in-base64-out format preserves compatibility with AWS CLI V1 behavior and binary values must be passed literally. When providing contents from a file that map to a binary blob fileb:// will always be treated as binary and use the file contents directly regardless of the cli-binary-format setting. When using file:// the file contents will need to properly formatted for the configured cli-binary-format.", ["base64", "raw-in-base64-out"]),
    ("--no-cli-pager", "boolean", "Disable cli pager for output.", None),
    ("--cli-auto-prompt", "boolean", "Automatically prompt for CLI input parameters.", None),
    ("--no-cli-auto-prompt", "boolean", "Disable automatically prompt for CLI input parameters.", None),
    ("--cli-error-format", "string", "The formatting style for error output. By default, errors are displayed in enhanced format.", ["legacy", "json", "yaml", "text", "table", "enhanced"]),
]

PAGING_HELP = {
    "--starting-token": "A token to specify where to start paginating. This is the NextToken from a previously truncated response.",
    "--page-size": "The size of each page to get in the AWS service call. This does not affect the number of items returned in the command's output. Setting a smaller page size results in more calls to the AWS service, retrieving fewer items in each call. This can help prevent the AWS service calls from timing out.",
    "--max-items": "The total number of items to return in the command's output. If the total number of items available is more than the value specified, a NextToken is provided in the command's output. To resume pagination, provide the NextToken value in the starting-token argument of a subsequent command. Do not use the NextToken response element directly outside of the AWS CLI.",
}

SKELETON_HELP = (
    "--cli-input-json | --cli-input-yaml (string) Reads arguments from the JSON string provided. "
    "The JSON string follows the format provided by --generate-cli-skeleton. If other arguments are "
    "provided on the command line, those values will override the JSON-provided values. It is not "
    "possible to pass arbitrary binary values using a JSON-provided value as the string will be taken "
    "literally. This may not be specified along with --cli-input-yaml.",
    "--generate-cli-skeleton (string) Prints a JSON skeleton to standard output without sending an "
    "API request. If provided with no value or the value input, prints a sample input JSON that can be "
    "used as an argument for --cli-input-json. Similarly, if provided yaml-input it will print a sample "
    "input YAML that can be used with --cli-input-yaml. If provided with the value output, it validates "
    "the command inputs and returns a sample output JSON for that command. The generated JSON skeleton "
    "is not stable between versions of the AWS CLI and there are no backwards compatibility guarantees "
    "in the JSON skeleton generated.",
)


def _type_label(shape: Shape) -> str:
    return {"integer": "integer", "long": "long", "boolean": "boolean", "timestamp": "timestamp",
            "blob": "blob", "double": "double", "float": "float"}.get(shape.type_name, shape.type_name)


def _describe(shape: Shape, out: list[str], stack: list[str], depth: int = 0, mark_top: bool = True) -> None:
    """Nested member documentation, as the AWS CLI's help prints it.

    Required members are marked "[required]", except an output's top-level members (as v2 does)."""
    t = shape.type_name
    if shape.name in stack:
        return
    stack = stack + [shape.name]
    if t == "structure":
        required = set(shape.required_members) if depth or mark_top else set()
        for name, m in shape.members.items():
            out.append(f"{name} -> ({_type_label(m)})" + (" [required]" if name in required else ""))
            out.extend(doc_to_text(m.documentation))
            _constraints(m, out)
            _enum(m, out)
            _describe(m, out, stack, depth + 1)
    elif t == "list":
        m = shape.member
        if m.type_name in ("structure", "list", "map"):
            out.append(f"({_type_label(m)})")
            out.extend(doc_to_text(m.metadata.get("documentation", "")))
            _describe(m, out, stack, depth + 1)
        else:
            out.append(f"({_type_label(m)})")
            _enum(m, out)
    elif t == "map":
        out.append(f"key -> ({_type_label(shape.key)})")
        out.append(f"value -> ({_type_label(shape.value)})")
        out.extend(doc_to_text(shape.value.metadata.get("documentation", "")))
        _describe(shape.value, out, stack, depth + 1)


def _constraints(shape: Shape, out: list[str]) -> None:
    """v2 lists a shape's min, max and pattern traits under "Constraints:"."""
    traits = [(name, shape.metadata[name]) for name in ("min", "max", "pattern") if name in shape.metadata]
    if traits:
        out.append("Constraints:")
        out.extend(f"  • {name}: {value}" for name, value in traits)


def _enum(shape: Shape, out: list[str]) -> None:
    if shape.enum:
        out.append("Possible values:")
        out.extend(f"  • {v}" for v in shape.enum)


def shorthand_example(shape: Shape, stack=None) -> str | None:
    if not shorthand.supports_shorthand(shape):
        return None
    stack = stack or []

    def value(s: Shape, st: list[str]) -> str:
        t = s.type_name
        if s.name in st:
            return "{...}"
        st = st + [s.name]
        if t == "structure":
            return "{" + ",".join(f"{k}={value(m, st)}" for k, m in s.members.items()) + "}"
        if t == "list":
            inner = value(s.member, st)
            return f"[{inner},{inner}]" if s.member.type_name in ("structure", "list", "map") else f"{inner},{inner}"
        if t == "map":
            return "{KeyName1=" + value(s.value, st) + ",KeyName2=" + value(s.value, st) + "}"
        return "string" if t in ("string", "blob", "timestamp") else t

    t = shape.type_name
    if t == "structure":
        return ",".join(f"{k}={value(m, [shape.name])}" for k, m in shape.members.items())
    if t == "map":
        return "KeyName1=" + value(shape.value, [shape.name]) + ",KeyName2=" + value(shape.value, [shape.name])
    m = shape.member
    if m.type_name == "structure":
        one = ",".join(f"{k}={value(mm, [m.name])}" for k, mm in m.members.items())
        return f"{one} {one}"
    return value(shape, [])


def json_example(shape: Shape, indent: int = 0, stack=None) -> str:
    stack = stack or []
    pad = "  " * indent
    t = shape.type_name
    if shape.name in stack and t in ("structure", "list", "map"):
        return "{...}" if t != "list" else "[...]"
    stack = stack + [shape.name]
    if t == "structure":
        lines = ["{"]
        items = list(shape.members.items())
        for i, (k, m) in enumerate(items):
            sep = "," if i < len(items) - 1 else ""
            lines.append(f'{pad}  "{k}": {json_example(m, indent + 1, stack)}{sep}')
        lines.append(pad + "}")
        return "\n".join(lines)
    if t == "list":
        return "[\n" + pad + "  " + json_example(shape.member, indent + 1, stack) + "\n" + pad + "  ...\n" + pad + "]"
    if t == "map":
        return "{\n" + pad + '  "string": ' + json_example(shape.value, indent + 1, stack) + "\n" + pad + "  ...\n" + pad + "}"
    if t == "string":
        return '"' + ("|".join(shape.enum) if shape.enum else "string") + '"'
    if t == "blob":
        return "blob"
    if t == "timestamp":
        return "timestamp"
    if t in ("integer", "long"):
        return "integer"
    if t in ("float", "double"):
        return "double"
    return t


def _paging_note(op: Operation) -> list[str]:
    """The paragraph AWS CLI v2 adds to the description of a paginated operation."""
    pag = op.paginator
    if pag is None:
        return []
    note = (f"{op.cli_name} is a paginated operation. Multiple API calls may be issued in order "
            "to retrieve the entire data set of results. You can disable pagination by providing "
            "the --no-paginate argument.")
    keys = pag.get("result_key")
    if keys:
        keys = keys if isinstance(keys, list) else [keys]
        note += (" When using --output text and the --query argument on a paginated response, "
                 "the --query argument must extract data from the results of the following "
                 "query expressions: " + ", ".join(keys))
    return ["", note]


FALLBACK_NOTE = ("(groff or docutils is not installed: this page is plain text, "
                 "not the AWS CLI's man page rendering)")


def operation_page(op: Operation, table: dict) -> str:
    from . import helpman

    page = helpman.render(helpman.operation_rst(op, table))
    return page if page is not None else _with_note(plain_operation_page(op, table))


def service_page() -> str:
    from . import helpman

    page = helpman.render(helpman.service_rst())
    return page if page is not None else _with_note(plain_service_page())


def _with_note(page: str) -> str:
    return FALLBACK_NOTE + "\n\n" + page


def plain_operation_page(op: Operation, table: dict) -> str:
    out: list[str] = [f"[ {PROG} . socialmessaging ]", "", op.cli_name, "", "Description", ""]
    out.extend(doc_to_text(op.documentation))
    out += _paging_note(op)
    out += ["", "See also: AWS API Documentation", "", "Synopsis", "", f"  {op.cli_name}"]
    visible = [a for a in table.values() if not a.hidden]
    # v2's order: the model's arguments, --cli-input-*, the paging arguments, --generate-cli-skeleton.
    modeled = [a for a in visible if hasattr(a, "shape")]
    paging = [a for a in visible if not hasattr(a, "shape")]
    for a in modeled + paging:
        flag = f"{a.cli_name} | --no-{a.cli_name[2:]}" if a.is_bool else f"{a.cli_name} <value>"
        if a is (paging or [None])[0]:
            out.append("[--cli-input-json | --cli-input-yaml]")
        out.append(flag if a.required else f"[{flag}]")
    if not paging:
        out.append("[--cli-input-json | --cli-input-yaml]")
    out.append("[--generate-cli-skeleton <value>]")
    for name, typ, _doc, _choices in GLOBAL_OPTIONS:
        out.append(f"[{name}]" if typ == "boolean" else f"[{name} <value>]")
    out += ["", "Options", ""]
    for a in modeled + paging:
        if a is (paging or [None])[0]:
            out += [SKELETON_HELP[0], ""]
        if hasattr(a, "shape"):
            shape = a.shape
            required = " [required]" if a.required else ""
            if a.is_bool:
                out.append(f"{a.cli_name} | --no-{a.cli_name[2:]} ({_type_label(shape)}){required}")
            else:
                out.append(f"{a.cli_name} ({_type_label(shape)}){required}")
            out.append("")
            for p in doc_to_text(shape.documentation):
                out += [p, ""]
            constraints: list[str] = []
            _constraints(shape, constraints)
            out += [line for c in constraints for line in (c, "")]
            if shape.enum:
                out.append("Possible values:")
                out += [f"  • {v}" for v in shape.enum] + [""]
            if shape.type_name in ("structure", "list", "map"):
                nested: list[str] = []
                _describe(shape, nested, [])
                for line in nested:
                    out += [line, ""]
                sh = shorthand_example(shape)
                if sh:
                    out += ["Shorthand Syntax:", "", "  " + sh, ""]
                elif shape.type_name == "list":
                    out += ["Syntax:", "", '  "string" "string" ...', ""]
                out += ["JSON Syntax:", ""]
                out += ["  " + line for line in json_example(shape).split("\n")]
                out.append("")
        else:
            out += [f"{a.cli_name} ({a.type_name})", "", PAGING_HELP[a.cli_name], ""]
    out += ([SKELETON_HELP[0], ""] if not paging else []) + [SKELETON_HELP[1], ""]
    out += ["Global Options", ""]
    for name, typ, doc, choices in GLOBAL_OPTIONS:
        out += [f"{name} ({typ})", "", doc, ""]
        if choices:
            out += [f"  • {c}" for c in choices] + [""]
    out += ["Output", ""]
    shape = op.output_shape
    if shape is None or not shape.members:
        out += ["None", ""]
    else:
        nested = []
        _describe(shape, nested, [], mark_top=False)
        for line in nested:
            out += [line, ""]
    return "\n".join(_wrap(out)) + "\n"


def _wrap(lines: list[str]) -> list[str]:
    res = []
    for line in lines:
        if len(line) <= 100 or line.startswith(" "):
            res.append(line)
        else:
            res.extend(textwrap.wrap(line, 100, break_long_words=False, break_on_hyphens=False))
    return res


def plain_service_page() -> str:
    data = model.service_json()
    out = [f"[ {PROG} ]", "", "socialmessaging", "", "Description", ""]
    out.extend(doc_to_text(data.get("documentation", "")))
    out += ["", "Available Commands", ""]
    for name in sorted([*model.operations_by_cli_name(), "help"]):  # v2 lists `help` too
        out.append(f"  • {name}")
    out.append("")
    return "\n".join(_wrap(out)) + "\n"
