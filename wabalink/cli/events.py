"""`wabalink events ...`: the event log of a running `wabalink serve` (its `/_wabalink/events` API).

  wabalink events list [--waba-id ID] [--message-id ID] [--status STATE] [--output json|text|table|yaml]
  wabalink events tail [--waba-id ID] [--message-id ID] [--interval SECONDS]   (Ctrl-C exits 130)
  wabalink events replay --event-id ID
  wabalink events help

The server is found as `wabalink meta` finds it (`--endpoint-url`, else $WABALINK_ENDPOINT,
$AWS_ENDPOINT_URL_SOCIALMESSAGING, $AWS_ENDPOINT_URL, else http://127.0.0.1:4599). Events are those of
the caller's account, found from the access key as the server's permissive mode does
(AWS_ACCESS_KEY_ID or the AWS credential chain: a 12-digit key is the account, any other key
000000000000); `--account-id` names another, `--all-accounts` shows every account. With `--auth
strict` (or a sandbox token) the server needs the operator token: `--sandbox-token` or
WABALINK_SANDBOX_TOKEN. JSON output is the API's answer; text, table and yaml show times as ISO-8601
UTC. Exit status (AWS CLI v2's codes, as `wabalink meta`): 0 on success, 252 on usage errors, 254 when
the server answers an error, 255 when it cannot be reached, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from wabalink.cli.meta import (
    DEFAULT_ENDPOINT,
    ENDPOINT_ENVS,
    OUTPUTS,
    RC_OK,
    RC_SERVER_ERROR,
    RC_UNREACHABLE,
    RC_USAGE,
    UsageParser,
    _compile_query,
    default_endpoint,
    parse_command,
)

STATES = ("pending", "delivered", "retrying", "dead", "undeliverable", "no_destination")
PERMISSIVE_DEFAULT_ACCOUNT = "000000000000"
TIMEOUT_SECONDS = 30.0
MAX_TAIL_INTERVAL = 10.0
TIME_FIELDS = ("createdAt", "deliveredAt", "nextAttemptAt")  # epoch seconds in the API's answers
# What `list --output table` shows when no --query picks other fields: a whole event (its envelope
# and destinations) would make each row a page of nested tables.
TABLE_SUMMARY = ("{events: events[].{sequence: sequence, createdAt: createdAt, status: status, kind: kind, "
                 "messageId: messageId, wabaId: wabaId, attempts: attempts, lastError: lastError}}")


class EventsCallError(Exception):
    """The server answered an error: its message, on one line."""


class EventsUnreachable(Exception):
    """Nothing answered at the endpoint."""


def main(argv: list[str]) -> int:
    args = parse_command(_parser(), argv, "events")
    if isinstance(args, int):
        return args
    prefix = f"wabalink events {args.command}"
    try:
        args.query = _compile_query(args.query)
    except ValueError as error:
        print(f"{prefix}: error: {error}", file=sys.stderr)
        return RC_USAGE
    args.endpoint_url = args.endpoint_url or default_endpoint()
    try:
        return int(args.run(args))
    except EventsCallError as error:
        print(f"{prefix}: {error}", file=sys.stderr)
        return RC_SERVER_ERROR
    except EventsUnreachable as error:
        print(f"{prefix}: {error}", file=sys.stderr)
        return RC_UNREACHABLE
    except KeyboardInterrupt:
        return 130


def _list(args: argparse.Namespace) -> int:
    answer = _call(args, "GET", "", _filters(args, "listing") | {"limit": str(args.limit)})
    query = args.query
    if query is None and args.output == "table":
        query = _compile_query(TABLE_SUMMARY)
    _render(answer, args.output, query, "ListEvents")
    return RC_OK


def _tail(args: argparse.Namespace) -> int:
    interval = min(max(args.interval, 0.05), MAX_TAIL_INTERVAL)
    filters = _filters(args, "following")
    after = 0
    if not args.from_start:  # only what happens from now on
        while True:
            answer = _call(args, "GET", "", filters | {"after": str(after), "limit": "1000"})
            if not answer["events"]:
                break
            after = answer["after"]
    while True:
        answer = _call(args, "GET", "", filters | {"after": str(after), "limit": "1000"})
        for event in answer["events"]:
            _print_tailed(event, args.output, args.query)
        after = answer["after"]
        if not answer["events"]:
            time.sleep(interval)


def _replay(args: argparse.Namespace) -> int:
    answer = _call(args, "POST", "/" + urllib.parse.quote(args.event_id, safe="") + "/replay", {})
    _render(answer, args.output, args.query, "ReplayEvent")
    return RC_OK


def _filters(args: argparse.Namespace, verb: str) -> dict[str, str]:
    query = {"wabaId": args.waba_id, "messageId": args.message_id, "status": getattr(args, "status", None)}
    if not args.all_accounts:
        if args.account_id:
            query["accountId"] = args.account_id
        else:
            account, source = caller_account()
            query["accountId"] = account
            if not os.environ.get("AWS_ACCESS_KEY_ID"):  # say whose events an empty answer is about
                print(f"{verb} account {account} ({source}; set AWS_ACCESS_KEY_ID or --account-id)",
                      file=sys.stderr)
    return {key: value for key, value in query.items() if value}


def caller_account() -> tuple[str, str]:
    """The account the server's permissive mode gives the caller's access key, and where it came from."""
    key = os.environ.get("AWS_ACCESS_KEY_ID")
    source = "from AWS_ACCESS_KEY_ID"
    if not key:
        source = "from the AWS credential chain's access key"
        try:
            import botocore.session

            credentials = botocore.session.get_session().get_credentials()
            key = credentials.access_key if credentials else None
        except Exception:  # no usable credential chain: the unsigned caller's account
            key = None
        if not key:
            return PERMISSIVE_DEFAULT_ACCOUNT, "from no access key"
    return (key, source) if re.fullmatch(r"\d{12}", key) else (PERMISSIVE_DEFAULT_ACCOUNT, source)


def _render(answer: Any, output: str, query: Any, title: str) -> None:
    from wabalink.cli.aws.output import render

    if output != "json":  # JSON stays as the API answers; people read ISO-8601 times
        answer = with_iso_times(answer)
    render(answer, output=output, query=query, color="off", stream=sys.stdout, operation_model=title)


def _print_tailed(event: dict[str, Any], output: str, query: Any) -> None:
    """One line per event: a JSON object, or the AWS CLI text row (times in ISO-8601)."""
    if output == "json":
        value = query.search(event) if query is not None else event
        print(json.dumps(value), flush=True)
        return
    from wabalink.cli.aws.output import render

    value = query.search(with_iso_times(event)) if query is not None else _summary(with_iso_times(event))
    render(value, output="text", query=None, color="off", stream=sys.stdout)
    sys.stdout.flush()


def _summary(event: dict[str, Any]) -> list[Any]:
    return [event.get(name) for name in ("sequence", "createdAt", "status", "kind", "messageId", "wabaId",
                                         "attempts", "lastError")]


def with_iso_times(value: Any) -> Any:
    """A copy of an answer with the epoch-second TIME_FIELDS as ISO-8601 UTC strings."""
    if isinstance(value, list):
        return [with_iso_times(item) for item in value]
    if not isinstance(value, dict):
        return value
    return {key: _iso(item) if key in TIME_FIELDS and isinstance(item, (int, float)) else with_iso_times(item)
            for key, item in value.items()}


def _iso(epoch_seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(epoch_seconds, datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
        raise EventsCallError(f"{message} (HTTP {error.code})") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise EventsUnreachable(f"Could not connect to {args.endpoint_url}: is `wabalink serve` running there? "
                                f"({reason})") from None


def _parser() -> argparse.ArgumentParser:
    parser = UsageParser(prog="wabalink events", description="The event log of a running `wabalink serve`: the "
                         "events bound for event destinations (SNS topics), their delivery state, and replays.")
    common = UsageParser(add_help=False)
    common.add_argument("--endpoint-url", "--endpoint", dest="endpoint_url", metavar="URL",
                        help=f"wabalink server URL (default: ${', $'.join(ENDPOINT_ENVS)}, else {DEFAULT_ENDPOINT})")
    common.add_argument("--sandbox-token", default=os.environ.get("WABALINK_SANDBOX_TOKEN") or None, metavar="TOKEN",
                        help="the operator token of a server started with --sandbox-token or --auth strict "
                             "(default: $WABALINK_SANDBOX_TOKEN)")
    common.add_argument("--query", metavar="JMESPATH", help="JMESPath query applied to the answer")
    accounts = UsageParser(add_help=False)
    accounts.add_argument("--account-id", help="the account whose events to show (default: the access key's, "
                                               "as the server's permissive mode maps it)")
    accounts.add_argument("--all-accounts", action="store_true", help="every account's events")
    accounts.add_argument("--waba-id", help="linked WABA id (waba-...) or its ARN")
    accounts.add_argument("--message-id", help="the AWS messageId of SendWhatsAppMessage")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=UsageParser)

    def command(name: str, help_: str, parents: list[UsageParser]) -> argparse.ArgumentParser:
        return commands.add_parser(name, parents=parents, help=help_, description=help_)

    sub = command("list", "List the events of the log, oldest first, with their delivery state "
                  "(pending, delivered, retrying, dead, undeliverable, no_destination).", [common, accounts])
    sub.add_argument("--status", choices=STATES, help="only events in this delivery state")
    sub.add_argument("--limit", type=int, default=1000, help="at most this many (1..1000; default 1000)")
    sub.add_argument("--output", choices=OUTPUTS, default="json",
                     help="output format (default json); table shows one summary row per event unless --query "
                          "picks other fields")
    sub.set_defaults(run=_list)

    sub = command("tail", "Follow the log: print each new event as it is recorded, one per line, until "
                  "Ctrl-C.", [common, accounts])
    sub.add_argument("--interval", type=float, default=0.5,
                     help=f"poll interval in seconds (default 0.5, max {MAX_TAIL_INTERVAL:g})")
    sub.add_argument("--from-start", action="store_true", help="print the existing events first")
    sub.add_argument("--output", choices=("json", "text"), default="json",
                     help="json: one JSON object per line (default); text: one tab-separated summary row")
    sub.set_defaults(run=_tail)

    sub = command("replay", "Deliver an event again: it goes back to pending, even if it was delivered.", [common])
    sub.add_argument("--event-id", required=True, help="the event's eventId (from `wabalink events list`)")
    sub.add_argument("--output", choices=OUTPUTS, default="json", help="output format (default json)")
    sub.set_defaults(run=_replay)
    return parser


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
