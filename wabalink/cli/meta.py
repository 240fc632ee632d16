"""`wabalink meta ...`: the Meta simulator's sandbox from the command line.

Each command is one HTTP call to a running `wabalink serve` (its `/meta/sandbox` API) and prints the
answer as JSON (or `--output text|table|yaml`, filtered by `--query`, as `wabalink socialmessaging`
does). The server is found the way `wabalink socialmessaging` finds it, so one setting serves both.
Exit status (AWS CLI v2's codes): 0 on success, 252 on usage errors, 254 when the server answers an
error, 255 when it cannot be reached.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

DEFAULT_ENDPOINT = "http://127.0.0.1:4599"
# Searched in this order when --endpoint is not given; the AWS variables are the ones
# `wabalink socialmessaging` (botocore) reads, so one setting points both commands at one server.
ENDPOINT_ENVS = ("WABALINK_ENDPOINT", "AWS_ENDPOINT_URL_SOCIALMESSAGING", "AWS_ENDPOINT_URL")
TIMEOUT_SECONDS = 30.0
QUALITY_RATINGS = ("GREEN", "YELLOW", "RED", "UNKNOWN")
OUTPUTS = ("json", "text", "table", "yaml")
RC_OK, RC_USAGE, RC_SERVER_ERROR, RC_UNREACHABLE = 0, 252, 254, 255
FAULT_OPTIONS = "--fail-next N, --duration-seconds S or --latency-ms MS"


class SandboxCallError(Exception):
    """The server answered an error: its message, on one line."""


class SandboxUnreachable(Exception):
    """Nothing answered at the endpoint."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors with AWS CLI v2's exit code (252) instead of 2."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(RC_USAGE, f"{self.prog}: error: {message}\n")


def main(argv: list[str]) -> int:
    parser = _parser()
    if argv[:1] == ["help"]:  # like `wabalink socialmessaging help`
        argv = ["--help", *argv[1:]] if len(argv) == 1 else [*argv[1:], "--help"]
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # usage errors exit 252, --help 0
        return int(exit_.code or 0)
    if not getattr(args, "command", None):
        parser.print_usage(sys.stderr)
        print("wabalink meta: error: a command is required (see `wabalink meta help`)", file=sys.stderr)
        return RC_USAGE
    prefix = f"wabalink meta {args.command}"
    try:
        query = _compile_query(args.query)
        method, path, body = args.build(args)
    except ValueError as error:
        print(f"{prefix}: error: {error}", file=sys.stderr)
        return RC_USAGE
    endpoint = args.endpoint or default_endpoint()
    try:
        answer = _call(endpoint, method, path, body)
    except SandboxCallError as error:
        print(f"{prefix}: {error}", file=sys.stderr)
        return RC_SERVER_ERROR
    except SandboxUnreachable as error:
        print(f"{prefix}: {error}", file=sys.stderr)
        return RC_UNREACHABLE
    return _print(answer, args.command, args.output, query)


def default_endpoint() -> str:
    return next((os.environ[name] for name in ENDPOINT_ENVS if os.environ.get(name)), DEFAULT_ENDPOINT)


def _compile_query(query: str | None) -> Any:
    if query is None:
        return None
    import jmespath
    from jmespath.exceptions import JMESPathError

    try:
        return jmespath.compile(query)
    except JMESPathError as error:
        raise ValueError(f"bad value for --query: {query}: {error}") from None


def _print(answer: Any, command: str, output: str, query: Any) -> int:
    from wabalink.cli.aws.output import render

    title = "".join(word.capitalize() for word in command.split("-"))
    render(answer, output=output, query=query, color="off", stream=sys.stdout, operation_model=title)
    return RC_OK


# --- commands: each builds (method, sandbox path, JSON body) ------------------------------------

Request = tuple[str, str, dict[str, Any] | None]


def _create_waba(args: argparse.Namespace) -> Request:
    body: dict[str, Any] = {"name": args.name, "phoneNumbers": args.phone_numbers}
    _put_if_given(body, currency=args.currency, timezoneId=args.timezone_id, businessName=args.business_name)
    return "POST", "/wabas", body


