"""`wabalink serve`: the API, the Meta simulator and its sandbox on one port."""

from __future__ import annotations

import argparse
import atexit
import ctypes
import ctypes.util
import errno
import gc
import ipaddress
import json
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable

from wabalink.config import (
    ASSOCIATE_TOKEN_LIFETIME_RANGE,
    EVENT_MAX_AGE_RANGE,
    EVENT_MAX_ATTEMPTS_RANGE,
    EVENT_RETRY_MAX_DELAY_RANGE,
    FLOW_PREVIEW_LIFETIME_RANGE,
    HEAD_TIMEOUT_RANGE,
    KEEP_ALIVE_TIMEOUT_RANGE,
    MAX_CONNECTIONS_RANGE,
    WABA_QUOTA_RANGE,
    SettingError,
    Settings,
    parse_int_in_range,
)

# LogRecord attributes that are not ours: everything else passed in `extra` is a structured field.
_STANDARD_RECORD_FIELDS = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message", "asctime", "color_message"}  # uvicorn adds an ANSI-colored copy of its message


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line. Callers log ids, names and outcomes, never request values, so no
    secret (access token, in-progress token, PIN) can reach a log line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)),
                 "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        entry.update({key: value for key, value in record.__dict__.items() if key not in _STANDARD_RECORD_FIELDS})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# The server's threads mostly wait on short database round trips, and after each one must win the
# interpreter back. At CPython's default (5 ms) a thread back from PostgreSQL waits up to 5 ms behind a
# busy one, per statement; at 0.5 ms the messaging benchmark on PostgreSQL sent about 15% more.
GIL_SWITCH_INTERVAL_SECONDS = 0.0005


# glibc gives each thread that allocates its own malloc arena (up to 8 per core), and the server's
# threads (dozens: service, simulator, hand-over) each keep freed memory in theirs: two arenas took
# 20 MB off the peak RSS of the messaging benchmark and cost nothing measurable.
MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h


def limit_malloc_arenas() -> None:
    """What MALLOC_ARENA_MAX does, set before the server starts its threads (an arena limit set
    in the environment wins). Not glibc (macOS, musl): nothing to do."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_ARENA_MAX, MALLOC_ARENAS)


def tune_garbage_collector() -> None:
    """Requests allocate many short-lived objects but few cycles: with CPython's default
    thresholds the cyclic collector runs every few requests and dominates the latency tail. Move
    start-up objects out of its sight and let it run less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def _int_in(allowed: tuple[int, int]) -> Callable[[str], int]:
    """An argparse type: argparse's error then names the option and the allowed range."""
    def parse(text: str) -> int:
        try:
            return parse_int_in_range(text, "value", allowed)
        except SettingError as error:
            raise argparse.ArgumentTypeError(str(error).replace("value must be", "must be", 1)) from None
    return parse


