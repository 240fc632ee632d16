"""`wabalink socialmessaging <operation> [options]`: an AWS-CLI-compatible command.

Over 400 lines because it is the AWS CLI v2 command driver (global options, parameter sources, pagination, errors and exit codes); its parts with their own state live beside it (params, skeleton, helppage, pager, prompt).

Entry point: :func:`main` (argv after ``socialmessaging``; returns the exit code).
botocore does credentials, config, endpoints, signing, retries and validation; this
module parses the command line from the service model, builds the call and reports
errors with the AWS CLI v2 exit codes.  Heavy imports happen only where needed so
``--generate-cli-skeleton`` and ``help`` never load botocore's session machinery.
"""
from __future__ import annotations

import os
import sys
from typing import Any, TextIO

PROG = "wabalink"
VERSION = "0.1.0"

RC_OK = 0
RC_USAGE = 252
RC_CONFIG = 253
RC_SERVICE = 254
RC_OTHER = 255
RC_INTERRUPT = 130

USAGE = (
    f"usage: {PROG} [options] <command> <subcommand> [<subcommand> ...] [parameters]\n"
    "To see help text, you can run:\n"
    "\n"
    f"  {PROG} help\n"
    f"  {PROG} <command> help\n"
    f"  {PROG} <command> <subcommand> help\n"
)

GLOBAL_FLAGS = {
    "--debug": "debug",
    "--no-verify-ssl": "no_verify_ssl",
    "--no-paginate": "no_paginate",
    "--no-sign-request": "no_sign_request",
    "--no-cli-pager": "no_cli_pager",
    "--cli-auto-prompt": "cli_auto_prompt",
    "--no-cli-auto-prompt": "no_cli_auto_prompt",
}
GLOBAL_VALUES = {
    "--endpoint-url": "endpoint_url",
    "--output": "output",
    "--query": "query",
    "--profile": "profile",
    "--region": "region",
    "--color": "color",
    "--ca-bundle": "ca_bundle",
    "--cli-read-timeout": "cli_read_timeout",
    "--cli-connect-timeout": "cli_connect_timeout",
    "--cli-binary-format": "cli_binary_format",
    "--cli-input-json": "cli_input_json",
    "--cli-input-yaml": "cli_input_yaml",
    "--cli-error-format": "cli_error_format",
}
CHOICES = {
    "--output": ("json", "text", "table", "yaml", "yaml-stream", "off"),
    "--cli-error-format": ("legacy", "json", "yaml", "text", "table", "enhanced"),
    "--color": ("on", "off", "auto"),
    "--cli-binary-format": ("base64", "raw-in-base64-out"),
    "--generate-cli-skeleton": ("input", "output", "yaml-input"),
}
INT_VALUES = {"--cli-read-timeout", "--cli-connect-timeout"}


class UsageError(Exception):
    """argparse-style error: message first, then the usage block (exit 252)."""


class ParamValidation(Exception):
    """Reported as ``An error occurred (ParamValidation): ...`` (exit 252)."""


class ConfigError(Exception):
    def __init__(self, code: str, message: str):
        self.code = code
        super().__init__(message)


class Parsed:
    def __init__(self):
        self.g: dict[str, Any] = {}
        self.op_name: str | None = None
        self.values: dict[str, Any] = {}  # cli_name -> raw value(s)
        self.unknown: list[str] = []
        self.help = False
        self.skeleton: str | None = None
        self.version = False


def _version_string() -> str:
    import platform

    import botocore

    return (
        f"{PROG}-cli/{VERSION} Python/{platform.python_version()} "
        f"{platform.system()}/{platform.release()} botocore/{botocore.__version__}"
    )


