"""Who is using the console: a signed session cookie, its CSRF token, and the cross-site checks.

Every visitor gets a session (a first GET sets it): in `--auth permissive` it carries the account
and region chosen on the page; in `--auth strict` it is anonymous until a login with an access key
id and secret of the credentials file binds it to that key's account. The cookie is
`payload.signature` (HMAC-SHA256 with a secret kept in the database, so replicas and restarts agree),
HttpOnly and SameSite=Strict: a cross-site form post arrives without it. Each form also carries the
session's CSRF token (derived from the session's random nonce), and POSTs whose Origin, Referer or
Sec-Fetch-Site say another site are refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import threading
import time
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from wabalink.aws.auth import DEFAULT_ACCOUNT_ID, Credentials, service_regions
from wabalink.secret_compare import same_secret
from wabalink.server.http import HttpRequest

COOKIE_NAME = "wabalink_console"
SESSION_LIFETIME_SECONDS = 12 * 3600
DEFAULT_REGION = "us-east-1"
ACCOUNT_ID = re.compile(r"[0-9]{12}")
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class Session:
    account_id: str
    region: str
    nonce: str
    expires_at: float
    access_key_id: str | None = None  # strict mode: the key the user logged in with

    def with_changes(self, **changes: object) -> Session:
        return replace(self, **changes)  # type: ignore[arg-type]


class CrossSiteRequest(Exception):
    """A state-changing request that may come from another site: answered 403."""


# Sign-in guessing: after this many wrong secrets for one access key id within the window, that key
# is refused without looking at the secret until the window since its first failure has passed.
MAX_FAILED_LOGINS = 5
FAILED_LOGIN_WINDOW_SECONDS = 300


class TooManyFailedLogins(Exception):
    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"too many failed sign-ins; retry in {retry_after_seconds} s")
        self.retry_after_seconds = retry_after_seconds


class Sessions:
    def __init__(self, secret: bytes, *, strict: bool, credentials: Credentials, secure_cookie: bool = False) -> None:
        self._key = secret
        self.strict = strict
        self.credentials = credentials
        self.secure_cookie = secure_cookie
        # access key id -> (first failure time, failures); per server process, bounded below.
        self._failed_logins: dict[str, tuple[float, int]] = {}
        self._failed_lock = threading.Lock()

    # --- the cookie --------------------------------------------------------------------------

    def new(self, *, account_id: str = DEFAULT_ACCOUNT_ID, region: str = DEFAULT_REGION,
            access_key_id: str | None = None) -> Session:
        return Session(account_id, region, os.urandom(16).hex(), time.time() + SESSION_LIFETIME_SECONDS,
                       access_key_id)

    def read(self, request: HttpRequest) -> Session | None:
        """The request's session when its cookie is present, signed by us and not expired."""
        value = _cookie(request.headers.get("cookie", ""), COOKIE_NAME)
        if not value or "." not in value:
            return None
        payload, _, signature = value.rpartition(".")
        if not same_secret(signature, self._sign(payload)):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            session = Session(str(data["a"]), str(data["r"]), str(data["n"]), float(data["e"]), data.get("k"))
        except (ValueError, KeyError, TypeError):
            return None
        if session.expires_at <= time.time():
            return None
        if self.strict and session.access_key_id is not None:
            known = self.credentials.get(session.access_key_id)
            if known is None or known[1] != session.account_id:
                return None  # the key is gone from the credentials file, or maps elsewhere now
        return session

    def cookie_header(self, session: Session) -> tuple[bytes, bytes]:
        payload = base64.urlsafe_b64encode(json.dumps(
            {"a": session.account_id, "r": session.region, "n": session.nonce, "e": session.expires_at,
             "k": session.access_key_id}, separators=(",", ":")).encode()).decode().rstrip("=")
        attributes = f"Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_LIFETIME_SECONDS}"
        if self.secure_cookie:
            attributes += "; Secure"
        return b"set-cookie", f"{COOKIE_NAME}={payload}.{self._sign(payload)}; {attributes}".encode()

    @staticmethod
    def clear_cookie_header() -> tuple[bytes, bytes]:
        return b"set-cookie", f"{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0".encode()

    def _sign(self, payload: str) -> str:
        return hmac.new(self._key, b"session:" + payload.encode(), hashlib.sha256).hexdigest()

    def seal(self, session: Session, data: object) -> str:
        """`data` as text for a hidden form field, signed for this session (its nonce)."""
        payload = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()
        return payload + "." + hmac.new(self._key, f"seal:{session.nonce}:{payload}".encode(),
                                        hashlib.sha256).hexdigest()

    def unseal(self, session: Session, text: str) -> object | None:
        payload, _, signature = text.rpartition(".")
        expected = hmac.new(self._key, f"seal:{session.nonce}:{payload}".encode(), hashlib.sha256).hexdigest()
        if not payload or not same_secret(signature, expected):
            return None
        try:
            return json.loads(base64.urlsafe_b64decode(payload))
        except ValueError:
            return None

    # --- who may act -------------------------------------------------------------------------

    def is_signed_in(self, session: Session | None) -> bool:
        return session is not None and (not self.strict or session.access_key_id is not None)

    def csrf_token(self, session: Session) -> str:
        return hmac.new(self._key, b"csrf:" + session.nonce.encode(), hashlib.sha256).hexdigest()[:40]

    def check_post(self, request: HttpRequest, session: Session | None, form: dict[str, str]) -> Session:
        """The session of a state-changing request, or CrossSiteRequest."""
        check_same_origin(request)
        if session is None:
            raise CrossSiteRequest("no console session: open the console page first, then submit its form")
        if not same_secret(form.get(CSRF_FIELD, ""), self.csrf_token(session)):
            raise CrossSiteRequest("the form's CSRF token is missing or stale: reload the page and try again")
        return session

    def login(self, session: Session, access_key_id: str, secret: str) -> Session | None:
        """A session bound to the key's account when the secret is the credentials file's.
        TooManyFailedLogins while the key is locked out by repeated wrong secrets."""
        self._check_lockout(access_key_id)
        known = self.credentials.get(access_key_id)
        # Compare against something even for unknown keys, so timing does not tell which keys exist.
        expected = known[0] if known is not None else os.urandom(16).hex()
        if not same_secret(secret.encode(), expected.encode()) or known is None:
            self._record_failure(access_key_id)
            return None
        with self._failed_lock:
            self._failed_logins.pop(access_key_id[:128], None)
        # A new nonce: a token seen before login is worthless after it (no session fixation).
        return self.new(account_id=known[1], region=session.region, access_key_id=access_key_id)

    def _check_lockout(self, access_key_id: str) -> None:
        now = time.time()
        with self._failed_lock:
            first, failures = self._failed_logins.get(access_key_id[:128], (now, 0))
            if now - first >= FAILED_LOGIN_WINDOW_SECONDS:
                self._failed_logins.pop(access_key_id[:128], None)
            elif failures >= MAX_FAILED_LOGINS:
                raise TooManyFailedLogins(int(first + FAILED_LOGIN_WINDOW_SECONDS - now) + 1)

    def _record_failure(self, access_key_id: str) -> None:
        now = time.time()
        key = access_key_id[:128]
        with self._failed_lock:
            if len(self._failed_logins) > 10_000:  # many made-up keys: forget the oldest windows
                for stale in sorted(self._failed_logins, key=lambda k: self._failed_logins[k][0])[:5_000]:
                    del self._failed_logins[stale]
            first, failures = self._failed_logins.get(key, (now, 0))
            self._failed_logins[key] = (first, failures + 1)

    def choose(self, session: Session, account_id: str | None, region: str | None) -> Session:
        """Permissive mode's account and region chooser (strict mode: the region only)."""
        if account_id is not None and not self.strict:
            if not ACCOUNT_ID.fullmatch(account_id):
                raise ValueError("account: an AWS account id is 12 digits")
            session = session.with_changes(account_id=account_id)
        if region is not None:
            if region not in service_regions():
                raise ValueError(f"region: {region[:40]!r} is not a region of the service")
            session = session.with_changes(region=region)
        return session


def check_same_origin(request: HttpRequest) -> None:
    """Browsers say where a form post comes from; a different site is refused."""
    headers = request.headers
    if headers.get("sec-fetch-site") == "cross-site":
        raise CrossSiteRequest("cross-site requests are refused")
    host = headers.get("host", "")
    for name in ("origin", "referer"):
        value = headers.get(name)
        if not value:
            continue
        if value == "null" or urlsplit(value).netloc != host:
            raise CrossSiteRequest(f"the request's {name.title()} is another site")
        return


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


__all__ = ["Session", "Sessions", "CrossSiteRequest", "check_same_origin", "CSRF_FIELD", "DEFAULT_REGION"]
