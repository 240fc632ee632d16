"""`wabalink meta ...`: the Meta simulator's sandbox from the command line.

Over 400 lines because it declares every sandbox command (30) with its options; each command is a few lines, and the flows commands already live in cli/meta_flows.py.

Each command is one HTTP call to a running `wabalink serve` (its `/meta/sandbox` API) and prints the
answer as JSON (or `--output text|table|yaml`, filtered by `--query`, as `wabalink socialmessaging`
does). The server is found the way `wabalink socialmessaging` finds it, so one setting serves both.
Exit status (AWS CLI v2's codes): 0 on success, 252 on usage errors, 254 when the server answers an
error, 255 when it cannot be reached.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from wabalink.cli import meta_flows

DEFAULT_ENDPOINT = "http://127.0.0.1:4599"
# Searched in this order when --endpoint is not given; the AWS variables are the ones
# `wabalink socialmessaging` (botocore) reads, so one setting points both commands at one server.
ENDPOINT_ENVS = ("WABALINK_ENDPOINT", "AWS_ENDPOINT_URL_SOCIALMESSAGING", "AWS_ENDPOINT_URL")
TIMEOUT_SECONDS = 30.0
QUALITY_RATINGS = ("GREEN", "YELLOW", "RED", "UNKNOWN")
THROUGHPUT_TIERS = ("STANDARD", "HIGH", "COEXISTENCE")
IMAGE_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}
TEMPLATE_DECISIONS = ("APPROVED", "REJECTED", "PAUSED", "DISABLED")
TEMPLATE_CATEGORIES = ("MARKETING", "UTILITY", "AUTHENTICATION")
OUTPUTS = ("json", "text", "table", "yaml")
RC_OK, RC_USAGE, RC_SERVER_ERROR, RC_UNREACHABLE = 0, 252, 254, 255
FAULT_OPTIONS = "--fail-next N, --duration-seconds S or --latency-ms MS"


class SandboxCallError(Exception):
    """The server answered an error: its message, on one line."""


class SandboxUnreachable(Exception):
    """Nothing answered at the endpoint."""


class UsageParser(argparse.ArgumentParser):
    """argparse that reports usage errors with AWS CLI v2's exit code (252) instead of 2."""

    def error(self, message: str) -> Any:
        self.print_usage(sys.stderr)
        self.exit(RC_USAGE, f"{self.prog}: error: {message}\n")


def parse_command(parser: argparse.ArgumentParser, argv: list[str], program: str) -> argparse.Namespace | int:
    """The parsed arguments of a `wabalink <program> COMMAND ...` line, or the exit code to end with:
    `help` anywhere first shows the help (as `wabalink socialmessaging help`), usage errors 252."""
    if argv[:1] == ["help"]:
        argv = ["--help", *argv[1:]] if len(argv) == 1 else [*argv[1:], "--help"]
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # usage errors exit 252, --help 0
        return int(exit_.code or 0)
    if not getattr(args, "command", None):
        parser.print_usage(sys.stderr)
        print(f"wabalink {program}: error: a command is required (see `wabalink {program} help`)", file=sys.stderr)
        return RC_USAGE
    return args


def main(argv: list[str]) -> int:
    args = parse_command(_parser(), argv, "meta")
    if isinstance(args, int):
        return args
    prefix = f"wabalink meta {args.command}"
    try:
        query = _compile_query(args.query)
        method, path, body = args.build(args)
    except ValueError as error:
        print(f"{prefix}: error: {error}", file=sys.stderr)
        return RC_USAGE
    endpoint = args.endpoint or default_endpoint()
    try:
        answer = _call(endpoint, method, path, body, args.sandbox_token)
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


def _show_media(args: argparse.Namespace) -> Request:
    return "GET", f"/media/{_quote(args.media_id)}", None


def _expire_media(args: argparse.Namespace) -> Request:
    return "POST", f"/media/{_quote(args.media_id)}/expire", None


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


def _reset(args: argparse.Namespace) -> Request:
    return "POST", "/reset", None


# --- messaging ------------------------------------------------------------------------------------

def _phone_path(args: argparse.Namespace, what: str) -> str:
    return f"/phone-numbers/{_quote(args.phone_number_id)}/{what}"