def ephemeral_database_url() -> str:
    """A temporary SQLite database (in its own folder, with anything kept beside it), removed when
    the process exits. uvicorn shuts down on SIGTERM, then raises it again; by default that would
    end the process before atexit runs, so SIGTERM becomes a SystemExit here."""
    folder = tempfile.mkdtemp(prefix="wabalink-ephemeral-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    return f"sqlite:///{os.path.join(folder, 'wabalink.db')}"


def build_parser(defaults: Settings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wabalink serve", description=__doc__)
    parser.add_argument("--host", default=defaults.host,
                        help="address to listen on; a non-loopback one needs --auth strict (default: %(default)s)")
    parser.add_argument("--port", type=int, default=defaults.port, help="TCP port to listen on (default: %(default)s)")
    parser.add_argument("--database", default=defaults.database_url, metavar="URL",
                        help="sqlite:///path.db or postgresql://user@host:5432/db (default: $WABALINK_DATABASE_URL, "
                             "else sqlite:///$WABALINK_STATE_DIR/wabalink.db, the folder .wabalink)")
    parser.add_argument("--auth", choices=["permissive", "strict"], default=defaults.auth_mode,
                        help="permissive: any SigV4 access key is accepted (a 12-digit key is its account); "
                             "strict: only the --credentials keys, signatures verified (default: %(default)s)")
    parser.add_argument("--credentials", default=defaults.credentials_file, metavar="FILE",
                        help="strict mode: the file of access keys, their secrets and accounts (default: "
                             "$WABALINK_CREDENTIALS, else none)")
    parser.add_argument("--associate-token-lifetime", type=_int_in(ASSOCIATE_TOKEN_LIFETIME_RANGE),
                        default=defaults.associate_token_lifetime_seconds, metavar="SECONDS",
                        help="how long a phase-1 associateInProgressToken stays usable, 1 to 86400 "
                             "(default: %(default)s)")
    parser.add_argument("--waba-quota", type=_int_in(WABA_QUOTA_RANGE), default=defaults.waba_quota_per_region,
                        metavar="N", help="linked WABAs allowed per account and region, at least 1 "
                                          "(default: %(default)s)")
    parser.add_argument("--keep-alive-timeout", type=_int_in(KEEP_ALIVE_TIMEOUT_RANGE),
                        default=defaults.keep_alive_timeout_seconds, metavar="SECONDS",
                        help="close a keep-alive connection idle this long (default: %(default)s)")
    parser.add_argument("--header-timeout", type=_int_in(HEAD_TIMEOUT_RANGE), default=defaults.head_timeout_seconds,
                        metavar="SECONDS",
                        help="a request's headers must arrive within this time (default: %(default)s)")
    parser.add_argument("--max-connections", type=_int_in(MAX_CONNECTIONS_RANGE), default=defaults.max_connections,
                        metavar="N",
                        help="open connections served at once; more are answered 503 (default: %(default)s)")
    parser.add_argument("--meta-graph-url", default=defaults.meta_graph_url, metavar="URL",
                        help="Meta's Graph API base URL (default: the built-in simulator)")
    parser.add_argument("--sandbox-token", default=defaults.sandbox_token, metavar="TOKEN",
                        help="operator token the simulator's sandbox requires (Authorization: Bearer TOKEN); "
                             "needed with --auth strict (default: $WABALINK_SANDBOX_TOKEN, else none)")
    parser.add_argument("--no-sandbox", action="store_true", default=not defaults.sandbox_enabled,
                        help="switch the simulator's sandbox off: its routes answer 404 "
                             "(default: on, unless WABALINK_SANDBOX=off)")
    parser.add_argument("--console", action=argparse.BooleanOptionalAction, default=defaults.console_enabled,
                        help="serve the web console at / (default: on, unless WABALINK_CONSOLE=off)")
    parser.add_argument("--meta-webhook-url", default=defaults.meta_webhook_url, metavar="URL",
                        help="where the simulator sends its app's webhooks (default: this server's receiver)")
    parser.add_argument("--s3-endpoint-url", default=defaults.s3_endpoint_url, metavar="URL",
                        help="S3 endpoint for media buckets (default: AWS_ENDPOINT_URL_S3, else AWS)")
    parser.add_argument("--blob-store", default=defaults.blob_store, metavar="FOLDER|s3://BUCKET/PREFIX",
                        help="where the simulator keeps media bytes (default: blobs/ beside the SQLite file)")
    parser.add_argument("--template-approval-delay", type=float, default=defaults.template_approval_delay_seconds,
                        metavar="SECONDS", help="the simulator approves new and edited templates this long after "
                                                "(default: %(default)s; 0: at once)")
    parser.add_argument("--meta-app-secret", default=None, metavar="SECRET",
                        help="external Graph API: the app secret its webhooks are signed with "
                             "(default: $WABALINK_META_APP_SECRET, which is better: a command line is visible "
                             "to other users)")
    parser.add_argument("--sns-endpoint-url", default=defaults.sns_endpoint_url, metavar="URL",
                        help="where events are published (default: AWS_ENDPOINT_URL_SNS, else Amazon SNS)")
    parser.add_argument("--throttle", choices=["off", "aws"], default=defaults.throttle,
                        help="aws: apply AWS's per-account request quotas (ThrottledRequestException) "
                             "(default: %(default)s)")
    parser.add_argument("--event-max-attempts", type=_int_in(EVENT_MAX_ATTEMPTS_RANGE),
                        default=defaults.event_max_attempts, metavar="N",
                        help="an event is dead after N failed deliveries, 0: no limit but --event-max-age "
                             "(default: %(default)s)")
    parser.add_argument("--event-max-age", type=_int_in(EVENT_MAX_AGE_RANGE), default=defaults.event_max_age_seconds,
                        metavar="SECONDS",
                        help="an event still undelivered this long after it happened is dead (default: %(default)s)")
    parser.add_argument("--event-retry-max-delay", type=_int_in(EVENT_RETRY_MAX_DELAY_RANGE),
                        default=defaults.event_retry_max_delay_seconds, metavar="SECONDS",
                        help="longest pause between two delivery attempts of an event (default: %(default)s)")
    parser.add_argument("--public-url", default=defaults.public_url, metavar="URL",
                        help="the URL users reach this server at, for the links it hands out "
                             "(default: this server's loopback URL)")
    parser.add_argument("--flow-preview-lifetime", type=_int_in(FLOW_PREVIEW_LIFETIME_RANGE),
                        default=defaults.flow_preview_lifetime_seconds, metavar="SECONDS",
                        help="how long a Flow preview link stays valid, as Meta's (default: %(default)s)")
    parser.add_argument("--ephemeral", action="store_true",
                        help="a temporary SQLite database, removed when the server stops, not with --database "
                             "(default: off)")
    parser.add_argument("--allow-unauthenticated", action="store_true", default=defaults.allow_unauthenticated,
                        help="allow --auth permissive on a non-loopback address (CI service containers, "
                             "development networks): anyone who can reach the port can use it; "
                             "also WABALINK_ALLOW_UNAUTHENTICATED=1 (default: off)")
    parser.add_argument("--log-level", default=defaults.log_level, choices=["debug", "info", "warning", "error"],
                        help="least severe JSON log lines written to stderr (default: %(default)s)")
    return parser


def main(argv: list[str]) -> int:
    try:
        settings = Settings.from_env()
    except SettingError as error:  # a WABALINK_* variable out of range
        print(f"wabalink serve: {error}", file=sys.stderr)
        return 2
    args = build_parser(settings).parse_args(argv)
    database_given = args.database != settings.database_url
    settings.host, settings.port = args.host, args.port
    settings.database_url, settings.auth_mode, settings.credentials_file = args.database, args.auth, args.credentials
    settings.associate_token_lifetime_seconds = args.associate_token_lifetime
    settings.waba_quota_per_region = args.waba_quota
    settings.meta_graph_url = args.meta_graph_url
    settings.log_level = args.log_level
    settings.keep_alive_timeout_seconds, settings.head_timeout_seconds = args.keep_alive_timeout, args.header_timeout
    settings.max_connections = args.max_connections
    settings.sandbox_token, settings.sandbox_enabled = args.sandbox_token, not args.no_sandbox
    settings.console_enabled = args.console
    settings.meta_webhook_url = args.meta_webhook_url
    settings.s3_endpoint_url, settings.blob_store = args.s3_endpoint_url, args.blob_store
    settings.template_approval_delay_seconds = max(0.0, args.template_approval_delay)
    if args.meta_app_secret:
        settings.meta_app_secret = args.meta_app_secret
    settings.sns_endpoint_url, settings.throttle = args.sns_endpoint_url, args.throttle
    settings.event_max_attempts, settings.event_max_age_seconds = args.event_max_attempts, args.event_max_age
    settings.event_retry_max_delay_seconds = args.event_retry_max_delay
    settings.public_url, settings.flow_preview_lifetime_seconds = args.public_url, args.flow_preview_lifetime
    settings.allow_unauthenticated = args.allow_unauthenticated
    unauthenticated_network = not is_loopback(settings.host) and settings.auth_mode != "strict"
    if unauthenticated_network and not settings.allow_unauthenticated:
        print("wabalink serve: listening on a non-loopback address requires --auth strict "
              "(or --allow-unauthenticated, for CI service containers and development networks)", file=sys.stderr)
        return 2
    if args.ephemeral and database_given:
        print("wabalink serve: --ephemeral makes its own database: do not give --database", file=sys.stderr)
        return 2
    if settings.auth_mode == "strict" and not settings.credentials_file:
        print("wabalink serve: --auth strict needs --credentials FILE", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    if unauthenticated_network:
        logging.getLogger("wabalink.server").warning(
            "serving without authentication on a non-loopback address (--allow-unauthenticated): anyone "
            "who can reach it can use the API and the sandbox", extra={"host": settings.host})
    if args.ephemeral:
        settings.database_url = ephemeral_database_url()

    limit_malloc_arenas()  # before any thread starts
    import uvicorn
    from sqlalchemy.exc import SQLAlchemyError

    from wabalink.server.app import WabalinkApp
    from wabalink.server.connections import connection_cap, guarded_protocol, raise_descriptor_limit
    from wabalink.store.db import unreachable_database_message

    try:
        # Bound before anything else starts: a port in use is then one message, not a half-started server.
        listener = bind_listener(settings.host, settings.port)
    except OSError as error:
        print(f"wabalink serve: {listen_failure_message(settings.host, settings.port, error)}", file=sys.stderr)
        return 1
    try:
        app = WabalinkApp(settings, publish_in_child=True)  # its CPU off the server's interpreter
    except ValueError as error:  # a bad --database or --credentials value
        listener.close()
        print(f"wabalink serve: {error}", file=sys.stderr)
        return 2
    except SQLAlchemyError as error:  # the database cannot be reached or opened
        listener.close()
        print(f"wabalink serve: {unreachable_database_message(settings.database_url or '', error)}", file=sys.stderr)
        return 1
    logging.getLogger("wabalink.server").info("listening", extra={
        "host": settings.host, "port": listener.getsockname()[1], "auth": settings.auth_mode,
        "store": "sqlite" if app.store.is_sqlite else "postgresql"})
    max_connections = connection_cap(settings.max_connections, raise_descriptor_limit())
    protocol = guarded_protocol(head_timeout=settings.head_timeout_seconds, body_timeout=settings.body_timeout_seconds,
                                max_head_bytes=settings.max_request_head_bytes, max_connections=max_connections)
    tune_garbage_collector()
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_SECONDS)
    # uvicorn's limit_concurrency is not used: it counts connections only once their headers are
    # complete, while the guarded protocol refuses a connection over the cap as it opens.
    config = uvicorn.Config(app, host=settings.host.strip("[]"), port=settings.port, loop="uvloop", http=protocol,
                            lifespan="on", access_log=False, log_config=None, log_level=settings.log_level,
                            timeout_keep_alive=settings.keep_alive_timeout_seconds,
                            proxy_headers=False)  # the app never reads the client address: skip that middleware
    uvicorn.Server(config).run(sockets=[listener])
    return 0


def bind_listener(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port; raises OSError (EADDRINUSE when the port is taken)."""
    address = host.strip("[]")
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart over TIME_WAIT connections
        listener.bind((address, port))
        listener.listen(2048)
    except OSError:
        listener.close()
        raise
    return listener


def listen_failure_message(host: str, port: int, error: OSError) -> str:
    if error.errno == errno.EADDRINUSE:
        return (f"{host}:{port} is already in use; choose another port with --port N "
                f'(make run ARGS="--port N")')
    return f"cannot listen on {host}:{port} ({error.strerror or error})"
