"""The console's pages timed with a full store, on the messaging benchmark's SQLite server: linked
WABAs up to `--console-wabas` in the benchmark's account (through the sandbox and both association
phases, as bench/associations.py does), and messages up to `--console-messages`: the loads'
SendWhatsAppMessage calls, then customer messages to the benchmark's first number through the
sandbox's inbound route at full speed (cheaper per message than a send, so the store fills within
the bound; the inbox and the event log hold them and their events). Each page is then fetched
`--console-requests` times on one keep-alive connection with a console session of that account.
Skipped, saying so, until `wabalink.console` exists."""

from __future__ import annotations

import http.client
import re
import time
from collections.abc import Callable
from typing import Any

import sendload
from associations import latency_summary, precreate_wabas, run_associations
from servers import HOST, REPO_ROOT, SANDBOX_TOKEN, Server

TARGET_MS = 200.0
SEED_SECONDS_MAX = 30.0  # cap on linking WABAs and on sending messages, each (no load loop runs longer)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ROW_MARK = 'data-testid="linked-account-row"'


def session_cookie(port: int, account: str) -> str:
    """A console session in `account`, chosen through the page's form as a person would."""
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        connection.request("GET", "/console/")
        response = connection.getresponse()
        page = response.read().decode()
        cookie = (response.getheader("set-cookie") or "").split(";", 1)[0]
        csrf = CSRF.search(page)
        if csrf is None:
            raise RuntimeError(f"console: GET /console/ answered {response.status} without a csrf_token field")
        form = f"csrf_token={csrf.group(1)}&account={account}&region=us-east-1&next=/console/"
        connection.request("POST", "/console/account", form, {
            "cookie": cookie, "content-type": "application/x-www-form-urlencoded",
            "origin": f"http://{HOST}:{port}"})
        chosen = connection.getresponse()
        chosen.read()
        return (chosen.getheader("set-cookie") or cookie).split(";", 1)[0]
    finally:
        connection.close()


def time_page(port: int, path: str, headers: dict[str, str], requests: int) -> dict[str, Any]:
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    seconds, sizes = [], []
    try:
        for _ in range(requests):
            started = time.perf_counter()
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = response.read()
            seconds.append(time.perf_counter() - started)
            if response.status != 200:
                raise RuntimeError(f"console: GET {path} answered {response.status}: {body[:300]!r}")
            sizes.append(len(body))
    finally:
        connection.close()
    summary = latency_summary(seconds)
    return {"path": path, "requests": requests, "p50_ms": summary["p50_ms"], "p99_ms": summary["p99_ms"],
            "max_ms": summary["max_ms"], "bytes": sizes[-1], "_body": body.decode(errors="replace")}


def link_more_wabas(server: Server, count: int, key: tuple[str, str]) -> int:
    if count <= 0:
        return 0
    wabas = precreate_wabas(HOST, server.port, count, threads=4, deadline_seconds=SEED_SECONDS_MAX)
    result = run_associations(server.endpoint, wabas, duration=SEED_SECONDS_MAX, concurrency=4, accounts=[key])
    if result["failures"]:
        raise RuntimeError(f"console setup: {result['failures']} associations failed: {result['failure_examples']}")
    return result["completed"]


def measure(server: Server, waba: dict[str, Any], sent: int, args: Any, *, key: tuple[str, str],
            say: Callable[[str], None], wait_events: Callable[[int], float]) -> dict[str, Any]:
    """`wait_events(n)` waits (bounded) until n inbound-message events reached the sink, so the pages
    are timed on a settled store rather than beside the delivery of thousands of events."""
    if not (REPO_ROOT / "wabalink" / "console").is_dir():  # the tree the server runs from
        say("console: wabalink.console is not built on this branch: the page timings are skipped")
        return {"skipped": "wabalink.console does not exist yet; rerun once the console is merged"}
    started = time.monotonic()
    linked = 1 + link_more_wabas(server, args.console_wabas - 1, key)
    more = max(0, args.console_messages - sent)
    inbound = sendload.inbound_flat_out(server.endpoint, waba["meta_phones"][0], SANDBOX_TOKEN, threads=args.threads,
                                        duration=SEED_SECONDS_MAX, count=more) if more else None
    received = len(inbound.accepted) if inbound else 0
    if inbound and inbound.failures:
        raise RuntimeError(f"console setup: {inbound.failures} inbound messages failed: {inbound.failure_examples}")
    messages = sent + received
    seeding = round(time.monotonic() - started, 1)
    settled = wait_events(received)
    say(f"console: store holds {linked} linked WABAs and {messages} messages ({sent} sent by the loads, "
        f"{received} from customers; seeded in {seeding}s); "
        f"and their events settled {settled:.1f}s later; timing each page {args.console_requests} times")
    cookie = session_cookie(server.port, key[0])
    phone = waba["phones"][0]
    paths = {"linked accounts": "/console/", "WABA": f"/console/wabas/{waba['waba_id']}",
             "number": f"/console/phone-numbers/{phone}", "inbox": f"/console/phone-numbers/{phone}/inbox",
             "event log": "/console/events"}
    pages = {name: time_page(server.port, path, {"cookie": cookie}, args.console_requests)
             for name, path in paths.items()}
    # The inbox's data, from the simulator's sandbox: timed alone to tell the page from its source.
    pages["(sandbox conversations)"] = time_page(
        server.port, f"/meta/sandbox/phone-numbers/{waba['meta_phones'][0]}/conversations",
        {"authorization": f"Bearer {SANDBOX_TOKEN}"}, args.console_requests)
    rows = pages["linked accounts"].pop("_body").count(ROW_MARK)
    for page in pages.values():
        page.pop("_body", None)
    if rows == 0:
        raise RuntimeError("console: the linked accounts page lists no account: the session is not the benchmark's")
    return {"linked_wabas": linked, "messages": messages, "messages_sent": sent, "messages_received": received,
            "seeding_s": seeding, "settle_s": round(settled, 1),
            "seeded_with": "links: sandbox + both association phases; messages: the loads' SendWhatsAppMessage "
                           "calls, then customer messages to the first number through the sandbox's inbound route",
            "rows_on_first_page": rows, "pages": pages}


def print_report(console: dict[str, Any] | None) -> None:
    if not console:
        return
    if "skipped" in console:
        print(f"Console pages: skipped ({console['skipped']})")
        return
    print(f"Console pages ({console['linked_wabas']} linked WABAs, {console['messages']} messages: "
          f"{console['messages_sent']} sent, {console['messages_received']} received; "
          f"{next(iter(console['pages'].values()))['requests']} requests each, one keep-alive connection)")
    for name, page in console["pages"].items():
        verdict = "" if name.startswith("(") else "ok" if page["p99_ms"] <= TARGET_MS else "OVER"
        print(f"  {name:<24}{page['path'][:44]:<46} p50 {page['p50_ms']:>7} ms  p99 {page['p99_ms']:>7} ms  "
              f"{page['bytes']:>8} bytes  {verdict}")