def _send_inbound(args: argparse.Namespace) -> Request:
    body: dict[str, Any] = {"from": args.sender}
    _put_if_given(body, name=args.name, context=args.context)
    if args.text is not None:
        body["text"] = args.text
    elif args.image is not None:
        suffix = os.path.splitext(args.image)[1].lower()
        if suffix not in IMAGE_TYPES:
            raise ValueError("--image must be a .jpg, .jpeg or .png file")
        try:
            with open(args.image, "rb") as image:
                data = image.read()
        except OSError as error:
            raise ValueError(f"cannot read {args.image}: {error.strerror}") from None
        body["image"] = {"data": base64.b64encode(data).decode(), "mimeType": IMAGE_TYPES[suffix]}
        _put_if_given(body["image"], caption=args.caption)
    elif args.button_reply is not None:
        body["buttonReply"] = _id_title(args.button_reply, "--button-reply")
    elif args.list_reply is not None:
        body["listReply"] = _id_title(args.list_reply, "--list-reply")
    elif args.reaction is not None:
        body["reaction"] = {"emoji": args.reaction}
    else:
        latitude, _, longitude = args.location.partition(",")
        try:
            body["location"] = {"latitude": float(latitude), "longitude": float(longitude)}
        except ValueError:
            raise ValueError("--location must be LAT,LON (e.g. 38.72,-9.14)") from None
    return "POST", _phone_path(args, "inbound"), body


def _id_title(text: str, option: str) -> dict[str, str]:
    reply_id, separator, title = text.partition(":")
    if not separator or not reply_id or not title:
        raise ValueError(f"{option} must be ID:TITLE")
    return {"id": reply_id, "title": title}


def _set_throughput(args: argparse.Namespace) -> Request:
    body = {"tier": args.tier} if args.tier else {"messagesPerSecond": args.messages_per_second}
    return "PUT", _phone_path(args, "throughput"), body


def _set_delivery(args: argparse.Namespace) -> Request:
    body: dict[str, Any] = {}
    _put_if_given(body, sentDelayMs=args.sent_delay_ms, deliveredDelayMs=args.delivered_delay_ms,
                  readDelayMs=args.read_delay_ms, pairLimit=args.pair_limit,
                  pairWindowSeconds=args.pair_window_seconds, undeliverableSuffix=args.undeliverable_suffix)
    if args.stop_at is not None:
        body["stopAt"] = args.stop_at
    return "PUT", _phone_path(args, "delivery"), body


def _add_failure_rule(args: argparse.Namespace) -> Request:
    body: dict[str, Any] = {"errorCode": args.error_code}
    _put_if_given(body, recipientSuffix=args.recipient_suffix, recipientPattern=args.recipient_pattern,
                  errorTitle=args.error_title)
    return "POST", _phone_path(args, "failure-rules"), body


def _clear_failure_rules(args: argparse.Namespace) -> Request:
    return "DELETE", _phone_path(args, "failure-rules"), None


def _conversations(args: argparse.Namespace) -> Request:
    return "GET", _phone_path(args, "conversations"), None


def _webhooks(args: argparse.Namespace) -> Request:
    if args.flush:
        return "POST", "/webhooks/flush", None
    if args.purge:
        return "DELETE", "/webhooks", None
    return "GET", "/webhooks", None


def _add_messaging_commands(command: Any) -> None:
    sub = command("send-inbound", "Make a WhatsApp user write to a business number (opens the user's 24-hour "
                  "window; the webhook goes to the app); prints the message's wamid.", _send_inbound)
    sub.add_argument("--phone-number-id", required=True, help="Meta's id of the business number")
    sub.add_argument("--from", dest="sender", required=True, metavar="+E164", help="the user's phone number")
    sub.add_argument("--name", help="the user's profile name")
    kind = sub.add_mutually_exclusive_group(required=True)
    kind.add_argument("--text")
    kind.add_argument("--image", metavar="FILE", help="a .jpg or .png file")
    kind.add_argument("--button-reply", metavar="ID:TITLE", help="a reply button pressed (needs --context)")
    kind.add_argument("--list-reply", metavar="ID:TITLE", help="a list row chosen (needs --context)")
    kind.add_argument("--reaction", metavar="EMOJI", help="a reaction to a message (needs --context)")
    kind.add_argument("--location", metavar="LAT,LON")
    sub.add_argument("--context", metavar="WAMID", help="the business's message this answers")
    sub.add_argument("--caption", help="with --image")

    sub = command("set-throughput", "Set a number's throughput tier (sends above it fail with 130429).",
                  _set_throughput)
    sub.add_argument("--phone-number-id", required=True, help="Meta's phone number id")
    tier = sub.add_mutually_exclusive_group(required=True)
    tier.add_argument("--tier", choices=THROUGHPUT_TIERS, help="STANDARD 80/s, HIGH 1000/s, COEXISTENCE 20/s")
    tier.add_argument("--messages-per-second", type=int, metavar="N")

    sub = command("set-delivery", "Set a number's delivery schedule (sent, delivered, read) and pair rate.",
                  _set_delivery)
    sub.add_argument("--phone-number-id", required=True, help="Meta's phone number id")
    sub.add_argument("--sent-delay-ms", type=int, metavar="MS", help="from acceptance to sent")
    sub.add_argument("--delivered-delay-ms", type=int, metavar="MS", help="from sent to delivered")
    sub.add_argument("--read-delay-ms", type=int, metavar="MS", help="from delivered to read")
    sub.add_argument("--stop-at", choices=["sent", "delivered", "read"],
                     help="the last status recipients reach (delivered: they never read)")
    sub.add_argument("--pair-limit", type=int, metavar="N", help="messages to one user per window (131056 above)")
    sub.add_argument("--pair-window-seconds", type=int, metavar="S")
    sub.add_argument("--undeliverable-suffix", metavar="DIGITS",
                     help='recipients ending so fail with 131026 (default 0000; "" switches it off)')

    sub = command("add-failure-rule", "Make recipients matching a suffix or pattern fail with an error code.",
                  _add_failure_rule)
    sub.add_argument("--phone-number-id", required=True, help="Meta's phone number id")
    sub.add_argument("--recipient-suffix", metavar="DIGITS")
    sub.add_argument("--recipient-pattern", metavar="REGEX", help="matched against the recipient's digits")
    sub.add_argument("--error-code", type=int, required=True, help="e.g. 131026, 131049, 131050")
    sub.add_argument("--error-title", help="default: Meta's title of the code")

    sub = command("clear-failure-rules", "Remove a number's failure rules.", _clear_failure_rules)
    sub.add_argument("--phone-number-id", required=True, help="Meta's phone number id")

    sub = command("conversations", "Show a number's conversations: users, last messages and their statuses, "
                  "24-hour windows.", _conversations)
    sub.add_argument("--phone-number-id", required=True, help="Meta's phone number id")

    sub = command("webhooks", "Show the simulator's pending webhooks (or retry them now, or drop them).", _webhooks)
    action = sub.add_mutually_exclusive_group()
    action.add_argument("--flush", action="store_true", help="retry every pending webhook now")
    action.add_argument("--purge", action="store_true", help="drop every pending webhook")


