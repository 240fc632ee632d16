"""Server settings: command-line flags of `wabalink serve`, with WABALINK_* environment defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


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
    log_level: str = "info"
    # Messages and events: SNS endpoint (None: botocore's AWS_ENDPOINT_URL_SNS, else AWS), request quotas,
    # the webhook receiver's verify token, the events' retry budget (0 attempts: limited by age only).
    sns_endpoint_url: str | None = None
    throttle: str = "off"  # off | aws
    webhook_verify_token: str | None = None
    event_max_attempts: int = 0
    event_max_age_seconds: int = 86_400
    event_retry_max_delay_seconds: int = 300

    @property
    def meta_app_token(self) -> str:
        # Graph API app access tokens have the form "{app-id}|{app-secret}".
        return f"{self.meta_app_id}|{self.meta_app_secret}"

    def graph_base_url(self) -> str:
        return (self.meta_graph_url or f"http://{self._loopback_host()}:{self.port}/meta/graph").rstrip("/")

    def _loopback_host(self) -> str:
        return "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            database_url=os.environ.get("WABALINK_DATABASE_URL") or None,
            auth_mode=os.environ.get("WABALINK_AUTH", "permissive"),
            credentials_file=os.environ.get("WABALINK_CREDENTIALS") or None,
            associate_token_lifetime_seconds=_env_int("WABALINK_ASSOCIATE_TOKEN_LIFETIME", 3600),
            waba_quota_per_region=_env_int("WABALINK_WABA_QUOTA", 25),
            meta_graph_url=os.environ.get("WABALINK_META_GRAPH_URL") or None,
            meta_app_id=os.environ.get("WABALINK_META_APP_ID", cls.meta_app_id),
            meta_app_secret=os.environ.get("WABALINK_META_APP_SECRET", cls.meta_app_secret),
            log_level=os.environ.get("WABALINK_LOG_LEVEL", "info"),
            sandbox_token=os.environ.get("WABALINK_SANDBOX_TOKEN") or None,
            sns_endpoint_url=os.environ.get("WABALINK_SNS_ENDPOINT_URL") or None,
            throttle=os.environ.get("WABALINK_THROTTLE", "off"),
            webhook_verify_token=os.environ.get("WABALINK_WEBHOOK_VERIFY_TOKEN") or None,
            event_max_attempts=_env_int("WABALINK_EVENT_MAX_ATTEMPTS", 0),
            event_max_age_seconds=_env_int("WABALINK_EVENT_MAX_AGE", 86_400),
            event_retry_max_delay_seconds=_env_int("WABALINK_EVENT_RETRY_MAX_DELAY", 300),
        )
