"""`wabalink meta ...`: the Meta simulator's sandbox from the command line.

Each command is one HTTP call to a running `wabalink serve` (its `/meta/sandbox` API) and prints the
JSON answer. Only the standard library is imported, so the command starts fast.
Exit status: 0 on success, 1 when the server answers an error or cannot be reached, 2 on usage errors.
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
ENDPOINT_ENV = "WABALINK_ENDPOINT"
TIMEOUT_SECONDS = 30.0
QUALITY_RATINGS = ("GREEN", "YELLOW", "RED", "UNKNOWN")


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
    method, path, body = args.build(args)
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


def _reset(args: argparse.Namespace) -> Request:
    return "POST", "/reset", None


# --- argument parsing ---------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wabalink meta",
        description="Drive the built-in Meta simulator of a running `wabalink serve`: create WABAs and "
                    "phone numbers, mint, expire and revoke embedded sign-up tokens, inject Graph API faults.",
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

    command("show-faults", "Show the injected faults.", _show_faults)
    command("clear-faults", "Remove every injected fault.", _clear_faults)
    command("reset", "Empty the store: every linked WABA, simulated WABA, token and fault of every account "
                     "(the server's generated secrets stay).", _reset)
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