def parse_argv(argv: list[str]) -> tuple[Parsed, Any, dict]:
    """Parse globals, the operation name and its options (model-driven)."""
    from . import model, params

    p = Parsed()
    op = None
    table: dict[str, Any] = {}
    bools: dict[str, tuple[Any, bool]] = {}
    i = 0
    n = len(argv)

    def need_value(opt: str, inline: str | None) -> str:
        nonlocal i
        if inline is not None:
            return inline
        if i + 1 < n and not argv[i + 1].startswith("--"):
            i += 1
            return argv[i]
        raise UsageError(f"argument {opt}: expected one argument")

    while i < n:
        tok = argv[i]
        if tok.startswith("--") and len(tok) > 2:
            name, eq, inline_val = tok.partition("=")
            inline = inline_val if eq else None
            if name == "--version":
                p.version = True
            elif name in GLOBAL_FLAGS and inline is None:
                p.g[GLOBAL_FLAGS[name]] = True
            elif name in GLOBAL_VALUES:
                val = need_value(name, inline)
                if name in CHOICES and val not in CHOICES[name]:
                    raise invalid_choice(name, val, CHOICES[name])
                setting: str | int = val
                if name in INT_VALUES:
                    try:
                        setting = int(val)
                    except ValueError:
                        raise UsageError(f"argument {name}: invalid int value: '{val}'") from None
                if name in ("--cli-input-json", "--cli-input-yaml"):
                    other = "--cli-input-yaml" if name == "--cli-input-json" else "--cli-input-json"
                    if GLOBAL_VALUES[other] in p.g:
                        raise UsageError(f"argument {name}: not allowed with argument {other}")
                p.g[GLOBAL_VALUES[name]] = setting
            elif name == "--generate-cli-skeleton" and op is not None:
                skeleton = inline
                if skeleton is None and i + 1 < n and not argv[i + 1].startswith("--"):
                    i += 1
                    skeleton = argv[i]
                skeleton = skeleton or "input"
                if skeleton not in CHOICES[name]:
                    raise invalid_choice(name, skeleton, CHOICES[name])
                p.skeleton = skeleton
            elif op is not None and name in bools and inline is None:
                arg, flag = bools[name]
                p.values[arg.cli_name] = flag
            elif op is not None and name in table and not table[name].is_bool:
                arg = table[name]
                if arg.nargs_list:
                    vals = [] if inline is None else [inline]
                    while i + 1 < n and not argv[i + 1].startswith("--"):
                        i += 1
                        vals.append(argv[i])
                    if not vals:
                        raise UsageError(f"argument {name}: expected at least one argument")
                    p.values[name] = vals
                else:
                    val = need_value(name, inline)
                    value: str | int = val
                    if arg.type_name in ("integer", "long") and isinstance(arg, params.PagingArgument):
                        try:
                            value = int(val)
                        except ValueError:
                            raise UsageError(f"argument {name}: invalid int value: '{val}'") from None
                    p.values[name] = value
            else:
                p.unknown.append(tok)
        elif op is None and not tok.startswith("-"):
            if tok == "help":
                p.help = True
                i += 1
                continue
            op = model.operation(tok)
            if op is None:
                raise invalid_choice("operation", tok, model.operations_by_cli_name())
            p.op_name = tok
            table = params.argument_table(op)
            for arg in table.values():
                if arg.is_bool:
                    bools[arg.cli_name] = (arg, True)
                    bools["--no-" + arg.cli_name[2:]] = (arg, False)
        elif op is not None and tok == "help":
            p.help = True
        else:
            p.unknown.append(tok)
        i += 1
    return p, op, table


def invalid_choice(argument: str, value: str, choices: Any) -> UsageError:
    """v2's invalid-choice message, with its "Maybe you meant" close matches (difflib, cutoff 0.8)."""
    from difflib import get_close_matches

    lines = [f"argument {argument}: Found invalid choice '{value}'\n"]
    possible = get_close_matches(value, list(choices), cutoff=0.8)
    if possible:
        lines.append("Maybe you meant:\n")
        lines.extend(f"  * {word}" for word in possible)
    return UsageError("\n".join(lines))


# -- error reporting ------------------------------------------------------------------

def usage_error(stderr: TextIO, message: str) -> None:
    """An argument-parsing error as v2 reports it: a ParamValidation error followed by the usage."""
    _err(stderr, f"{message}\n\n{USAGE}", "ParamValidation")


