"""`wabalink meta` commands for Flows, Conversions API datasets, business public keys and calling:
each builds one sandbox request (method, path, JSON body), like the commands of `cli/meta.py`."""

from __future__ import annotations

import argparse
import urllib.parse
from collections.abc import Callable
from typing import Any

Request = tuple[str, str, dict[str, Any] | None]
FLOW_HEALTH = ("PUBLISHED", "BLOCKED", "THROTTLED")
PERMISSIONS = ("temporary", "permanent", "no_permission")
USER_CALL_ACTIONS = ("answer", "reject", "hangup")


def _quote(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


def _show_flow(args: argparse.Namespace) -> Request:
    return "GET", f"/flows/{_quote(args.flow_id)}", None


def _set_flow_health(args: argparse.Namespace) -> Request:
    return "PUT", f"/flows/{_quote(args.flow_id)}/status", {"status": args.status}


def _show_conversion_events(args: argparse.Namespace) -> Request:
    return "GET", f"/datasets/{_quote(args.dataset_id)}/events", None


def _set_business_public_key(args: argparse.Namespace) -> Request:
    with args.pem_file as pem:
        key = pem.read()
    return "PUT", f"/phone-numbers/{_quote(args.phone_number_id)}/business-public-key", {"businessPublicKey": key}


def _show_business_public_key(args: argparse.Namespace) -> Request:
    return "GET", f"/phone-numbers/{_quote(args.phone_number_id)}/business-public-key", None


def _set_call_permission(args: argparse.Namespace) -> Request:
    body: dict[str, Any] = {"status": args.status}
    if args.expires_in is not None:
        body["expiresInSeconds"] = args.expires_in
    path = f"/phone-numbers/{_quote(args.phone_number_id)}/call-permissions/{_quote(args.user)}"
    return "PUT", path, body


def _start_inbound_call(args: argparse.Namespace) -> Request:
    return "POST", f"/phone-numbers/{_quote(args.phone_number_id)}/calls/{_quote(args.user)}", None


def _show_call(args: argparse.Namespace) -> Request:
    return "GET", f"/calls/{_quote(args.call_id)}", None


def _user_call_action(args: argparse.Namespace) -> Request:
    return "POST", f"/calls/{_quote(args.call_id)}/{args.action}", None


def add_commands(command: Callable[[str, str, Any], argparse.ArgumentParser]) -> None:
    sub = command("show-flow", "Show a Flow as Meta holds it (status, validation errors, Flow JSON).", _show_flow)
    sub.add_argument("--flow-id", required=True, help="Meta's Flow id")
    sub = command("set-flow-health", "Block or throttle a published Flow, or restore it (Meta's health checks).",
                  _set_flow_health)
    sub.add_argument("--flow-id", required=True, help="Meta's Flow id")
    sub.add_argument("--status", required=True, choices=FLOW_HEALTH)

    sub = command("show-conversion-events", "List the latest conversion events a dataset received.",
                  _show_conversion_events)
    sub.add_argument("--dataset-id", required=True, help="the Conversions API dataset id")

    sub = command("set-business-public-key", "Change a number's business public key at Meta, outside the service "
                  "(the service then reports MISMATCH).", _set_business_public_key)
    sub.add_argument("--phone-number-id", required=True, help="Meta's phone number id")
    sub.add_argument("--pem-file", required=True, type=argparse.FileType("r"), help="a 2048-bit RSA public key (PEM)")
    sub = command("show-business-public-key", "Show a number's business public key and signature status at Meta.",
                  _show_business_public_key)
    sub.add_argument("--phone-number-id", required=True, help="Meta's phone number id")

    sub = command("set-call-permission", "A WhatsApp user grants (temporary, permanent) or revokes (no_permission) "
                  "call permission to a business number.", _set_call_permission)
    sub.add_argument("--phone-number-id", required=True, help="Meta's phone number id")
    sub.add_argument("--user", required=True, help="the user's WhatsApp id (digits) or BSUID")
    sub.add_argument("--status", required=True, choices=PERMISSIONS)
    sub.add_argument("--expires-in", type=int, metavar="SECONDS", help="temporary permission lifetime (7 days)")
    sub = command("start-inbound-call", "A WhatsApp user calls a business number (the call rings).",
                  _start_inbound_call)
    sub.add_argument("--phone-number-id", required=True, help="Meta's phone number id")
    sub.add_argument("--user", required=True, help="the caller's WhatsApp id (digits) or BSUID")
    sub = command("show-call", "Show a call's state.", _show_call)
    sub.add_argument("--call-id", required=True, help="wacid....")
    sub = command("user-call-action", "The WhatsApp user answers or rejects a business call, or hangs up.",
                  _user_call_action)
    sub.add_argument("--call-id", required=True, help="wacid....")
    sub.add_argument("--action", required=True, choices=USER_CALL_ACTIONS)
