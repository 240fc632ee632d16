"""Messaging benchmark: SendWhatsAppMessage accepted per second with every event delivered to an
SNS-compatible counting sink, the lag from send to the last event at a fixed rate, the server's
peak RSS, on SQLite and on PostgreSQL with one and two replicas; then the console's pages timed
with 100 linked WABAs and 10,000 messages in the store (when the console is built).

    .venv/bin/python bench/messaging.py                       # about 3 minutes
    .venv/bin/python bench/messaging.py --seconds 4 --lag-seconds 4 --skip postgresql-2

Everything runs on 127.0.0.1: `wabalink serve` and `bench/sns_sink.py` are child processes. See
bench/README.md for what is measured and the targets.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import console_timing  # noqa: E402
import event_check  # noqa: E402
import sendload  # noqa: E402
from event_check import sink_reset, sink_server, wait_for_events  # noqa: E402
from servers import (  # noqa: E402
    RssSampler,
    Server,
    children_cpu_seconds,
    dump_json,
    memory_report,
    named_processes_cpu_seconds,
    sandbox,
    say,
    tree_cpu_seconds,
    wabalink_server,
)

REGION = "us-east-1"
KEY = ("123456789012", "bench-secret")  # permissive mode: the access key id is the account
TOPIC_ARN = f"arn:aws:sns:{REGION}:{KEY[0]}:bench-events"
POSTGRES_URL = os.environ.get("WABALINK_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
SCENARIOS = ("sqlite", "postgresql-1", "postgresql-2")
TARGETS = {"accepted_per_second": 500.0, "lag_p99_ms": 2000.0, "rss_peak_mb": 200.0,
           "console_page_p99_ms": console_timing.TARGET_MS}
TEMPLATE = {"name": sendload.TEMPLATE_NAME, "language": sendload.TEMPLATE_LANGUAGE, "category": "UTILITY",
            "components": [{"type": "BODY", "text": "Your order has shipped."}]}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/messaging.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=6, help="seconds of flat-out sending (default 6)")
    parser.add_argument("--threads", type=int, default=8, help="flat-out sender threads (default 8)")
    parser.add_argument("--rate", type=float, default=300, help="sends per second of the lag run (default 300)")
    parser.add_argument("--lag-seconds", type=float, default=6, help="seconds of the paced lag run (default 6)")
    parser.add_argument("--drain-timeout", type=float, default=30,
                        help="seconds to wait after a load for its events to reach the sink (default 30)")
    parser.add_argument("--replica-webhooks", choices=["shared", "own"], default="shared",
                        help="two replicas: the simulator's webhooks go to one receiver URL (--meta-webhook-url, "
                             "as behind a load balancer; default) or each replica's own (wabalink's default)")
    parser.add_argument("--console-wabas", type=int, default=100, help="linked WABAs for the console pages")
    parser.add_argument("--console-messages", type=int, default=10_000, help="messages for the console pages")
    parser.add_argument("--console-requests", type=int, default=20, help="requests per console page (default 20)")
    parser.add_argument("--skip", action="append", default=[], choices=[*SCENARIOS, "postgresql", "console"],
                        help="leave out a scenario or the console pages (repeatable; postgresql: both)")
    parser.add_argument("--output", type=Path, default=BENCH_DIR / "results", help="folder of the JSON results")
    parser.add_argument("--check", action="store_true", help="exit 3 when a target is missed")
    return parser.parse_args(argv)


# --- servers and setup ----------------------------------------------------------------------------



def boto_client(server: Server) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("socialmessaging", endpoint_url=server.endpoint, region_name=REGION,
                        aws_access_key_id=KEY[0], aws_secret_access_key=KEY[1],
                        config=Config(retries={"total_max_attempts": 1}))


def link_sending_waba(server: Server) -> dict[str, Any]:
    """A WABA with 2 numbers linked to the sink's topic, with an approved template, each number at
    the HIGH throughput tier (1,000 messages/s) and a pair limit the load cannot reach."""
    client = boto_client(server)
    meta = sandbox(server.endpoint, "POST", "/wabas", {"name": "Bench Messaging", "phoneNumbers": 2})
    result = client.associate_whatsapp_business_account(
        signupCallback={"accessToken": meta["accessToken"]})["signupCallbackResult"]
    entry = result["linkedAccountsWithIncompleteSetup"][meta["wabaId"]]
    client.associate_whatsapp_business_account(setupFinalization={
        "associateInProgressToken": result["associateInProgressToken"],
        "phoneNumbers": [{"id": n["phoneNumberId"], "twoFactorPin": "123456"}
                         for n in entry["unregisteredWhatsAppPhoneNumbers"]],
        "waba": {"id": entry["wabaId"], "eventDestinations": [{"eventDestinationArn": TOPIC_ARN}]}})
    account = client.get_linked_whatsapp_business_account(id=entry["wabaId"])["account"]
    created = client.create_whatsapp_message_template(id=entry["wabaId"],
                                                      templateDefinition=json.dumps(TEMPLATE).encode())
    if created.get("templateStatus") not in (None, "APPROVED"):
        raise RuntimeError(f"setup: the benchmark's template is {created.get('templateStatus')}, not APPROVED")
    for phone in account["phoneNumbers"]:
        sandbox(server.endpoint, "PUT", f"/phone-numbers/{phone['metaPhoneNumberId']}/throughput", {"tier": "HIGH"})
        sandbox(server.endpoint, "PUT", f"/phone-numbers/{phone['metaPhoneNumberId']}/delivery", {"pairLimit": 1_000_000})
    return {"waba_id": entry["wabaId"], "phones": [p["phoneNumberId"] for p in account["phoneNumbers"]],
            "meta_phones": [p["metaPhoneNumberId"] for p in account["phoneNumbers"]]}


def fresh_postgres_schema() -> str | None:
    """A URL whose connections use a new schema of the PostgreSQL database; None when unreachable."""
    import uuid

    try:
        import psycopg

        schema = "wl_bench_" + uuid.uuid4().hex[:12]
        with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
    except Exception as error:  # noqa: BLE001 - reported as a skip
        say(f"PostgreSQL at {POSTGRES_URL} is not usable ({type(error).__name__}: {error}): skipped")
        return None
    separator = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"


def drop_postgres_schema(url: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {url.rsplit('%3D', 1)[1]} CASCADE")


# --- a scenario -----------------------------------------------------------------------------------

def load_phase(name: str, sink: Server, servers: list[Server], waba: dict[str, Any], args: argparse.Namespace,
               *, paced: bool, first_index: int) -> dict[str, Any]:
    sink_reset(sink)
    endpoints = [server.endpoint for server in servers]
    cpu_at_start = cpu_readings(servers, sink)
    if paced:
        sends = sendload.paced(endpoints, waba["phones"], KEY, rate=args.rate, duration=args.lag_seconds,
                               first_index=first_index)
    else:
        sends = sendload.flat_out(endpoints, waba["phones"], KEY, threads=args.threads, duration=args.seconds,
                                  first_index=first_index)
    load_end = time.time()
    cpu_load = cpu_spent(cpu_at_start, cpu_readings(servers, sink))
    waited = wait_for_events(sink, list(sends.accepted), args.drain_timeout)
    cpu_drained = cpu_spent(cpu_at_start, cpu_readings(servers, sink))  # the whole cost of the load's messages
    recorded = event_check.sink_get(sink, "/_sink/events")
    events = event_check.event_report(sends.accepted, recorded, load_end)
    count = max(1, len(sends.accepted))
    report: dict[str, Any] = {
        "sends": event_check.sends_report(sends), "events": events,
        "problems": event_check.diagnose(servers[0], recorded, events["examples"]),
        "stages": event_check.stage_breakdown(servers[0], sends.accepted, recorded) if paced else None,
        "drain_wait_s": round(waited, 2),
        "server_cpu_ms_per_message_during_load": round(cpu_load["server"] * 1000 / count, 2),
        "publisher_cpu_ms_per_message": round(cpu_load["publisher"] * 1000 / count, 2),
        "generator_cpu_ms_per_message": round(cpu_load["generator"] * 1000 / count, 2),
        "sink_cpu_ms_per_message": round(cpu_load["sink"] * 1000 / count, 2),
        # PostgreSQL's processes (on SQLite: whatever else uses this machine's PostgreSQL, near 0).
        "database_cpu_ms_per_message": round(cpu_load["database"] * 1000 / count, 2),
        # Sustained: every message's events at the sink, from the load's start to the last event.
        "complete_per_second": round(events["complete"] / max(0.001, sends.elapsed + max(
            0.0, events["last_event_after_load_s"] or 0.0)), 1),
        "machine_load_average_1m": os.getloadavg()[0]}
    # The publisher runs in the server's process tree: counted in "server" already.
    report["cpu_budget"] = cpu_budget(sum(cpu_drained.values()) - cpu_drained["publisher"], count)
    s, e = report["sends"], report["events"]
    say(f"{name}: {s['accepted']} accepted in {s['duration_s']}s = {s['accepted_per_second']}/s "
        f"(p50 {s['latency']['p50_ms']} ms, p99 {s['latency']['p99_ms']} ms, {s['failures']} failed); events: "
        f"{e['complete']}/{e['messages']} complete, missing {e['missing_by_kind']}, {e['duplicates']} duplicates, "
        f"lag to read p50 {e['lag_to_read']['p50_ms']} ms p99 {e['lag_to_read']['p99_ms']} ms")
    return report


def cpu_readings(servers: list[Server], sink: Server) -> dict[str, float]:
    """CPU seconds so far: the servers with their SNS publishers (and those apart), PostgreSQL's
    processes, this process (the load generator) and the sink."""
    return {"server": sum(tree_cpu_seconds(server.pid) for server in servers),
            "publisher": sum(children_cpu_seconds(server.pid) for server in servers),
            "database": named_processes_cpu_seconds("postgres"),
            "generator": sum(os.times()[:2]), "sink": tree_cpu_seconds(sink.pid)}


def cpu_spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {key: after[key] - before[key] for key in before}


def cpu_budget(cpu_seconds: float, messages: int) -> dict[str, float]:
    """What the machine's cores allow: every process of the run (server with its SNS publisher,
    PostgreSQL, load generator, sink) together spent `cpu_seconds` on `messages`, from the load's
    start until their last event reached the sink; at that cost the cores, doing nothing else,
    would carry at most `ceiling_per_second`."""
    per_message_ms = cpu_seconds * 1000 / max(1, messages)
    cores = os.cpu_count() or 1
    return {"cpu_ms_per_message_all_processes": round(per_message_ms, 2), "cores": cores,
            "ceiling_per_second": round(cores * 1000 / max(0.001, per_message_ms), 1),
            "cores_needed_at_target": round(TARGETS["accepted_per_second"] * per_message_ms / 1000, 2)}


def scenario(name: str, database_url: str, replicas: int, sink: Server, args: argparse.Namespace, workdir: Path,
             after: Any = None) -> dict[str, Any]:
    servers: list[Server] = []
    samplers: list[RssSampler] = []
    try:
        for number in range(replicas):
            server = wabalink_server(workdir, f"{name}-{number}", [
                "--sns-endpoint-url", sink.endpoint, "--waba-quota", "1000000"], database_url=database_url)
            if replicas > 1 and args.replica_webhooks == "shared":
                # Replicas behind one address: the simulator's app has ONE callback URL (here the
                # first replica's receiver), as a deployment behind a load balancer configures it.
                first = servers[0] if servers else server
                server.command += ["--meta-webhook-url", f"{first.endpoint}/_wabalink/webhooks/meta"]
            servers.append(server.start())
        say(f"{name}: {replicas} server(s) up; linking a WABA, its template and HIGH-tier numbers")
        waba = link_sending_waba(servers[0])
        samplers = [RssSampler(server.pid).__enter__() for server in servers]
        sink_reset(sink)
        warm = sendload.flat_out([s.endpoint for s in servers], waba["phones"], KEY, threads=2, duration=1)
        wait_for_events(sink, list(warm.accepted), args.drain_timeout)
        result: dict[str, Any] = {"replicas": replicas, "warmup_sends": len(warm.accepted),
                                  "replica_webhooks": args.replica_webhooks if replicas > 1 else None}
        result["flat_out"] = load_phase(f"{name} flat out", sink, servers, waba, args, paced=False, first_index=10_000)
        result["paced"] = load_phase(f"{name} paced {args.rate:.0f}/s", sink, servers, waba, args, paced=True,
                                     first_index=1_000_000)
        if after is not None:
            sent = len(warm.accepted) + result["flat_out"]["sends"]["accepted"] + result["paced"]["sends"]["accepted"]
            result["after"] = after(servers[0], waba, sent)
        for sampler in samplers:
            sampler.__exit__(None, None, None)
        result["memory"] = [{**memory_report(server.pid), **sampler.summary()}
                            for server, sampler in zip(servers, samplers)]
        result["server_alive_at_end"] = all(server.alive() for server in servers)
        return result
    finally:
        for sampler in samplers:
            sampler.__exit__(None, None, None)
        for server in servers:
            server.stop()


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    # The servers' botocore SNS clients take credentials from the environment (the sink ignores them).
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": REGION})
    skip = set(args.skip) | ({"postgresql-1", "postgresql-2"} if "postgresql" in args.skip else set())
    results: dict[str, Any] = {"scenarios": {}, "console": None}
    with sink_server(workdir) as sink:
        if "sqlite" not in skip:
            console = None if "console" in skip else console_hook(args, results, sink)
            results["scenarios"]["sqlite"] = scenario("sqlite", f"sqlite:///{workdir / 'messaging.db'}", 1, sink,
                                                      args, workdir, after=console)
        for name, replicas in (("postgresql-1", 1), ("postgresql-2", 2)):
            if name in skip:
                continue
            url = fresh_postgres_schema()
            if url is None:
                results["scenarios"][name] = {"skipped": f"PostgreSQL at {POSTGRES_URL} is not reachable"}
                continue
            try:
                results["scenarios"][name] = scenario(name, url, replicas, sink, args, workdir)
            finally:
                drop_postgres_schema(url)
    if results["console"] is None and "console" not in skip:
        results["console"] = {"skipped": "the console pages run on the SQLite scenario's server (skipped)"}
    results["summary"] = summarize(results)
    return results


def console_hook(args: argparse.Namespace, results: dict[str, Any], sink: Server) -> Any:
    def after(server: Server, waba: dict[str, Any], sent: int) -> None:
        sink_reset(sink)
        results["console"] = console_timing.measure(
            server, waba, sent, args, key=KEY, say=say,
            wait_events=lambda count: event_check.wait_for_other_events(sink, count, args.drain_timeout))
    return after


# --- report ---------------------------------------------------------------------------------------

def summarize(results: dict[str, Any]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for name, result in results["scenarios"].items():
        if "skipped" in result:
            continue
        flat, paced = result["flat_out"], result["paced"]
        all_events = all(phase["events"]["incomplete"] == 0 for phase in (flat, paced))
        duplicates = flat["events"]["duplicates"] + paced["events"]["duplicates"]
        out_of_order = flat["events"]["out_of_order"] + paced["events"]["out_of_order"]
        rss = round(max((m["vm_hwm_mb"] or 0) + m.get("children_vm_hwm_mb", 0) for m in result["memory"]), 1)
        summary[name] = {
            "accepted_per_second": flat["sends"]["accepted_per_second"],
            "complete_per_second": flat.get("complete_per_second"),
            "call_p50_ms": flat["sends"]["latency"]["p50_ms"], "call_p99_ms": flat["sends"]["latency"]["p99_ms"],
            "lag_p50_ms": paced["events"]["lag_to_read"]["p50_ms"],
            "lag_p99_ms": paced["events"]["lag_to_read"]["p99_ms"],
            "paced_rate_achieved": paced["sends"]["accepted_per_second"],
            "rss_peak_mb": rss, "every_event_delivered": all_events, "duplicates": duplicates,
            "out_of_order": out_of_order,
            "targets": {
                # Accepted only counts when the events keep up: the lower of the two rates is judged.
                "accepted_per_second": verdict(min(flat["sends"]["accepted_per_second"],
                                                   flat.get("complete_per_second") or 0.0),
                                               TARGETS["accepted_per_second"]),
                "lag_p99_ms": verdict(paced["events"]["lag_to_read"]["p99_ms"], TARGETS["lag_p99_ms"], False),
                "rss_peak_mb": verdict(rss, TARGETS["rss_peak_mb"], False),
                "every_event_once": "MET" if all_events and duplicates == 0 else "MISSED",
                "per_message_order": "MET" if out_of_order == 0 else "MISSED"}}
    console = results.get("console") or {}
    if console.get("pages"):
        worst = max(page["p99_ms"] for name, page in console["pages"].items() if not name.startswith("("))
        summary["console"] = {"worst_page_p99_ms": worst,
                              "targets": {"console_page_p99_ms": verdict(worst, TARGETS["console_page_p99_ms"],
                                                                         False)}}
    return summary


def verdict(value: float | None, target: float, higher_is_better: bool = True) -> str:
    if value is None:
        return "n/a"
    return "MET" if (value >= target if higher_is_better else value <= target) else "MISSED"


def print_report(results: dict[str, Any]) -> None:
    line = "-" * 112
    print(line)
    print("Messaging: SendWhatsAppMessage (template sends, 2 HIGH-tier numbers), events to an SNS-compatible "
          "counting sink")
    print(f"{'scenario':<14}{'accepted/s':>11}{'call p50':>9}{'call p99':>9}{'paced/s':>8}{'lag p50':>9}"
          f"{'lag p99':>9}{'VmHWM MB':>10}{'events complete':>20}{'dup':>5}{'order':>6}")
    for name, result in results["scenarios"].items():
        if "skipped" in result:
            print(f"{name:<14}skipped: {result['skipped']}")
            continue
        flat, paced = result["flat_out"], result["paced"]
        complete = sum(p["events"]["complete"] for p in (flat, paced))
        messages = sum(p["events"]["messages"] for p in (flat, paced))
        dup = sum(p["events"]["duplicates"] for p in (flat, paced))
        order = sum(p["events"]["out_of_order"] for p in (flat, paced))
        rss = round(max((m["vm_hwm_mb"] or 0) + m.get("children_vm_hwm_mb", 0) for m in result["memory"]), 1)
        figures = [flat["sends"]["accepted_per_second"], flat["sends"]["latency"]["p50_ms"],
                   flat["sends"]["latency"]["p99_ms"], paced["sends"]["accepted_per_second"],
                   paced["events"]["lag_to_read"]["p50_ms"], paced["events"]["lag_to_read"]["p99_ms"]]
        a, b, c, d, e, f = ["n/a" if value is None else value for value in figures]
        events = f"{complete}/{messages}"
        print(f"{name:<14}{a:>11}{b:>9}{c:>9}{d:>8}{e:>9}{f:>9}{rss:>10}{events:>20}{dup:>5}{order:>6}")
    print("  (ms; events: messages with hand-over + sent + delivered + read at the sink, both loads; "
          "dup: events delivered twice; order: arrivals out of order)")
    for name, result in results["scenarios"].items():
        if "skipped" not in result:
            flat, paced = result["flat_out"], result["paced"]
            print(f"  {name}: flat out: {flat.get('complete_per_second')} messages/s complete (every event at the "
                  f"sink, from the load's start to the last event); server CPU "
                  f"{flat['server_cpu_ms_per_message_during_load']} ms/message (of which its SNS publisher process "
                  f"{flat.get('publisher_cpu_ms_per_message')}), "
                  f"PostgreSQL {flat.get('database_cpu_ms_per_message')} ms, "
                  f"generator {flat['generator_cpu_ms_per_message']} ms, SNS sink "
                  f"{flat.get('sink_cpu_ms_per_message')} ms; last event "
                  f"{flat['events']['last_event_after_load_s']}s after the load (paced: "
                  f"{paced['events']['last_event_after_load_s']}s); 1-min load average "
                  f"{flat['machine_load_average_1m']:.1f} on {os.cpu_count()} CPUs")
            budget = flat.get("cpu_budget")
            if budget:
                print(f"    CPU budget: {budget['cpu_ms_per_message_all_processes']} ms per message in all processes "
                      f"together; at that cost {budget['cores']} cores doing nothing else carry at most "
                      f"{budget['ceiling_per_second']} messages/s, and "
                      f"{TARGETS['accepted_per_second']:.0f}/s would need {budget['cores_needed_at_target']} cores")
            if paced.get("stages"):
                print("    paced, from the call (p50 ms): " + ", ".join(
                    f"{stage} {figures['p50_ms']}" for stage, figures in paced["stages"].items()))
    console_timing.print_report(results.get("console"))
    print(line)
    print("Targets")
    for name, summary in results["summary"].items():
        for key, value in summary["targets"].items():
            print(f"  {name:<14}{key:<22}{value}")
    print(line)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="wabalink-bench-messaging-") as folder:
        workdir = Path(folder)
        try:
            results = run(args, workdir)
        except Exception as error:
            print(f"\nmessaging bench FAILED: {error}", file=sys.stderr)
            for log in sorted(workdir.glob("*.log")):
                tail = log.read_text(errors="replace")[-1500:]
                if tail.strip():
                    print(f"--- {log.name} (tail) ---\n{tail}", file=sys.stderr)
            return 1
    results["settings"] = {key: (str(value) if isinstance(value, Path) else value) for key, value in vars(args).items()}
    results["elapsed_s"] = round(time.time() - started, 1)
    args.output.mkdir(parents=True, exist_ok=True)
    path = args.output / f"messaging-{time.strftime('%Y%m%dT%H%M%S')}.json"
    dump_json(path, results)
    print_report(results)
    print(f"results: {path} (total {results['elapsed_s']}s)")
    missed = any("MISSED" in s["targets"].values() for s in results["summary"].values())
    return 3 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
