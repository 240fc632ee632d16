"""Server settings: command-line flags of `wabalink serve`, with WABALINK_* environment defaults."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass

# Allowed ranges of the numeric settings: a zero or negative value would silently disable a
# safeguard (every phase-1 token already expired, no WABA ever linkable).
ASSOCIATE_TOKEN_LIFETIME_RANGE = (1, 86_400)  # seconds: the real service gives about an hour
WABA_QUOTA_RANGE = (1, 1_000_000)
KEEP_ALIVE_TIMEOUT_RANGE = (1, 3_600)  # seconds
HEAD_TIMEOUT_RANGE = (1, 3_600)  # seconds
MAX_CONNECTIONS_RANGE = (1, 1_000_000)
EVENT_MAX_ATTEMPTS_RANGE = (0, 1_000_000)  # 0: no limit but the age
EVENT_MAX_AGE_RANGE = (1, 30 * 86_400)  # seconds
EVENT_RETRY_MAX_DELAY_RANGE = (1, 86_400)  # seconds
FLOW_PREVIEW_LIFETIME_RANGE = (1, 365 * 86_400)  # seconds: Meta's previews last 30 days


class SettingError(ValueError):
    """A setting outside its allowed values; the message names the setting and the range."""


def parse_int_in_range(text: str, name: str, allowed: tuple[int, int]) -> int:
    low, high = allowed
    try:
        value = int(text.strip())
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise SettingError(f"{name} must be an integer from {low} to {high}, not {text!r}")
    return value


def _env_int(name: str, default: int, allowed: tuple[int, int]) -> int:
    value = os.environ.get(name)
    return parse_int_in_range(value, name, allowed) if value else default


def url_host(host: str) -> str:
    """`host` as it goes in a URL: IPv6 addresses in brackets (`[::1]`)."""
    bare = host.strip("[]")
    try:
        is_ipv6 = isinstance(ipaddress.ip_address(bare.split("%", 1)[0]), ipaddress.IPv6Address)
    except ValueError:
        return host
    return f"[{bare}]" if is_ipv6 else bare


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 4599
    database_url: str | None = None  # None: an SQLite file in the state folder
    auth_mode: str = "permissive"  # permissive | strict
    credentials_file: str | None = None
    # Phase-1 answers are usable for this long (the real service: about an hour).
    associate_token_lifetime_seconds: int = 3600
    waba_quota_per_region: int = 25
    # Where the service reaches Meta's Graph API. None: the simulator inside this process.
    meta_graph_url: str | None = None
    meta_graph_version: str = "v21.0"
    # The app the service acts as on Meta's side; the simulator knows it by these values.
    meta_app_id: str = "100000000000001"
    meta_app_secret: str = "wabalink-simulator-app-secret"
    meta_timeout_seconds: float = 10.0
    # The simulator's sandbox: an operator token (required with --auth strict), or switched off.
    sandbox_token: str | None = None
    sandbox_enabled: bool = True
    # The web console at `/` (and Meta's embedded sign-up under /meta/signup).
    console_enabled: bool = True
    # Permissive mode on a non-loopback address (CI service containers, development networks).
    allow_unauthenticated: bool = False
    log_level: str = "info"
    # Connection guards (server/connections.py): idle keep-alive connections, request heads and
    # bodies that take too long, and open connections beyond the cap are closed.
    keep_alive_timeout_seconds: int = 5
    head_timeout_seconds: int = 10
    body_timeout_seconds: int = 60
    max_request_head_bytes: int = 256 * 1024
    max_connections: int = 1000
    # Where the simulator's app receives Meta's webhooks. None: this server's own receiver.
    meta_webhook_url: str | None = None
    # Media: S3 for the AWS API's buckets (None: botocore's AWS_ENDPOINT_URL_S3, or AWS), and where
    # the simulator keeps media bytes (None: a folder beside the SQLite file; or s3://bucket/prefix).
    s3_endpoint_url: str | None = None
    blob_store: str | None = None
    # Meta's review of a new or edited template: approved this many seconds later (0: at once).
    template_approval_delay_seconds: float = 0.0
    # Messages and events: SNS endpoint (None: botocore's AWS_ENDPOINT_URL_SNS, else AWS), request quotas,
    # the webhook receiver's verify token, the events' retry budget (0 attempts: limited by age only).
    sns_endpoint_url: str | None = None
    throttle: str = "off"  # off | aws
    webhook_verify_token: str | None = None
    event_max_attempts: int = 0
    event_max_age_seconds: int = 86_400
    event_retry_max_delay_seconds: int = 300
    # The URL users reach this server at (links it hands out: Flow previews and assets).
    public_url: str | None = None
    flow_preview_lifetime_seconds: int = 30 * 24 * 3600  # Meta's Flow preview links last 30 days

    @property
    def meta_app_token(self) -> str:
        # Graph API app access tokens have the form "{app-id}|{app-secret}".
        return f"{self.meta_app_id}|{self.meta_app_secret}"

    def graph_base_url(self) -> str:
        return (self.meta_graph_url or f"http://{self._loopback_host()}:{self.port}/meta/graph").rstrip("/")

    def webhook_callback_url(self) -> str:
        if self.meta_webhook_url:
            return self.meta_webhook_url
        host = self._loopback_host()
        host = f"[{host}]" if ":" in host and not host.startswith("[") else host  # an IPv6 literal
        return f"http://{host}:{self.port}/_wabalink/webhooks/meta"
    def public_base_url(self) -> str:
        return (self.public_url or f"http://{self._loopback_host()}:{self.port}").rstrip("/")

    def _loopback_host(self) -> str:
        # A wildcard address is reached on the loopback of its own family.
        if self.host in ("0.0.0.0", ""):
            return "127.0.0.1"
        if self.host in ("::", "[::]"):
            return "[::1]"
        return url_host(self.host)

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=os.environ.get("WABALINK_DATABASE_URL") or None,
            auth_mode=os.environ.get("WABALINK_AUTH", "permissive"),
            credentials_file=os.environ.get("WABALINK_CREDENTIALS") or None,
            associate_token_lifetime_seconds=_env_int(
                "WABALINK_ASSOCIATE_TOKEN_LIFETIME", 3600, ASSOCIATE_TOKEN_LIFETIME_RANGE),
            waba_quota_per_region=_env_int("WABALINK_WABA_QUOTA", 25, WABA_QUOTA_RANGE),
            meta_graph_url=os.environ.get("WABALINK_META_GRAPH_URL") or None,
            meta_app_id=os.environ.get("WABALINK_META_APP_ID", cls.meta_app_id),
            meta_app_secret=os.environ.get("WABALINK_META_APP_SECRET", cls.meta_app_secret),
            log_level=os.environ.get("WABALINK_LOG_LEVEL", "info"),
            sandbox_token=os.environ.get("WABALINK_SANDBOX_TOKEN") or None,
            sandbox_enabled=os.environ.get("WABALINK_SANDBOX", "on") != "off",
            console_enabled=os.environ.get("WABALINK_CONSOLE", "on") != "off",
            allow_unauthenticated=os.environ.get("WABALINK_ALLOW_UNAUTHENTICATED", "") in ("1", "true", "yes"),
            keep_alive_timeout_seconds=_env_int("WABALINK_KEEP_ALIVE_TIMEOUT", 5, KEEP_ALIVE_TIMEOUT_RANGE),
            head_timeout_seconds=_env_int("WABALINK_HEADER_TIMEOUT", 10, HEAD_TIMEOUT_RANGE),
            max_connections=_env_int("WABALINK_MAX_CONNECTIONS", 1000, MAX_CONNECTIONS_RANGE),
            meta_webhook_url=os.environ.get("WABALINK_META_WEBHOOK_URL") or None,
            s3_endpoint_url=os.environ.get("AWS_ENDPOINT_URL_S3") or None,
            blob_store=os.environ.get("WABALINK_BLOB_STORE") or None,
            template_approval_delay_seconds=float(os.environ.get("WABALINK_TEMPLATE_APPROVAL_DELAY") or 0),
            sns_endpoint_url=os.environ.get("WABALINK_SNS_ENDPOINT_URL") or None,
            throttle=os.environ.get("WABALINK_THROTTLE", "off"),
            webhook_verify_token=os.environ.get("WABALINK_WEBHOOK_VERIFY_TOKEN") or None,
            event_max_attempts=_env_int("WABALINK_EVENT_MAX_ATTEMPTS", 0, EVENT_MAX_ATTEMPTS_RANGE),
            event_max_age_seconds=_env_int("WABALINK_EVENT_MAX_AGE", 86_400, EVENT_MAX_AGE_RANGE),
            event_retry_max_delay_seconds=_env_int("WABALINK_EVENT_RETRY_MAX_DELAY", 300,
                                                   EVENT_RETRY_MAX_DELAY_RANGE),
            public_url=os.environ.get("WABALINK_PUBLIC_URL") or None,
            flow_preview_lifetime_seconds=_env_int("WABALINK_FLOW_PREVIEW_LIFETIME", 30 * 86_400,
                                                   FLOW_PREVIEW_LIFETIME_RANGE),
        )
