"""`wabalink meta ...`: the Meta simulator's sandbox from the command line.

Each command is one HTTP call to a running `wabalink serve` (its `/meta/sandbox` API) and prints the
JSON answer. Only the standard library is imported, so the command starts fast.
Exit status: 0 on success, 1 when the server answers an error or cannot be reached, 2 on usage errors.
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

DEFAULT_ENDPOINT = "http://127.0.0.1:4599"
ENDPOINT_ENV = "WABALINK_ENDPOINT"
TIMEOUT_SECONDS = 30.0
QUALITY_RATINGS = ("GREEN", "YELLOW", "RED", "UNKNOWN")
THROUGHPUT_TIERS = ("STANDARD", "HIGH", "COEXISTENCE")
IMAGE_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}
TEMPLATE_DECISIONS = ("APPROVED", "REJECTED", "PAUSED", "DISABLED")
TEMPLATE_CATEGORIES = ("MARKETING", "UTILITY", "AUTHENTICATION")


class SandboxCallError(Exception):
    pass


def main(argv: list[str]) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse exits 2 on usage errors, 0 on --help
        return int(exit_.code or 0)
    if not getattr(args, "command", None):
        parser.print_usage(sys.stderr)
        print("wabalink meta: error: a command is required", file=sys.stderr)
        return 2
    try:
        method, path, body = args.build(args)
    except ValueError as error:  # an argument the command could not use (file, ID:TITLE, LAT,LON)
        print(f"wabalink meta {args.command}: {error}", file=sys.stderr)
        return 2
    try:
        answer = _call(args.endpoint, method, path, body)
    except SandboxCallError as error:
        print(f"wabalink meta {args.command}: {error}", file=sys.stderr)
        return 1
    print(json.dumps(answer, indent=2))
    return 0


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
    body = {"failNextCalls": args.fail_next, "failStatus": args.status, "latencyMs": args.latency_ms}
    _put_if_given(body, pathContains=args.path_contains)
    return "PUT", "/faults", body


def _show_faults(args: argparse.Namespace) -> Request:
    return "GET", "/faults", None


def _clear_faults(args: argparse.Namespace) -> Request:
    return "DELETE", "/faults", None


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

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wabalink meta",
        description="Drive the built-in Meta simulator of a running `wabalink serve`: create WABAs and "
                    "phone numbers, mint, expire and revoke embedded sign-up tokens, inject Graph API faults, "
                    "make users write to business numbers, set delivery, throughput and failure rules, "
                    "see conversations and pending webhooks, review message templates.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help_: str, build: Any) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_, description=help_)
        sub.add_argument("--endpoint", default=os.environ.get(ENDPOINT_ENV, DEFAULT_ENDPOINT),
                         help=f"wabalink server URL (default: ${ENDPOINT_ENV} or {DEFAULT_ENDPOINT})")
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

    sub = command("inject-fault", "Fail the next Graph API calls and/or add latency to every call.",
                  _inject_fault)
    sub.add_argument("--fail-next", type=int, default=0, metavar="N", help="fail the next N Graph calls")
    sub.add_argument("--status", type=int, default=500, help="HTTP status of the failures (default 500)")
    sub.add_argument("--path-contains", metavar="S", help="only fail calls whose path contains S")
    sub.add_argument("--latency-ms", type=int, default=0, metavar="MS", help="latency added to every Graph call")

    sub = command("show-media", "Show a media id: owner number, type, size, SHA-256, origin, expiry.", _show_media)
    sub.add_argument("--media-id", required=True, help="Meta's media id")
    sub = command("expire-media", "End a media id's life now (as after its 30 or 7 days).", _expire_media)
    sub.add_argument("--media-id", required=True, help="Meta's media id")

    command("show-faults", "Show the injected faults.", _show_faults)
    command("clear-faults", "Remove every injected fault.", _clear_faults)
    _add_messaging_commands(command)

    sub = command("review-template", "Decide a message template's review (sends Meta's status webhook) and/or "
                  "recategorize it (sends template_category_update).", _review_template)
    sub.add_argument("--template-id", required=True, help="Meta's template id (metaTemplateId)")
    sub.add_argument("--decision", choices=TEMPLATE_DECISIONS)
    sub.add_argument("--reason", help="the reason Meta gives (e.g. INVALID_FORMAT for a rejection)")
    sub.add_argument("--category", choices=TEMPLATE_CATEGORIES, help="recategorize the template")
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
        answer = _json_or_text(error.read())
        message = answer.get("error", {}).get("message") if isinstance(answer, dict) else None
        raise SandboxCallError(f"HTTP {error.code}: {message or answer}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise SandboxCallError(f"cannot reach {endpoint}: {reason}") from None


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
