"""wabalink benchmark: read throughput against a bare ASGI app and moto, associations per second, RSS,
and the command line's start-up against the aws command.

    make bench                          # defaults: 15 s per wrk run, 20 s of associations
    make bench ARGS="--duration 5 --assoc-duration 5"

Everything runs on 127.0.0.1 in one run, so the figures to quote are the ratios (the machine may be
shared and noisy). See bench/README.md for what is measured and the targets.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import cli_speed  # noqa: E402
import media as media_bench  # noqa: E402
import messaging as messaging_bench  # noqa: E402
from associations import precreate_wabas, run_associations, spot_check  # noqa: E402
from servers import (  # noqa: E402
    RssSampler,
    Server,
    bare_server,
    cpu_seconds,
    dump_json,
    memory_report,
    moto_server,
    sandbox,
    say,
    wabalink_server,
)
from wrkload import WrkMissing, assert_clean, check_once, find_wrk, presign_get, run_wrk, write_script  # noqa: E402

REGION = "us-east-1"
SERVICE = "social-messaging"
PERMISSIVE_KEY = ("123456789012", "bench-secret")  # permissive mode: the access key id is the account
STRICT_KEY = ("AKIAWABALINKBENCH001", "bench-strict-secret/abcdefghijklmnopqrs", "210987654321")

TARGETS = {
    "read_ratio_vs_bare": 0.20,
    "read_ratio_vs_moto": 10.0,
    "associations_per_second": 100.0,
    "rss_peak_mb": 150.0,
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=5,
                        help="seconds of each measured wrk run (default 5); each target runs --rounds times")
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds over all read targets (default 3)")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of wrk warm-up before each (default 2)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--assoc-duration", type=float, default=20,
                        help="seconds of the association load (default 20)")
    parser.add_argument("--assoc-concurrency", type=int, default=8,
                        help="association worker threads, one AWS account each (default 8)")
    parser.add_argument("--assoc-wabas", type=int, default=0,
                        help="WABAs created before the clock starts (default: 200 per second of --assoc-duration)")
    parser.add_argument("--waba-quota", type=int, default=1_000_000, help="--waba-quota given to wabalink serve")
    parser.add_argument("--cli-runs", type=int, default=10,
                        help="runs of each command in the command-line start-up comparison (default 10)")
    parser.add_argument("--skip", action="append", default=[],
                        choices=["bare", "strict", "moto", "associations", "cli", "media", "messaging"],
                        help="leave out a part (repeatable)")
    parser.add_argument("--messaging-seconds", type=float, default=6,
                        help="seconds of each messaging load, flat out and paced, per scenario (default 6)")
    parser.add_argument("--output", type=Path, default=BENCH_DIR / "results",
                        help="folder of the JSON results (default bench/results/)")
    parser.add_argument("--check", action="store_true", help="exit 3 when a target is missed")
    parser.add_argument("--profile", action="store_true",
                        help="also record the permissive wabalink server with py-spy (pip install py-spy) during "
                             "the reads and the associations: flame graphs in the results folder")
    return parser.parse_args(argv)


# --- setup ------------------------------------------------------------------------------------------



def link_one_waba(server: Server, access_key: str, secret_key: str) -> str:
    """Sandbox WABA with two numbers -> phase 1 -> phase 2 through boto3; returns the linked id."""
    import boto3
    from botocore.config import Config

    client = boto3.client("socialmessaging", endpoint_url=server.endpoint, region_name=REGION,
                          aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                          config=Config(retries={"total_max_attempts": 1}))
    meta = sandbox(server.endpoint, "POST", "/wabas", {"name": "Bench Reads", "phoneNumbers": 2})
    first = client.associate_whatsapp_business_account(signupCallback={"accessToken": meta["accessToken"]})
    result = first["signupCallbackResult"]
    entry = result["linkedAccountsWithIncompleteSetup"][meta["wabaId"]]
    client.associate_whatsapp_business_account(setupFinalization={
        "associateInProgressToken": result["associateInProgressToken"],
        "phoneNumbers": [{"id": n["phoneNumberId"], "twoFactorPin": "123456", "dataLocalizationRegion": "DE"}
                         for n in entry["unregisteredWhatsAppPhoneNumbers"]],
        "waba": {"id": entry["wabaId"], "eventDestinations": [
            {"eventDestinationArn": "arn:aws:sns:us-east-1:123456789012:whatsapp-events"}],
            "tags": [{"key": "team", "value": "support"}]}})
    account = client.get_linked_whatsapp_business_account(id=entry["wabaId"])["account"]
    if account["registrationStatus"] != "COMPLETE" or len(account["phoneNumbers"]) != 2:
        raise RuntimeError(f"setup: the linked WABA is not COMPLETE with 2 numbers: {account}")
    return entry["wabaId"]


def moto_rest_api(server: Server) -> str:
    import boto3

    client = boto3.client("apigateway", endpoint_url=server.endpoint, region_name=REGION,
                          aws_access_key_id="AKIAMOTOBENCH0000001", aws_secret_access_key="moto-secret")
    return client.create_rest_api(name="bench", description="wabalink benchmark comparison")["id"]


# --- optional profiling -----------------------------------------------------------------------------

class Profiler:
    """`py-spy record` attached to a server while a part runs (only with --profile)."""

    def __init__(self, enabled: bool, pid: int, output: Path) -> None:
        self.enabled, self.pid, self.output = enabled, pid, output
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Profiler:
        if self.enabled:
            spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
            if not Path(spy).exists():
                raise RuntimeError("--profile needs py-spy: pip install py-spy")
            self.output.parent.mkdir(parents=True, exist_ok=True)
            self.process = subprocess.Popen([spy, "record", "-p", str(self.pid), "-o", str(self.output), "-r", "200",
                                             "--nonblocking", "--threads"],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)  # attached before the load starts
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
            say(f"profile: {self.output}")


# --- reads -------------------------------------------------------------------------------------------

class ReadTarget:
    """A server under read load: its pre-signed GET, its wrk script and its per-round results."""

    def __init__(self, name: str, server: Server, url: str, headers: dict[str, str], expect_in_body: bytes,
                 workdir: Path) -> None:
        status, body = check_once(url, headers)
        if status != 200 or expect_in_body not in body:
            raise RuntimeError(f"{name}: the pre-signed GET answered {status} {body[:300]!r}; expected 200 with "
                               f"{expect_in_body!r}")
        self.name, self.server, self.url, self.response_bytes = name, server, url, len(body)
        self.script = write_script(workdir / f"{name}.lua", "/" + url.split("/", 3)[3], headers)
        self.rounds: list[dict[str, Any]] = []

    def wrk(self, wrk: str, args: argparse.Namespace, duration: float) -> dict[str, Any]:
        cpu_before = cpu_seconds(self.server.pid)
        result = run_wrk(wrk, self.url, self.script, threads=args.threads, connections=args.connections,
                         duration=duration)
        cpu_after = cpu_seconds(self.server.pid)
        assert_clean(self.name, result)
        if cpu_before is not None and cpu_after is not None:
            result["server_cpu_seconds"] = round(cpu_after - cpu_before, 2)
            result["server_cpu_us_per_request"] = round((cpu_after - cpu_before) * 1e6 / result["requests"], 1)
        result.pop("text", None)
        return result

    def summary(self) -> dict[str, Any]:
        rounds = self.rounds
        requests = sum(r["requests"] for r in rounds)
        seconds = sum(r["duration_us"] for r in rounds) / 1e6
        cpu = [r["server_cpu_us_per_request"] for r in rounds if "server_cpu_us_per_request" in r]
        return {
            "requests": requests, "seconds": round(seconds, 2),
            "requests_per_second": requests / seconds,
            "requests_per_second_rounds": [round(r["requests_per_second"], 1) for r in rounds],
            "latency_ms": {"p50": round(median([r["latency_us"]["p50"] for r in rounds]) / 1000, 2),
                           "p90": round(median([r["latency_us"]["p90"] for r in rounds]) / 1000, 2),
                           "p99": round(median([r["latency_us"]["p99"] for r in rounds]) / 1000, 2),
                           "max": round(max(r["latency_us"]["max"] for r in rounds) / 1000, 2)},
            "errors": {kind: sum(r["errors"][kind] for r in rounds) for kind in rounds[0]["errors"]},
            "server_cpu_us_per_request": round(median(cpu), 1) if cpu else None,
            "response_bytes": self.response_bytes,
            "command": rounds[0]["command"],
        }


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def measure_reads(targets: list[ReadTarget], wrk: str, args: argparse.Namespace) -> None:
    """Warm each target up, then `--rounds` rounds, each running every target in turn for `--duration`
    seconds: interleaving spreads the noise of a shared machine over all targets alike."""
    for target in targets:
        if args.warmup > 0:
            say(f"{target.name}: warm-up {args.warmup:.0f}s")
            target.wrk(wrk, args, args.warmup)
    for number in range(1, args.rounds + 1):
        for target in targets:
            result = target.wrk(wrk, args, args.duration)
            target.rounds.append(result)
            say(f"round {number}/{args.rounds} {target.name}: {result['requests_per_second']:.0f} req/s, "
                f"p50 {result['latency_us']['p50'] / 1000:.2f} ms, p99 {result['latency_us']['p99'] / 1000:.2f} ms, "
                f"server CPU {result.get('server_cpu_us_per_request', '?')} us/request")


def round_ratios(targets: dict[str, ReadTarget], a: str, b: str) -> dict[str, Any] | None:
    """a/b throughput in each round (the runs of a round are back to back) and their median."""
    if a not in targets or b not in targets:
        return None
    ratios = [x["requests_per_second"] / y["requests_per_second"]
              for x, y in zip(targets[a].rounds, targets[b].rounds)]
    return {"median": round(median(ratios), 3), "rounds": [round(r, 3) for r in ratios]}


# --- the run ----------------------------------------------------------------------------------------

def run(args: argparse.Namespace, wrk: str, workdir: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"reads": {}, "memory": {}, "associations": None}
    body_file = workdir / "get-linked-waba.json"
    targets: dict[str, ReadTarget] = {}
    started: list[Server] = []
    samplers: dict[str, RssSampler] = {}
    try:
        # (a) wabalink, permissive (default) auth: reads, then associations, in this one process.
        main_server = wabalink_server(workdir, "wabalink", ["--waba-quota", str(args.waba_quota)]).start()
        started.append(main_server)
        say(f"wabalink (permissive) on {main_server.endpoint}: linking a WABA through the sandbox and boto3")
        linked = link_one_waba(main_server, *PERMISSIVE_KEY)
        url = f"{main_server.endpoint}/v1/whatsapp/waba/details?id={linked}"
        headers = presign_get(url, SERVICE, REGION, *PERMISSIVE_KEY)
        body_file.write_bytes(check_once(url, headers)[1])
        targets["wabalink"] = ReadTarget("wabalink", main_server, url, headers, linked.encode(), workdir)

        # (a') wabalink, strict auth: the signature is really verified.
        if "strict" not in args.skip:
            credentials = workdir / "credentials.json"
            credentials.write_text(json.dumps({STRICT_KEY[0]: {"secret": STRICT_KEY[1], "account": STRICT_KEY[2]}}))
            server = wabalink_server(workdir, "wabalink-strict",
                                     ["--auth", "strict", "--credentials", str(credentials)]).start()
            started.append(server)
            say(f"wabalink (strict) on {server.endpoint}: linking a WABA")
            strict_linked = link_one_waba(server, STRICT_KEY[0], STRICT_KEY[1])
            url = f"{server.endpoint}/v1/whatsapp/waba/details?id={strict_linked}"
            headers = presign_get(url, SERVICE, REGION, STRICT_KEY[0], STRICT_KEY[1])
            bad = dict(headers, Authorization=headers["Authorization"][:-4] + "0000")
            if check_once(url, bad)[0] != 403:
                raise RuntimeError("wabalink --auth strict accepted a wrong signature: the run would not verify")
            targets["wabalink-strict"] = ReadTarget("wabalink-strict", server, url, headers, strict_linked.encode(),
                                                    workdir)

        # (b) the bare ASGI app, answering the same bytes wabalink answered.
        if "bare" not in args.skip:
            server = bare_server(workdir, body_file).start()
            started.append(server)
            url = f"{server.endpoint}/v1/whatsapp/waba/details?id={linked}"
            headers = presign_get(url, SERVICE, REGION, *PERMISSIVE_KEY)
            targets["bare"] = ReadTarget("bare", server, url, headers, linked.encode(), workdir)

        # (c) moto's server: API Gateway GET /restapis/{id}, a signed rest-json single-resource GET.
        if "moto" not in args.skip:
            server = moto_server(workdir).start()
            started.append(server)
            say(f"moto on {server.endpoint}: creating a REST API")
            api_id = moto_rest_api(server)
            url = f"{server.endpoint}/restapis/{api_id}"
            headers = presign_get(url, "apigateway", REGION, "AKIAMOTOBENCH0000001", "moto-secret")
            targets["moto"] = ReadTarget("moto", server, url, headers, api_id.encode(), workdir)

        for name, target in targets.items():
            if name.startswith("wabalink"):
                samplers[name] = RssSampler(target.server.pid).__enter__()
        stamp = time.strftime("%Y%m%dT%H%M%S")
        with Profiler(args.profile, main_server.pid, args.output / f"profile-{stamp}-reads.svg"):
            measure_reads(list(targets.values()), wrk, args)
        for name, target in targets.items():
            results["reads"][name] = target.summary()
        results["read_ratios"] = {
            "wabalink/bare": round_ratios(targets, "wabalink", "bare"),
            "wabalink/moto": round_ratios(targets, "wabalink", "moto"),
            "wabalink-strict/bare": round_ratios(targets, "wabalink-strict", "bare"),
            "wabalink-strict/moto": round_ratios(targets, "wabalink-strict", "moto"),
            "wabalink-strict/wabalink": round_ratios(targets, "wabalink-strict", "wabalink"),
        }
        for server in started[1:]:
            name = server.name
            sampler = samplers.pop(name, None)
            if sampler is not None:
                sampler.__exit__(None, None, None)
            results["memory"][name] = {**memory_report(server.pid), **(sampler.summary() if sampler else {})}
            server.stop()

        # 2. associations on the permissive server, alone on the machine now.
        if "associations" not in args.skip:
            results["associations"] = associations(main_server, args, stamp)
        sampler = samplers.pop("wabalink")
        sampler.__exit__(None, None, None)
        results["memory"]["wabalink"] = {**memory_report(main_server.pid), **sampler.summary()}
    finally:
        for sampler in samplers.values():
            sampler.__exit__(None, None, None)
        for server in started:
            server.stop()
    return results


def associations(server: Server, args: argparse.Namespace, stamp: str) -> dict[str, Any]:
    count = args.assoc_wabas or max(200, int(args.assoc_duration * 200))
    say(f"associations: creating {count} WABAs (1-2 numbers each) and their tokens before the clock")
    started = time.monotonic()
    wabas = precreate_wabas("127.0.0.1", server.port, count)
    say(f"associations: {len(wabas)} WABAs ready in {time.monotonic() - started:.1f}s; "
        f"{args.assoc_concurrency} workers for {args.assoc_duration:.0f}s")
    accounts = [(str(300000000000 + i), "bench-secret") for i in range(args.assoc_concurrency)]
    server_cpu, client_cpu = cpu_seconds(server.pid), sum(os.times()[:2])
    with Profiler(args.profile, server.pid, args.output / f"profile-{stamp}-associations.svg"):
        result = run_associations(server.endpoint, wabas, duration=args.assoc_duration,
                                  concurrency=args.assoc_concurrency, accounts=accounts)
    server_cpu = (cpu_seconds(server.pid) or 0) - (server_cpu or 0)
    client_cpu = sum(os.times()[:2]) - client_cpu
    completed = result.pop("completed_ids")
    used = len(completed)
    result["server_cpu_seconds"] = round(server_cpu, 2)
    result["client_cpu_seconds"] = round(client_cpu, 2)
    if used:
        result["server_cpu_ms_per_association"] = round(server_cpu * 1000 / used, 2)
        result["client_cpu_ms_per_association"] = round(client_cpu * 1000 / used, 2)
    result["spot_check_problems"] = spot_check(server.endpoint, dict(accounts), completed)
    say(f"associations: {result['completed']} complete in {result['duration_s']}s = "
        f"{result['associations_per_second']}/s ({result['failures']} failed)")
    return result


# --- report -------------------------------------------------------------------------------------------

def verdict(value: float | None, target: float, higher_is_better: bool = True) -> str:
    if value is None:
        return "n/a"
    return "MET" if (value >= target if higher_is_better else value <= target) else "MISSED"


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    ratios = results.get("read_ratios", {})

    def ratio(key: str) -> float | None:
        return ratios[key]["median"] if ratios.get(key) else None

    summary: dict[str, Any] = {
        "read_ratio_vs_bare": ratio("wabalink/bare"),
        "read_ratio_vs_moto": ratio("wabalink/moto"),
        "strict_read_ratio_vs_bare": ratio("wabalink-strict/bare"),
        "strict_read_ratio_vs_moto": ratio("wabalink-strict/moto"),
        "strict_vs_permissive": ratio("wabalink-strict/wabalink"),
    }
    assoc = results.get("associations")
    summary["associations_per_second"] = assoc["associations_per_second"] if assoc else None
    peaks = [m["vm_hwm_mb"] for name, m in results["memory"].items() if name.startswith("wabalink") and m["vm_hwm_mb"]]
    summary["rss_peak_mb"] = max(peaks) if peaks else None
    summary["targets"] = {
        "read_ratio_vs_bare": verdict(summary["read_ratio_vs_bare"], TARGETS["read_ratio_vs_bare"]),
        "read_ratio_vs_moto": verdict(summary["read_ratio_vs_moto"], TARGETS["read_ratio_vs_moto"]),
        "associations_per_second": verdict(summary["associations_per_second"], TARGETS["associations_per_second"]),
        "rss_peak_mb": verdict(summary["rss_peak_mb"], TARGETS["rss_peak_mb"], higher_is_better=False),
    }
    for result in results.get("cli") or []:
        summary["targets"][f"cli: {result['name']}"] = "MET" if result["met"] else "MISSED"
    for scenario, figures in ((results.get("messaging") or {}).get("summary") or {}).items():
        for key, value in figures["targets"].items():
            summary["targets"][f"messaging {scenario}: {key}"] = value
    return summary


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def print_report(results: dict[str, Any], args: argparse.Namespace) -> None:
    summary = results["summary"]
    reads = results["reads"]
    line = "-" * 96
    print()
    print(line)
    print(f"Reads: signed GET, wrk -t{args.threads} -c{args.connections}, {args.rounds} interleaved rounds of "
          f"{args.duration:.0f}s per target on 127.0.0.1; every answer a 2xx")
    print(f"{'target':<38}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'CPU us/req':>11}{'x bare':>8}{'x moto':>8}"
          f"{'VmHWM MB':>9}")
    labels = {"bare": "bare ASGI app (uvicorn, same settings)", "wabalink": "wabalink GetLinkedWABA, permissive",
              "wabalink-strict": "wabalink GetLinkedWABA, --auth strict", "moto": "moto GET /restapis/{id}"}
    base_bare = reads.get("bare", {}).get("requests_per_second")
    base_moto = reads.get("moto", {}).get("requests_per_second")
    for name in ("bare", "wabalink", "wabalink-strict", "moto"):
        if name not in reads:
            continue
        r = reads[name]
        rate = r["requests_per_second"]
        memory = results["memory"].get(name, {}).get("vm_hwm_mb")
        print(f"{labels[name]:<38}{rate:>8.0f}{r['latency_ms']['p50']:>8.2f}{r['latency_ms']['p99']:>8.2f}"
              f"{_fmt(r['server_cpu_us_per_request'], '.0f'):>11}"
              f"{_fmt(rate / base_bare if base_bare else None, '.3f'):>8}"
              f"{_fmt(rate / base_moto if base_moto else None, '.1f'):>8}{_fmt(memory, '.1f'):>9}")
    print("  (req/s over all rounds; p50/p99: median of the rounds; 'x bare'/'x moto' from those totals)")
    for key, value in results.get("read_ratios", {}).items():
        if value:
            print(f"  {key:<26} per round {value['rounds']} -> median {value['median']}")
    assoc = results.get("associations")
    if assoc:
        print(line)
        print(f"Associations (phase 1 + phase 2, SQLite, {assoc['concurrency']} workers, {assoc['duration_s']}s): "
              f"{assoc['completed']} complete ({assoc['phone_numbers_registered']} numbers), "
              f"{assoc['failures']} failed -> {assoc['associations_per_second']}/s")
        for phase in ("phase1", "phase2", "association"):
            p = assoc[phase]
            print(f"  {phase:<12} p50 {p['p50_ms']} ms   p90 {p['p90_ms']} ms   p99 {p['p99_ms']} ms   "
                  f"max {p['max_ms']} ms")
        if "server_cpu_ms_per_association" in assoc:
            print(f"  CPU per association: server {assoc['server_cpu_ms_per_association']} ms, "
                  f"load generator {assoc['client_cpu_ms_per_association']} ms")
        if assoc["ran_out_of_wabas"]:
            print("  (all prepared WABAs were used before the deadline: raise --assoc-wabas)")
    print(line)
    print("Targets (ratios: median of the per-round ratios)")
    rows = [("wabalink / bare read throughput", summary["read_ratio_vs_bare"], ">= 0.20", "read_ratio_vs_bare"),
            ("wabalink / moto read throughput", summary["read_ratio_vs_moto"], ">= 10", "read_ratio_vs_moto"),
            ("complete associations per second", summary["associations_per_second"], ">= 100",
             "associations_per_second"),
            ("wabalink peak RSS (VmHWM), MB", summary["rss_peak_mb"], "<= 150", "rss_peak_mb")]
    for label, value, target, key in rows:
        print(f"  {label:<36}{_fmt(value, ''):>10}   target {target:<8} {summary['targets'][key]}")
    for result in results.get("cli") or []:
        label = f"wabalink / aws CLI wall time, {result['name']}"
        print(f"  {label:<36}{result['ratio']:>10}   target <= {result['target']:<5} "
              f"{summary['targets']['cli: ' + result['name']]}   (medians: wabalink "
              f"{result['median_s']['wabalink'] * 1000:.0f} ms, aws {result['median_s']['aws'] * 1000:.0f} ms, "
              f"{result['runs']} runs each)")
    if summary.get("strict_read_ratio_vs_bare") is not None:
        print(f"  --auth strict: {summary['strict_read_ratio_vs_bare']} of bare, "
              f"{summary['strict_read_ratio_vs_moto']} x moto, {summary['strict_vs_permissive']} of permissive")
    print(line)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        wrk = find_wrk()
    except WrkMissing as error:
        print(error, file=sys.stderr)
        return 2
    if "moto" not in args.skip and importlib.util.find_spec("moto") is None:
        print("bench: moto is not installed; `make bench` installs the bench extra "
              "(pip install -e '.[bench]'), or pass --skip moto", file=sys.stderr)
        return 2
    started = datetime.datetime.now(datetime.UTC)
    results: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "settings": {key: (str(value) if isinstance(value, Path) else value) for key, value in vars(args).items()},
        "targets": TARGETS,
    }
    with tempfile.TemporaryDirectory(prefix="wabalink-bench-") as tmp:
        workdir = Path(tmp)
        try:
            results.update(run(args, wrk, workdir))
            if "cli" not in args.skip:
                say(f"command line: wabalink vs aws, {args.cli_runs} interleaved runs of each command")
                results["cli"] = cli_speed.measure(args.cli_runs)
            if "media" not in args.skip:
                say("media: post and get of 1 MB and 16 MB files through a moto S3, with peak RSS")
                (workdir / "media").mkdir()
                results["media"] = media_bench.run(media_bench.parse_args([]), workdir / "media")
            if "messaging" not in args.skip:
                say("messaging: SendWhatsAppMessage with its events to a counting SNS sink; SQLite, PostgreSQL x1, x2")
                (workdir / "messaging").mkdir()
                seconds = str(args.messaging_seconds)
                results["messaging"] = messaging_bench.run(
                    messaging_bench.parse_args(["--seconds", seconds, "--lag-seconds", seconds]), workdir / "messaging")
        except Exception as error:
            print(f"\nbench FAILED: {error}", file=sys.stderr)
            for log in sorted(workdir.glob("*.log")):
                tail = log.read_text(errors="replace")[-1500:]
                if tail.strip():
                    print(f"--- {log.name} (tail) ---\n{tail}", file=sys.stderr)
            return 1
    results["summary"] = summarize(results)
    results["elapsed_s"] = round((datetime.datetime.now(datetime.UTC) - started).total_seconds(), 1)
    args.output.mkdir(parents=True, exist_ok=True)
    path = args.output / f"bench-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    dump_json(path, results)  # before printing: a report's bug must not lose the figures
    dump_json(args.output / "latest.json", results)
    print_report(results, args)
    if results.get("media"):
        media_bench.print_report(results["media"])
    if results.get("messaging"):
        messaging_bench.print_report(results["messaging"])
    assoc = results.get("associations")
    problems = []
    if assoc and (assoc["failures"] or assoc["spot_check_problems"]):
        problems.append(f"associations: {assoc['failures']} failed {assoc['failure_examples']}; "
                        f"spot check: {assoc['spot_check_problems']}")
    print(f"results: {path} (total {results['elapsed_s']}s)")
    if problems:
        print("bench FAILED: " + "; ".join(problems), file=sys.stderr)
        return 1
    if args.check and "MISSED" in results["summary"]["targets"].values():
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