STRUCTURED_ERROR_FORMATS = ("json", "yaml", "text", "table")
_error_format = "enhanced"  # --cli-error-format of the command being run


def _set_error_format(argv: list[str]) -> None:
    """Read --cli-error-format before parsing, so argument errors are reported in it too (v2)."""
    global _error_format
    _error_format = "enhanced"
    for i, token in enumerate(argv):
        name, eq, value = token.partition("=")
        if name == "--cli-error-format":
            value = value if eq else (argv[i + 1] if i + 1 < len(argv) else "")
            if value in CHOICES[name]:
                _error_format = value


def _err(stderr: TextIO, message: str, code: str | None = None, legacy: bool = False,
         details: dict[str, Any] | None = None) -> None:
    if code and _error_format in STRUCTURED_ERROR_FORMATS:
        from .output import render

        render({"Code": code, "Message": message, **(details or {})}, output=_error_format, query=None,
               color="off", stream=stderr, operation_model="error")
    elif code and not legacy and _error_format != "legacy":
        stderr.write(f"\n{PROG}: [ERROR]: An error occurred ({code}): {message.strip()}\n")
    else:
        stderr.write(f"\n{PROG}: [ERROR]: {message.strip()}\n")


def _client_error(stderr: TextIO, exc, redact) -> None:
    resp = getattr(exc, "response", {}) or {}
    error = dict(resp.get("Error", {}))
    code = error.pop("Code", "Unknown")
    message = error.pop("Message", "Unknown")
    op_name = getattr(exc, "operation_name", "")
    extra = {k: v for k, v in error.items() if k not in ("Type",)}
    for k, v in resp.items():
        if k not in ("Error", "ResponseMetadata", "message", "Message"):
            extra[k] = v
    if _error_format in STRUCTURED_ERROR_FORMATS:
        import io

        buffer = io.StringIO()
        _err(buffer, message, code, details=extra)
        stderr.write(redact(buffer.getvalue()))
        return
    stderr.write(redact(
        f"\n{PROG}: [ERROR]: An error occurred ({code}) when calling the {op_name} operation: {message}\n"
    ))
    if extra and _error_format != "legacy":
        stderr.write("\nAdditional error details:\n")
        for k, v in extra.items():
            if isinstance(v, (dict, list)):
                v = "<complex value>, --cli-error-format json recommended for full details"
            stderr.write(redact(f"{k}: {v}\n"))


# -- debug logging ----------------------------------------------------------------------

class _Redactor:
    """Removes sensitive members' values from text: by member name and by known value."""

    MASK = "****"

    def __init__(self):
        import re

        from .model import sensitive_member_names

        names = sorted(sensitive_member_names() | {"accessToken"})
        alt = "|".join(re.escape(n) for n in names)
        # "name": "value" / 'name': 'value' (JSON, Python reprs, raw bodies)
        self._quoted = re.compile(
            rf"""(\\?["'](?:{alt})\\?["']\s*:\s*)(\\?["'])(.*?)(\2)""", re.S
        )
        # name=value (shorthand on the command line)
        self._shorthand = re.compile(rf"""((?<![\w])(?:{alt})\s*@?\s*=\s*)([^,}}\]\s'"]+|'[^']*'|"[^"]*")""")
        self.values: set[str] = set()

    def add_values(self, data: Any) -> None:
        from .model import sensitive_member_names

        names = sensitive_member_names() | {"accessToken"}

        def walk(o):
            if isinstance(o, dict):
                for k, v in o.items():
                    if isinstance(v, bytes):
                        v = v.decode("utf-8", "replace")
                    if k in names and isinstance(v, (str, int)) and str(v):
                        self.values.add(str(v))
                    else:
                        walk(v)
            elif isinstance(o, list):
                for v in o:
                    walk(v)

        walk(data)

    def __call__(self, text: str) -> str:
        text = self._quoted.sub(lambda m: m.group(1) + m.group(2) + self.MASK + m.group(4), text)
        text = self._shorthand.sub(lambda m: m.group(1) + self.MASK, text)
        for v in sorted(self.values, key=len, reverse=True):
            if len(v) >= 4:
                text = text.replace(v, self.MASK)
        return text