def _add_phone_number(args: argparse.Namespace) -> Request:
    body: dict[str, Any] = {"count": args.count}
    _put_if_given(body, displayPhoneNumber=args.display_phone_number, verifiedName=args.verified_name)
    return "POST", f"/wabas/{_quote(args.waba_id)}/phone-numbers", body


def _show_waba(args: argparse.Namespace) -> Request:
    return "GET", f"/wabas/{_quote(args.waba_id)}", None


def _mint_token(args: argparse.Namespace) -> Request:
    body: dict[str, Any] = {"wabaIds": args.waba_id}
    _put_if_given(body, scopes=args.scopes, expiresInSeconds=args.expires_in)
    return "POST", "/tokens", body


def _expire_token(args: argparse.Namespace) -> Request:
    return "POST", "/tokens/expire", {"accessToken": args.access_token}


def _revoke_token(args: argparse.Namespace) -> Request:
    return "POST", "/tokens/revoke", {"accessToken": args.access_token}


def _set_quality_rating(args: argparse.Namespace) -> Request:
    return "PUT", f"/phone-numbers/{_quote(args.phone_number_id)}/quality-rating", {"qualityRating": args.rating}


def _inject_fault(args: argparse.Namespace) -> Request:
    if args.fail_next is None and args.duration_seconds is None and args.latency_ms is None:
        raise ValueError(f"no fault given: use {FAULT_OPTIONS} (and clear-faults to remove faults)")
    body: dict[str, Any] = {}
    _put_if_given(body, failNextCalls=args.fail_next, durationSeconds=args.duration_seconds,
                  failStatus=args.status, pathContains=args.path_contains, latencyMs=args.latency_ms)
    return "PUT", "/faults", body


def _show_faults(args: argparse.Namespace) -> Request:
    return "GET", "/faults", None


def _clear_faults(args: argparse.Namespace) -> Request:
    return "DELETE", "/faults", None


# --- argument parsing ---------------------------------------------------------------------------

INJECT_FAULT_EPILOG = f"""\
At least one of {FAULT_OPTIONS} is required.

Faults and retries: each failed Graph call fails the socialmessaging call that made it with a
DependencyException (HTTP 502), and AWS SDKs and the AWS CLI retry 5xx answers: boto3 in its
legacy mode makes up to 3 attempts in all, standard mode and the AWS CLI up to their configured
attempts (AWS_MAX_ATTEMPTS). So `--fail-next 1` is usually absorbed by a retry and the call
succeeds, and failures a call does not use up stay queued for later calls. To make one whole call
fail, use `--duration-seconds S` (every matching Graph call fails while it lasts) or a
`--fail-next` larger than the attempts (e.g. 5) followed by `clear-faults`; `show-faults` shows
what is left.
"""