def _review_template(args: argparse.Namespace) -> Request:
    body: dict[str, Any] = {}
    _put_if_given(body, decision=args.decision, reason=args.reason, category=args.category)
    return "POST", f"/templates/{_quote(args.template_id)}/review", body


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
    parser = UsageParser(
        prog="wabalink meta",
        description="Drive the built-in Meta simulator of a running `wabalink serve`: create WABAs and "
                    "phone numbers, mint, expire and revoke embedded sign-up tokens, inject Graph API faults, "
                    "make users write to business numbers, set delivery, throughput and failure rules, "
                    "see conversations and pending webhooks, review message templates.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=UsageParser)

    def command(name: str, help_: str, build: Any, epilog: str | None = None) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_, description=help_, epilog=epilog,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.add_argument("--endpoint", "--endpoint-url", dest="endpoint", metavar="URL",
                         help=f"wabalink server URL (default: ${', $'.join(ENDPOINT_ENVS)}, else {DEFAULT_ENDPOINT})")
        sub.add_argument("--output", choices=OUTPUTS, default="json", help="output format (default json)")
        sub.add_argument("--query", metavar="JMESPATH", help="JMESPath query applied to the answer")
        sub.add_argument("--sandbox-token", default=os.environ.get("WABALINK_SANDBOX_TOKEN"), metavar="TOKEN",
                         help="the operator token of a server started with --sandbox-token "
                              "(default: $WABALINK_SANDBOX_TOKEN)")
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

    sub = command("show-media", "Show a media id: owner number, type, size, SHA-256, origin, expiry.", _show_media)
    sub.add_argument("--media-id", required=True, help="Meta's media id")
    sub = command("expire-media", "End a media id's life now (as after its 30 or 7 days).", _expire_media)
    sub.add_argument("--media-id", required=True, help="Meta's media id")

    command("show-faults", "Show the injected faults.", _show_faults)
    command("clear-faults", "Remove every injected fault.", _clear_faults)
    command("reset", "Empty the store of every account, both sides: linked WABAs, messages, events, media, "
                     "templates, the simulator's WABAs, tokens and faults (the server's generated secrets stay).",
            _reset)
    _add_messaging_commands(command)

    sub = command("review-template", "Decide a message template's review (sends Meta's status webhook) and/or "
                  "recategorize it (sends template_category_update).", _review_template)
    sub.add_argument("--template-id", required=True, help="Meta's template id (metaTemplateId)")
    sub.add_argument("--decision", choices=TEMPLATE_DECISIONS)
    sub.add_argument("--reason", help="the reason Meta gives (e.g. INVALID_FORMAT for a rejection)")
    sub.add_argument("--category", choices=TEMPLATE_CATEGORIES, help="recategorize the template")
    meta_flows.add_commands(command)
    return parser


# --- HTTP -----------------------------------------------------------------------------------------

def _call(endpoint: str, method: str, path: str, body: dict[str, Any] | None,
          sandbox_token: str | None = None) -> Any:
    url = endpoint.rstrip("/") + "/meta/sandbox" + path
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if sandbox_token:  # servers started with --sandbox-token (and every --auth strict one) require it
        headers["Authorization"] = f"Bearer {sandbox_token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
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