def _setup_debug(stderr: TextIO, redactor: _Redactor):
    import logging

    class RedactFilter(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            try:
                msg = record.getMessage()
            except Exception:  # pragma: no cover
                return True
            record.msg = redactor(msg)
            record.args = None
            return True

    handler = logging.StreamHandler(stderr)
    handler.setFormatter(logging.Formatter(
        "%(asctime)s - %(threadName)s - %(name)s - %(levelname)s - %(message)s"))
    handler.addFilter(RedactFilter())
    saved = []
    for name in ("botocore", "urllib3", "wabalink.cli"):
        lg = logging.getLogger(name)
        saved.append((lg, lg.level, lg.propagate))
        lg.setLevel(logging.DEBUG)
        lg.addHandler(handler)
        lg.propagate = False

    def undo() -> None:
        for lg, level, propagate in saved:
            lg.removeHandler(handler)
            lg.setLevel(level)
            lg.propagate = propagate

    return undo


# -- the command --------------------------------------------------------------------------

def main(argv: list[str]) -> int:
    stdout, stderr = sys.stdout, sys.stderr
    try:
        return _run(list(argv), stdout, stderr)
    except KeyboardInterrupt:
        stdout.write("\n")
        return RC_INTERRUPT
    except BrokenPipeError:  # pragma: no cover
        return RC_OK


def _run(argv: list[str], stdout: TextIO, stderr: TextIO) -> int:
    _set_error_format(argv)
    try:
        parsed, op, table = parse_argv(argv)
    except UsageError as e:
        usage_error(stderr, str(e))
        return RC_USAGE
    return _dispatch(parsed, op, table, argv, stdout, stderr)


def _dispatch(parsed: Parsed, op, table, argv, stdout, stderr) -> int:
    from . import params as P
    from . import skeleton

    if parsed.version:
        stdout.write(_version_string() + "\n")
        return RC_OK
    if op is None:
        if parsed.help:
            from .helppage import service_page

            return _page(service_page(), parsed, stdout)
        usage_error(stderr, "the following arguments are required: operation")
        return RC_USAGE
    if parsed.help:
        from .helppage import operation_page

        return _page(operation_page(op, table), parsed, stdout)
    if parsed.unknown:
        # v2's argument parser reports missing required arguments before unknown options.
        exempt = parsed.skeleton in ("input", "yaml-input") or "cli_input_json" in parsed.g \
            or "cli_input_yaml" in parsed.g
        missing = [] if exempt else _missing_required(table, parsed)
        if missing:
            usage_error(stderr, "the following arguments are required: " + ", ".join(missing))
            return RC_USAGE
        stderr.write(f"\n{USAGE}\n\n{PROG}: [ERROR]: Unknown options: {', '.join(parsed.unknown)}\n")
        return RC_USAGE

    if parsed.skeleton == "input":
        stdout.write(skeleton.dumps_json(skeleton.input_skeleton(op.input_shape)))
        return RC_OK
    if parsed.skeleton == "yaml-input":
        stdout.write(skeleton.yaml_input_skeleton(op.input_shape))
        return RC_OK

    redactor = _Redactor()
    g = parsed.g
    undo = None
    if g.get("debug"):
        undo = _setup_debug(stderr, redactor)
        import logging

        log = logging.getLogger("wabalink.cli")
        redactor.add_values(_given_values(parsed, table))
        log.debug("CLI version: %s", _version_string())
        log.debug("Arguments entered to CLI: %s", argv)

    try:
        return _call(parsed, op, table, stdout, stderr, redactor)
    except UsageError as e:
        usage_error(stderr, redactor(str(e)))
        return RC_USAGE
    except (P.ParamError, ParamValidation) as e:
        _err(stderr, redactor(str(e)), "ParamValidation")
        return RC_USAGE
    except ConfigError as e:
        _err(stderr, str(e), e.code)
        return RC_CONFIG
    except KeyboardInterrupt:
        raise
    except Exception as e:  # botocore errors are sorted out here to keep imports lazy
        return _botocore_error(e, stderr, redactor)
    finally:
        if undo is not None:
            undo()


def _given_values(parsed: Parsed, table: dict) -> dict[str, Any]:
    """Best-effort parse of every given value, so --debug can redact secrets in argv.

    The argument list is logged before the real parse; a value may be in a form the
    name-based patterns do not see (YAML input, `key = value`), so its parsed secrets
    are redacted by value.  Errors are left for the real parse to report.
    """
    from . import params as P

    values: dict[str, Any] = {}
    try:
        values.update(_load_cli_input(parsed.g) or {})
    except Exception:  # noqa: BLE001 - reported later by the real parse
        pass
    for cli_name, raw in parsed.values.items():
        arg = table.get(cli_name)
        if isinstance(arg, P.Argument):
            try:
                values[arg.member] = P.convert(arg, raw, "raw-in-base64-out")
            except Exception:  # noqa: BLE001
                pass
    return values


def _botocore_error(e: Exception, stderr: TextIO, redactor) -> int:
    from botocore import exceptions as bx

    if isinstance(e, bx.ClientError):
        _client_error(stderr, e, redactor)
        return RC_SERVICE
    if isinstance(e, (bx.ParamValidationError, bx.PaginationError)):
        _err(stderr, redactor(str(e)), "ParamValidation")
        return RC_USAGE
    if isinstance(e, bx.NoRegionError):
        _err(stderr, 'You must specify a region. You can also configure your region by running "aws configure".', "NoRegion")
        return RC_CONFIG
    if isinstance(e, bx.NoCredentialsError):
        _err(stderr, 'Unable to locate credentials. You can configure credentials by running "aws login".', "NoCredentials")
        return RC_CONFIG
    if isinstance(e, bx.ProfileNotFound):
        _err(stderr, str(e), "Configuration")
        return RC_CONFIG
    if isinstance(e, (bx.PartialCredentialsError, bx.InvalidConfigError, bx.UnknownCredentialError)):
        _err(stderr, str(e), "Configuration")
        return RC_CONFIG
    import logging

    logging.getLogger("wabalink.cli").debug("Exception caught in main()", exc_info=True)
    _err(stderr, redactor(str(e)))
    return RC_OTHER


def _page(text: str, parsed: Parsed, stdout: TextIO) -> int:
    if stdout.isatty() and not parsed.g.get("no_cli_pager"):
        from .pager import PagerError, open_output

        try:
            with open_output(False, None) as out:
                out.write(text)
        except PagerError as e:
            _err(sys.stderr, str(e), "Pager")
            return RC_CONFIG
    else:
        stdout.write(text)
    return RC_OK


def _load_cli_input(g: dict) -> dict | None:
    from . import params as P

    for key, flag in (("cli_input_json", "--cli-input-json"), ("cli_input_yaml", "--cli-input-yaml")):
        raw = g.get(key)
        if raw is None:
            continue
        text = P.resolve_paramfile(flag, raw)
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        if key == "cli_input_json":
            import json

            try:
                data = json.loads(text)
            except ValueError as e:
                raise ParamValidation(f"Invalid JSON received: {e}") from None
        else:
            import yaml

            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError as e:
                raise ParamValidation(f"Invalid YAML received: {e}") from None
        if not isinstance(data, dict):
            kind = "JSON" if key == "cli_input_json" else "YAML"
            raise ParamValidation(f"Invalid {kind} received. The value must be a mapping of parameters.")
        return data
    return None


def _auto_prompt_mode(parsed: Parsed, scoped: dict | None) -> str:
    g = parsed.g
    if g.get("no_cli_auto_prompt"):
        return "off"
    if g.get("cli_auto_prompt"):
        return "on"
    env = os.environ.get("AWS_CLI_AUTO_PROMPT")
    if env:
        return env.strip().lower()
    if scoped:
        return str(scoped.get("cli_auto_prompt", "off")).strip().lower()
    return "off"


def _missing_required(table, parsed: Parsed) -> list[str]:
    return [a.cli_name for a in table.values()
            if getattr(a, "required", False) and a.cli_name not in parsed.values]


def _call(parsed: Parsed, op, table, stdout, stderr, redactor) -> int:
    from . import params as P

    g = parsed.g
    from .fastimport import import_botocore_session, speed_up_loader

    bsession = import_botocore_session()
    from botocore import exceptions as bx

    session = bsession.Session(profile=g.get("profile"))
    speed_up_loader(session)
    session.user_agent_name = f"{PROG}-cli"
    session.user_agent_version = VERSION
    try:
        scoped = session.get_scoped_config()
    except bx.ProfileNotFound as e:
        raise ConfigError("Configuration", str(e)) from None

    # Interactive prompting (before required-argument checks, like the AWS CLI).
    cli_input = _load_cli_input(g)
    mode = _auto_prompt_mode(parsed, scoped)
    missing = [] if cli_input is not None else _missing_required(table, parsed)
    if mode == "on" or (mode == "on-partial" and missing):
        from . import prompt

        extra = prompt.prompt_for_arguments(op, table, parsed.values, only_required=(mode == "on-partial"))
        assert parsed.op_name is not None  # an operation was parsed, or there is no `op`
        parsed2, _, _ = parse_argv([parsed.op_name] + extra)
        if parsed2.unknown:
            raise UsageError(f"Unknown options: {', '.join(parsed2.unknown)}")
        parsed.values.update(parsed2.values)
        missing = [] if cli_input is not None else _missing_required(table, parsed)
    if missing:  # `--generate-cli-skeleton output` validates required arguments too (v2)
        raise UsageError("the following arguments are required: " + ", ".join(missing))

    binary_format = g.get("cli_binary_format") or scoped.get("cli_binary_format") or "base64"
    if binary_format not in CHOICES["--cli-binary-format"]:
        raise ConfigError("Configuration", f"Unknown cli_binary_format value: {binary_format}")

    # Build the call parameters: --cli-input-* first, command-line values override.
    call: dict[str, Any] = dict(cli_input or {})
    paging: dict[str, Any] = {}
    given_cli_names = set(parsed.values)
    for cli_name, raw in parsed.values.items():
        arg = table[cli_name]
        if isinstance(arg, P.PagingArgument):
            paging[arg.key] = raw
        else:
            call[arg.member] = P.convert(arg, raw, binary_format)
    shape = op.input_shape
    if cli_input and shape is not None:
        members = shape.members
        for k, v in cli_input.items():
            if k in members and k in call and call[k] is v:
                call[k] = P.apply_blob_format(v, members[k], binary_format, "--cli-input-json")
    redactor.add_values(call)

    paginate = op.paginator is not None and not g.get("no_paginate")
    if op.paginator is not None:
        from botocore import xform_name

        pag = op.paginator
        tokens = pag["input_token"] if isinstance(pag["input_token"], list) else [pag["input_token"]]
        manual = tokens + ([pag["limit_key"]] if "limit_key" in pag else [])
        if any("--" + xform_name(t, "-") in given_cli_names for t in manual):
            paginate = False
        elif cli_input and any(t in cli_input for t in manual):
            # Manual paging through --cli-input-json/yaml turns pagination off too.
            paginate = False
        if not paginate and paging:
            flags = {"StartingToken": "--starting-token", "PageSize": "--page-size", "MaxItems": "--max-items"}
            used = [flags[k] for k in ("StartingToken", "PageSize", "MaxItems") if k in paging]
            raise ParamValidation(
                "Cannot specify --no-paginate along with pagination arguments: " + ", ".join(used))
        if paging.get("MaxItems") is not None and int(paging["MaxItems"]) <= 0:
            stderr.write("warning: Non-positive values for --max-items may result in undefined behavior.\n")

    output = g.get("output") or os.environ.get("AWS_DEFAULT_OUTPUT") or scoped.get("output") or "json"
    if output not in CHOICES["--output"]:
        raise ConfigError("Configuration", f"Unknown output type: {output}")
    query = g.get("query")
    if query is not None:
        import jmespath
        from jmespath.exceptions import JMESPathError

        try:
            jmespath.compile(query)
        except JMESPathError as e:
            raise UsageError(f"argument --query: Bad value for --query: {query}\n{e}") from None
    color = g.get("color") or "auto"

    import logging

    log = logging.getLogger("wabalink.cli")
    log.debug("Calling socialmessaging:%s with parameters %r", op.name, call)

    if parsed.skeleton == "output":
        from botocore.validate import validate_parameters

        svc = session.get_service_model("socialmessaging")
        validate_parameters(call, svc.operation_model(op.name).input_shape)
        from . import skeleton

        # v2 renders its stub response unparsed: JSON encodes datetimes as ISO 8601, the other
        # formats print str(datetime) ("1970-01-01 00:00:00").
        data = _iso_datetimes(skeleton.output_skeleton(op.output_shape), iso=output == "json")
        return _render(data, output, query, color, g, scoped, stdout, svc.operation_model(op.name))

    _install_scalar_parsers(session, scoped)
    client = _make_client(session, g, scoped)
    op_model = client.meta.service_model.operation_model(op.name)
    if paginate:
        paginator = client.get_paginator(op.py_name)
        if paging:
            call["PaginationConfig"] = paging
        pages = paginator.paginate(**call)
        return _render(pages, output, query, color, g, scoped, stdout, op_model, stream=True)
    response = getattr(client, op.py_name)(**call)
    response.pop("ResponseMetadata", None)
    return _render(response, output, query, color, g, scoped, stdout, op_model)


def _iso_datetimes(data, iso: bool = True):
    import datetime as dt

    if isinstance(data, dict):
        return {k: _iso_datetimes(v, iso) for k, v in data.items()}
    if isinstance(data, list):
        return [_iso_datetimes(v, iso) for v in data]
    if isinstance(data, dt.datetime):
        from .output import UnparsedTimestamp

        return data.isoformat() if iso else UnparsedTimestamp(data)
    return data


def _install_scalar_parsers(session, scoped: dict) -> None:
    """Leave blobs base64 as on the wire; timestamps per cli_timestamp_format (v2: iso8601)."""
    fmt = scoped.get("cli_timestamp_format", "iso8601")

    def identity(x):
        return x

    if fmt in ("wire", "none"):
        ts = identity
    elif fmt == "iso8601":
        from botocore.utils import parse_timestamp

        def ts(value):
            return parse_timestamp(value).isoformat()
    else:
        raise ConfigError(
            "Configuration",
            f'Unknown cli_timestamp_format value: {fmt}, valid values are "wire" or "iso8601"')
    factory = session.get_component("response_parser_factory")
    factory.set_parser_defaults(timestamp_parser=ts, blob_parser=identity)


def _make_client(session, g: dict, scoped: dict):
    from botocore.config import Config

    kwargs: dict[str, Any] = {}
    if "cli_read_timeout" in g:
        kwargs["read_timeout"] = g["cli_read_timeout"] or None
    if "cli_connect_timeout" in g:
        kwargs["connect_timeout"] = g["cli_connect_timeout"] or None
    if g.get("no_sign_request"):
        from botocore import UNSIGNED

        kwargs["signature_version"] = UNSIGNED
    verify: Any = None
    if g.get("no_verify_ssl"):
        verify = False
    elif g.get("ca_bundle"):
        verify = g["ca_bundle"]
    return session.create_client(
        "socialmessaging",
        region_name=g.get("region"),
        endpoint_url=g.get("endpoint_url"),
        verify=verify,
        config=Config(**kwargs) if kwargs else None,
    )


def _render(data, output, query, color, g, scoped, stdout, op_model, stream: bool = False) -> int:
    from .output import render
    from .pager import PagerError, open_output

    pager_cfg = None if "AWS_PAGER" in os.environ else scoped.get("cli_pager")
    try:
        with open_output(bool(g.get("no_cli_pager")), pager_cfg) as out:
            render(data, output=output, query=query, color=color, stream=out,
                   operation_model=op_model, is_paginated_stream=stream)
    except PagerError as e:
        raise ConfigError("Pager", str(e)) from None
    return RC_OK