def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="wabalink meta",
        description="Drive the built-in Meta simulator of a running `wabalink serve`: create WABAs and "
                    "phone numbers, mint, expire and revoke embedded sign-up tokens, inject Graph API faults.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(name: str, help_: str, build: Any, epilog: str | None = None) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_, description=help_, epilog=epilog,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.add_argument("--endpoint", "--endpoint-url", dest="endpoint", metavar="URL",
                         help=f"wabalink server URL (default: ${', $'.join(ENDPOINT_ENVS)}, else {DEFAULT_ENDPOINT})")
        sub.add_argument("--output", choices=OUTPUTS, default="json", help="output format (default json)")
        sub.add_argument("--query", metavar="JMESPATH", help="JMESPath query applied to the answer")
        sub.set_defaults(build=build)
        return sub

    sub = command("create-waba", "Create a WABA with phone numbers and a fresh embedded sign-up token.", _create_waba)
    sub.add_argument("--name", required=True, help="the WABA's name (also the numbers' verified name)")
    sub.add_argument("--phone-numbers", type=int, default=1, metavar="N", help="how many numbers (default 1)")
    sub.add_argument("--currency", help="ISO 4217 code (default USD)")
    sub.add_argument("--timezone-id", help="Meta timezone id (default 1)")
    sub.add_argument("--business-name", help="the owning business's name (default: the WABA's name)")

    sub = command("add-phone-number", "Add phone numbers to a WABA.", _add_phone_number)
    sub.add_argument("--waba-id", required=True, help="Meta's WABA id")
    sub.add_argument("--count", type=int, default=1, help="how many numbers (default 1)")
    sub.add_argument("--display-phone-number", help='e.g. "+1 555-010-1234" (only with --count 1)')
    sub.add_argument("--verified-name", help="the number's verified name (default: the WABA's name)")

    sub = command("show-waba", "Show a WABA: its numbers, registration state and webhook subscriptions.",
                  _show_waba)
    sub.add_argument("--waba-id", required=True, help="Meta's WABA id")

    sub = command("mint-token", "Mint an embedded sign-up access token granted some WABAs.", _mint_token)
    sub.add_argument("--waba-id", required=True, action="append", help="Meta's WABA id (repeatable)")
    sub.add_argument("--expires-in", type=int, metavar="SECONDS", help="lifetime (default: one hour)")
    sub.add_argument("--scopes", nargs="+", metavar="SCOPE",
                     help="permissions (default: whatsapp_business_management whatsapp_business_messaging "
                          "business_management)")

    sub = command("expire-token", "Make an access token expired.", _expire_token)
    sub.add_argument("--access-token", required=True)

    sub = command("revoke-token", "Revoke an access token.", _revoke_token)
    sub.add_argument("--access-token", required=True)

    sub = command("set-quality-rating", "Change a phone number's quality rating.", _set_quality_rating)
    sub.add_argument("--phone-number-id", required=True, help="Meta's phone number id")
    sub.add_argument("--rating", required=True, choices=QUALITY_RATINGS)

    sub = command("inject-fault", "Fail Graph API calls and/or add latency to every call (replaces the "
                  "current faults).", _inject_fault, epilog=INJECT_FAULT_EPILOG)
    sub.add_argument("--fail-next", type=int, metavar="N", help="fail the next N Graph calls")
    sub.add_argument("--duration-seconds", type=int, metavar="S",
                     help="fail every Graph call for S seconds (a whole SDK call, retries included)")
    sub.add_argument("--status", type=int, help="HTTP status of the failures (default 500)")
    sub.add_argument("--path-contains", metavar="S", help="only fail calls whose path contains S")
    sub.add_argument("--latency-ms", type=int, metavar="MS", help="latency added to every Graph call")

    command("show-faults", "Show the injected faults.", _show_faults)
    command("clear-faults", "Remove every injected fault.", _clear_faults)
    return parser


# --- HTTP -----------------------------------------------------------------------------------------

def _call(endpoint: str, method: str, path: str, body: dict[str, Any] | None) -> Any:
    url = endpoint.rstrip("/") + "/meta/sandbox" + path
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return _json_or_text(response.read())
    except urllib.error.HTTPError as error:
        raise SandboxCallError(f"{_error_message(_json_or_text(error.read()))} (HTTP {error.code})") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise SandboxUnreachable(f"Could not connect to {endpoint}: is `wabalink serve` running there? "
                                 f"({reason})") from None


def _error_message(answer: Any) -> str:
    """The message of a sandbox or Graph error body ({"error": {"message"}}), else its text, on one line."""
    if isinstance(answer, dict):
        error = answer.get("error")
        message = error.get("message") if isinstance(error, dict) else error or answer.get("message")
        answer = message if isinstance(message, str) and message else json.dumps(answer)
    return " ".join(str(answer).split()) or "no message"


def _json_or_text(data: bytes) -> Any:
    try:
        return json.loads(data) if data.strip() else {}
    except ValueError:
        return data.decode("utf-8", "replace")[:500]


def _put_if_given(body: dict[str, Any], **values: Any) -> None:
    body.update({k: v for k, v in values.items() if v is not None})


def _quote(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
