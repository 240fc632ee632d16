"""`wabalink events ...`: the event log of a running `wabalink serve` (its `/_wabalink/events` API).

  wabalink events list [--waba-id ID] [--message-id ID] [--status STATE] [--output json|table]
  wabalink events tail [--waba-id ID] [--message-id ID] [--interval SECONDS]   (Ctrl-C exits 130)
  wabalink events replay --event-id ID

The server is `--endpoint-url`, else AWS_ENDPOINT_URL_SOCIALMESSAGING, else AWS_ENDPOINT_URL, else
http://127.0.0.1:4599. Events are those of the caller's account, found from the access key as the
server's permissive mode does (AWS_ACCESS_KEY_ID or the AWS credential chain: a 12-digit key is the
account, any other key 000000000000); `--account-id` names another, `--all-accounts` shows every
account. With `--auth strict` (or a sandbox token) the server needs the operator token:
`--sandbox-token` or WABALINK_SANDBOX_TOKEN.
Exit status: 0 on success, 1 when the server answers an error or cannot be reached, 2 on usage errors,
130 when interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

DEFAULT_ENDPOINT = "http://127.0.0.1:4599"
STATES = ("pending", "delivered", "retrying", "dead", "undeliverable", "no_destination")
PERMISSIVE_DEFAULT_ACCOUNT = "000000000000"
TIMEOUT_SECONDS = 30.0
MAX_TAIL_INTERVAL = 10.0
TABLE_COLUMNS = ("sequence", "createdAt", "status", "kind", "messageId", "wabaId", "attempts", "lastError")


class EventsCallError(Exception):
    pass


def main(argv: list[str]) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    if not getattr(args, "command", None):
        parser.print_usage(sys.stderr)
        print("wabalink events: error: a command is required", file=sys.stderr)
        return 2
    try:
        return int(args.run(args))
    except EventsCallError as error:
        print(f"wabalink events {args.command}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _list(args: argparse.Namespace) -> int:
    answer = _call(args, "GET", "", _filters(args) | {"limit": str(args.limit)})
    _print(answer["events"], args.output)
    return 0


def _tail(args: argparse.Namespace) -> int:
    interval = min(max(args.interval, 0.05), MAX_TAIL_INTERVAL)
    after = 0
    if not args.from_start:  # only what happens from now on
        while True:
            answer = _call(args, "GET", "", _filters(args) | {"after": str(after), "limit": "1000"})
            if not answer["events"]:
                break
            after = answer["after"]
    while True:
        answer = _call(args, "GET", "", _filters(args) | {"after": str(after), "limit": "1000"})
        for event in answer["events"]:
            print(json.dumps(event) if args.output == "json" else _row(event), flush=True)
        after = answer["after"]
        if not answer["events"]:
            time.sleep(interval)


def _replay(args: argparse.Namespace) -> int:
    answer = _call(args, "POST", "/" + urllib.parse.quote(args.event_id, safe="") + "/replay", {})
    print(json.dumps(answer, indent=2))
    return 0


def _filters(args: argparse.Namespace) -> dict[str, str]:
    query = {"wabaId": args.waba_id, "messageId": args.message_id, "status": getattr(args, "status", None)}
    if not args.all_accounts:
        query["accountId"] = args.account_id or caller_account()
    return {key: value for key, value in query.items() if value}


def caller_account() -> str:
    """The account the server's permissive mode gives the caller's access key."""
    key = os.environ.get("AWS_ACCESS_KEY_ID")
    if not key:
        try:
            import botocore.session

            credentials = botocore.session.get_session().get_credentials()
            key = credentials.access_key if credentials else None
        except Exception:  # no usable credential chain: the unsigned caller's account
            key = None
    return key if key and re.fullmatch(r"\d{12}", key) else PERMISSIVE_DEFAULT_ACCOUNT


def _print(events: list[dict[str, Any]], output: str) -> None:
    if output == "json":
        print(json.dumps({"events": events}, indent=2))
        return
    print("\t".join(TABLE_COLUMNS))
    for event in events:
        print(_row(event))


def _row(event: dict[str, Any]) -> str:
    values = dict(event)
    values["createdAt"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(event["createdAt"]))
    return "\t".join("" if values.get(column) is None else str(values[column])[:120] for column in TABLE_COLUMNS)


def _call(args: argparse.Namespace, method: str, path: str, query: dict[str, str] | None) -> Any:
    url = args.endpoint_url.rstrip("/") + "/_wabalink/events" + path
    if method == "GET" and query:
        url += "?" + urllib.parse.urlencode(query)
    headers = {"Accept": "application/json"}
    if args.sandbox_token:
        headers["Authorization"] = f"Bearer {args.sandbox_token}"
    request = urllib.request.Request(url, method=method, headers=headers, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        try:
            message = json.loads(error.read())["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = error.reason
        raise EventsCallError(f"HTTP {error.code}: {message}") from None
    except (urllib.error.URLError, OSError) as error:
        raise EventsCallError(f"cannot reach {args.endpoint_url}: {getattr(error, 'reason', error)}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wabalink events", description="The event log of a running server.")
    endpoint = (os.environ.get("AWS_ENDPOINT_URL_SOCIALMESSAGING") or os.environ.get("AWS_ENDPOINT_URL")
                or DEFAULT_ENDPOINT)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--endpoint-url", default=endpoint, help=f"the server (default {endpoint})")
    common.add_argument("--sandbox-token", default=os.environ.get("WABALINK_SANDBOX_TOKEN") or None,
                        help="the operator token a strict server requires (WABALINK_SANDBOX_TOKEN)")
    common.add_argument("--account-id", help="the account whose events to show (default: the access key's)")
    common.add_argument("--all-accounts", action="store_true", help="every account's events")
    common.add_argument("--output", choices=["json", "table"], default="json")
    filters = argparse.ArgumentParser(add_help=False)
    filters.add_argument("--waba-id", help="linked WABA id (waba-...) or its ARN")
    filters.add_argument("--message-id", help="the AWS messageId of SendWhatsAppMessage")
    commands = parser.add_subparsers(dest="command", metavar="command")

    sub = commands.add_parser("list", parents=[common, filters], help="events, oldest first")
    sub.add_argument("--status", choices=STATES)
    sub.add_argument("--limit", type=int, default=1000, help="at most this many (1..1000)")
    sub.set_defaults(run=_list)

    sub = commands.add_parser("tail", parents=[common, filters], help="follow new events (Ctrl-C stops)")
    sub.add_argument("--interval", type=float, default=0.5, help=f"poll interval in seconds (max {MAX_TAIL_INTERVAL:g})")
    sub.add_argument("--from-start", action="store_true", help="print the existing events first")
    sub.set_defaults(run=_tail)

    sub = commands.add_parser("replay", parents=[common], help="deliver an event again")
    sub.add_argument("--event-id", required=True)
    sub.set_defaults(run=_replay)
    return parser


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
