"""Media throughput and memory: PostWhatsAppMessageMedia (S3 -> the simulator) and
GetWhatsAppMessageMedia (the simulator -> S3) for a 1 MB and a 16 MB file, through boto3 against
`wabalink serve`, with moto's server as S3. Reports calls/s, MB/s and the server's peak RSS (VmHWM:
the service and the simulator are the same process) after each size: media is streamed in chunks,
so the peak must not grow with the file size.

    .venv/bin/python bench/media.py                 # about 30 s
    .venv/bin/python bench/media.py --seconds 3     # each measured phase's length
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from servers import dump_json, memory_report, moto_server, proc_status_kb, sandbox, wabalink_server  # noqa: E402

REGION = "us-east-1"
ACCOUNT = "123456789012"
SIZES_MB = (1, 16)
S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": REGION}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/media.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0,
                        help="length of each measured phase (post and get, per size; default 4)")
    parser.add_argument("--max-calls", type=int, default=200, help="calls per phase at most (default 200)")
    parser.add_argument("--output", type=Path, default=BENCH_DIR / "results", help="folder of the JSON result")
    return parser.parse_args(argv)


def clients(wabalink_endpoint: str, s3_endpoint: str) -> tuple[Any, Any]:
    import boto3
    from botocore.config import Config

    social = boto3.client("socialmessaging", endpoint_url=wabalink_endpoint, region_name=REGION,
                          aws_access_key_id=ACCOUNT, aws_secret_access_key="bench",
                          config=Config(retries={"total_max_attempts": 1}, read_timeout=120))
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name=REGION, aws_access_key_id="bench",
                      aws_secret_access_key="bench")
    return social, s3


def link_phone(endpoint: str, social: Any) -> str:
    """A sandbox WABA linked through both phases; its phone number's linked id."""
    meta = sandbox(endpoint, "POST", "/wabas", {"name": "Bench Media", "phoneNumbers": 1})
    first = social.associate_whatsapp_business_account(signupCallback={"accessToken": meta["accessToken"]})
    result = first["signupCallbackResult"]
    entry = result["linkedAccountsWithIncompleteSetup"][meta["wabaId"]]
    social.associate_whatsapp_business_account(setupFinalization={
        "associateInProgressToken": result["associateInProgressToken"],
        "phoneNumbers": [{"id": n["phoneNumberId"], "twoFactorPin": "123456"}
                         for n in entry["unregisteredWhatsAppPhoneNumbers"]],
        "waba": {"id": entry["wabaId"]}})
    return entry["unregisteredWhatsAppPhoneNumbers"][0]["phoneNumberId"]


def timed(seconds: float, max_calls: int, call: Any) -> tuple[int, float, list[Any]]:
    """Runs `call` one after the other for `seconds` (at least twice): (calls, elapsed, results)."""
    results = []
    started = time.perf_counter()
    while len(results) < 2 or (time.perf_counter() - started < seconds and len(results) < max_calls):
        results.append(call())
    return len(results), time.perf_counter() - started, results


def measure_size(social: Any, s3: Any, phone: str, size_mb: int, args: argparse.Namespace, pid: int) -> dict[str, Any]:
    size = size_mb * 1024 * 1024
    key = f"video-{size_mb}mb.mp4"
    s3.put_object(Bucket="bench-source", Key=key, Body=io.BytesIO(os.urandom(size)), ContentType="video/mp4")
    post_calls, post_elapsed, media_ids = timed(args.seconds, args.max_calls, lambda: social.post_whatsapp_message_media(
        originationPhoneNumberId=phone, sourceS3File={"bucketName": "bench-source", "key": key})["mediaId"])
    hwm_after_post = proc_status_kb(pid, "VmHWM")
    get_calls, get_elapsed, answers = timed(args.seconds, args.max_calls, lambda: social.get_whatsapp_message_media(
        mediaId=media_ids[0], originationPhoneNumberId=phone,
        destinationS3File={"bucketName": "bench-target", "key": f"{size_mb}mb/"}))
    assert all(answer["fileSize"] == size for answer in answers)
    hwm_after_get = proc_status_kb(pid, "VmHWM")
    return {
        "file_mb": size_mb,
        "post": {"calls": post_calls, "calls_per_s": round(post_calls / post_elapsed, 2),
                 "mb_per_s": round(post_calls * size_mb / post_elapsed, 1)},
        "get": {"calls": get_calls, "calls_per_s": round(get_calls / get_elapsed, 2),
                "mb_per_s": round(get_calls * size_mb / get_elapsed, 1)},
        "vm_hwm_mb_after_post": round((hwm_after_post or 0) / 1024, 1),
        "vm_hwm_mb_after_get": round((hwm_after_get or 0) / 1024, 1),
    }


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    os.environ.update(S3_CREDENTIALS)  # the servers inherit them: moto accepts any key
    with moto_server(workdir) as moto:
        server = wabalink_server(workdir, "media", ["--s3-endpoint-url", moto.endpoint,
                                                    "--blob-store", str(workdir / "blobs")])
        with server:
            social, s3 = clients(server.endpoint, moto.endpoint)
            for bucket in ("bench-source", "bench-target"):
                s3.create_bucket(Bucket=bucket)
            phone = link_phone(server.endpoint, social)
            s3.put_object(Bucket="bench-source", Key="warm.jpg", Body=b"\xff\xd8\xff" + b"\x00" * 1000,
                          ContentType="image/jpeg")
            warm = social.post_whatsapp_message_media(originationPhoneNumberId=phone, sourceS3File={
                "bucketName": "bench-source", "key": "warm.jpg"})["mediaId"]
            social.get_whatsapp_message_media(mediaId=warm, originationPhoneNumberId=phone, destinationS3File={
                "bucketName": "bench-target", "key": "warm/"})
            baseline = memory_report(server.pid)
            sizes = [measure_size(social, s3, phone, size_mb, args, server.pid) for size_mb in SIZES_MB]
    growth = sizes[-1]["vm_hwm_mb_after_get"] - sizes[0]["vm_hwm_mb_after_get"]
    return {"baseline_after_warmup": baseline, "sizes": sizes,
            "vm_hwm_growth_mb_from_1mb_to_16mb": round(growth, 1),
            "memory_flat": growth < 8, "seconds_per_phase": args.seconds}


def print_report(results: dict[str, Any]) -> None:
    print(f"media (wabalink serve + moto S3; VmHWM after warm-up: {results['baseline_after_warmup']['vm_hwm_mb']} MB)")
    print(f"{'file':>6} {'post calls/s':>13} {'post MB/s':>10} {'get calls/s':>12} {'get MB/s':>9} {'VmHWM MB':>9}")
    for row in results["sizes"]:
        print(f"{row['file_mb']:>4}MB {row['post']['calls_per_s']:>13} {row['post']['mb_per_s']:>10} "
              f"{row['get']['calls_per_s']:>12} {row['get']['mb_per_s']:>9} {row['vm_hwm_mb_after_get']:>9}")
    verdict = "flat" if results["memory_flat"] else "GROWS"
    print(f"peak RSS growth from 1 MB to 16 MB files: {results['vm_hwm_growth_mb_from_1mb_to_16mb']} MB ({verdict})")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="wabalink-bench-media-") as folder:
        results = run(args, Path(folder))
    print_report(results)
    args.output.mkdir(parents=True, exist_ok=True)
    dump_json(args.output / f"media-{time.strftime('%Y%m%dT%H%M%S')}.json", results)
    return 0 if results["memory_flat"] else 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
