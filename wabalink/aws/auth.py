"""SigV4 authentication: who is calling (access key -> account) and from which region.

Over 400 lines because SigV4 has two carriers (headers and presigned query), two modes and the AWS error of each failure, which read best together.

Two modes:

* ``permissive`` (default, for local development): the SigV4 ``Authorization`` header (or the
  presigned ``X-Amz-Credential`` query parameter) is parsed but the signature is not verified.
  Region = the credential scope's region. Account = the account the credentials file gives the
  key, else the access key id itself when it is 12 digits, else ``000000000000``. A request with
  no authentication at all is accepted as account ``000000000000`` in the default region
  (``us-east-1``), so unsigned clients (``--no-sign-request``) work. A malformed SigV4 header is
  still rejected (``IncompleteSignatureException``): no real client sends one.
* ``strict`` (shared instances): the key must be in the credentials file, and the signature,
  its scope (service ``social-messaging``, a region where the service exists, the ``aws4_request``
  terminator, the date) and its date (at most 15 minutes of skew) are verified exactly as
  botocore signs. Failures are 403s with the error types real AWS endpoints use:
  ``MissingAuthenticationTokenException``, ``IncompleteSignatureException``,
  ``InvalidSignatureException`` and ``UnrecognizedClientException``.

Credentials file (``load_credentials_file``), either JSON::

    {
      "AKIAEXAMPLEKEY000001": {"secret": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "account": "123456789012"},
      "AKIAEXAMPLEKEY000002": {"secret": "...", "account": "210987654321"}
    }

or CSV (a ``.csv`` file, or any file not starting with ``{``), one key per line, an optional
header line, ``#`` comments allowed::

    access_key_id,secret_access_key,account_id
    AKIAEXAMPLEKEY000001,wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY,123456789012

The account id must be 12 digits.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import quote, unquote_to_bytes

from botocore.loaders import Loader

from wabalink.aws.errors import (
    AwsError,
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
DEFAULT_ACCOUNT_ID = "000000000000"
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"

_ACCOUNT_ID = re.compile(r"[0-9]{12}\Z")
MAX_PRESIGNED_EXPIRES_SECONDS = 604800  # a week, as SigV4 allows
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}\Z")
_PRESIGN_PARAMS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders")

SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)

Credentials = dict[str, tuple[str, str]]  # access key id -> (secret access key, account id)


@dataclass(frozen=True)
class Principal:
    access_key_id: str
    account_id: str
    region: str


@dataclass(frozen=True)
class _Signed:
    """What a SigV4 request claims: from the Authorization header or presigned query."""

    access_key_id: str
    scope_date: str
    region: str
    service: str
    terminator: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str  # yyyymmddThhmmssZ as signed
    presigned_expires: int | None  # X-Amz-Expires for presigned requests, else None


def _missing_token() -> AwsError:
    return MissingAuthenticationTokenException("Missing Authentication Token")


def _incomplete(message: str) -> AwsError:
    return IncompleteSignatureException(message)


def _invalid(message: str) -> AwsError:
    return InvalidSignatureException(message)


# The store keeps a region in 32 characters; botocore's regions are all short lowercase names.
_STORABLE_REGION = re.compile(r"[a-z0-9-]{1,32}")
# Longest region text echoed back in an error (a header may hold kilobytes of it).
_MAX_ECHOED_REGION_CHARS = 64


@lru_cache(maxsize=1)
def service_regions() -> frozenset[str]:
    """The regions a `social-messaging` endpoint can be scoped to, from botocore's endpoint data:
    the regions it lists for the service, and every region of the partitions whose endpoint
    rules resolve it (botocore resolves this service by rules, so its own list may be empty).
    An invented region (`zz-fake-9`) is in none of them."""
    endpoints = Loader().load_data("endpoints")
    regions: set[str] = set()
    for partition in endpoints["partitions"]:
        regions.update(partition.get("regions", {}))
        regions.update(partition["services"].get("social-messaging", {}).get("endpoints", {}))
    return frozenset(region for region in regions if _STORABLE_REGION.fullmatch(region))



def _check_region(region: str) -> None:
    if region not in service_regions():
        raise _invalid_region(region)


def _invalid_region(region: str) -> AwsError:
    shown = region if len(region) <= _MAX_ECHOED_REGION_CHARS else region[:_MAX_ECHOED_REGION_CHARS] + "..."
    return _invalid(f"Credential should be scoped to a valid region, not '{shown}'. ")


def _unrecognized() -> AwsError:
    return UnrecognizedClientException("The security token included in the request is invalid.")


# --------------------------------------------------------------------------------------------
# Credentials file


def load_credentials_file(path: str | Path) -> Credentials:
    """Read a credentials file (JSON or CSV, see the module docstring)."""
    text = Path(path).read_text(encoding="utf-8")
    entries = _credentials_from_json(text) if text.lstrip().startswith("{") else _credentials_from_csv(text)
    for key_id, (secret, account) in entries.items():
        if not key_id or not secret:
            raise ValueError(f"{path}: every entry needs an access key id and a secret")
        if not _ACCOUNT_ID.match(account):
            raise ValueError(f"{path}: account for key {key_id} must be 12 digits, got {account!r}")
    return entries


def _credentials_from_json(text: str) -> Credentials:
    document = json.loads(text)
    entries: Credentials = {}
    for key_id, entry in document.items():
        if not isinstance(entry, dict):
            raise ValueError(f"credentials entry for {key_id} must be an object with 'secret' and 'account'")
        entries[key_id] = (str(entry.get("secret", "")), str(entry.get("account", "")))
    return entries


def _credentials_from_csv(text: str) -> Credentials:
    entries: Credentials = {}
    for row in csv.reader(io.StringIO(text)):
        cells = [cell.strip() for cell in row]
        if not cells or not cells[0] or cells[0].startswith("#"):
            continue
        if cells[0].lower() in ("access_key_id", "aws_access_key_id", "access key id"):
            continue  # header line
        if len(cells) != 3:
            raise ValueError("credentials CSV lines are: access_key_id,secret_access_key,account_id")
        entries[cells[0]] = (cells[1], cells[2])
    return entries


# --------------------------------------------------------------------------------------------
# Canonical request pieces (as botocore's SigV4Auth builds them for non-S3 services)


def _remove_dot_segments(path: str) -> str:
    """botocore.utils.normalize_url_path: drop '.', resolve '..', collapse '//'."""
    if not path:
        return "/"
    segments: list[str] = []
    for segment in path.split("/"):
        if not segment or segment == ".":
            continue
        if segment == "..":
            if segments:
                segments.pop()
        else:
            segments.append(segment)
    first = "/" if path.startswith("/") else ""
    last = "/" if path.endswith("/") and segments else ""
    return first + "/".join(segments) + last


def canonical_uri(raw_path: str | bytes) -> str:
    """The raw (already percent-encoded) path, normalized, then encoded again: SigV4 for
    non-S3 services double-encodes the path."""
    text = raw_path.decode("latin-1") if isinstance(raw_path, bytes) else raw_path
    return quote(_remove_dot_segments(text).encode("latin-1", "replace"), safe="/~")


def _query_mentions(query_string: bytes | str, marker: str) -> bool:
    """Whether `marker` (ASCII) appears in the raw query string, bytes or text."""
    if isinstance(query_string, bytes):
        return marker.encode("ascii") in query_string
    return marker in query_string


def _query_pairs(query_string: bytes | str) -> list[tuple[bytes, bytes]]:
    raw = query_string.encode("latin-1") if isinstance(query_string, str) else query_string
    pairs = []
    for part in raw.split(b"&"):
        if not part:
            continue
        key, _, value = part.partition(b"=")
        pairs.append((unquote_to_bytes(key), unquote_to_bytes(value)))
    return pairs


def canonical_query_string(query_string: bytes | str, exclude: str | None = None) -> str:
    """Each key and value URI-encoded (RFC 3986 unreserved kept), sorted by key then value."""
    encoded = []
    for key, value in _query_pairs(query_string):
        encoded_key = quote(key, safe="-_.~")
        if exclude is not None and encoded_key == exclude:
            continue
        encoded.append((encoded_key, quote(value, safe="-_.~")))
    encoded.sort()
    return "&".join(f"{key}={value}" for key, value in encoded)


def canonical_headers(headers: Mapping[str, str], signed_headers: tuple[str, ...]) -> str:
    return "".join(f"{name}:{' '.join(headers.get(name, '').split())}\n" for name in signed_headers)


_AMZ_DATE = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})T([0-9]{2})([0-9]{2})([0-9]{2})Z\Z")


def _parse_amz_date(text: str) -> datetime:
    """yyyymmddThhmmssZ -> aware UTC datetime (strptime costs ~10x more on every request)."""
    match = _AMZ_DATE.match(text)
    if match is None:
        raise ValueError(f"not an ISO 8601 basic date: {text!r}")
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


# --------------------------------------------------------------------------------------------


class Authenticator:
    """Turns a request's SigV4 authentication into a `Principal` (see the module docstring)."""

    def __init__(
        self,
        mode: Literal["permissive", "strict"] = "permissive",
        credentials: Credentials | None = None,
        service: str = "social-messaging",
        max_skew_seconds: int = 900,
        default_region: str = "us-east-1",
    ) -> None:
        if mode not in ("permissive", "strict"):
            raise ValueError(f"auth mode must be 'permissive' or 'strict', not {mode!r}")
        if mode == "strict" and not credentials:
            raise ValueError("strict authentication needs a credentials file with at least one key")
        self.mode = mode
        self.credentials: Credentials = dict(credentials or {})
        self.service = service
        self.max_skew = timedelta(seconds=max_skew_seconds)
        self.default_region = default_region
        self._signing_keys: dict[tuple[str, str, str, str], bytes] = {}

    # -- entry point ----------------------------------------------------------------------

    def authenticate(
        self,
        method: str,
        raw_path: str | bytes,
        query_string: bytes | str,
        headers: Mapping[str, str],
        body: bytes,
        now: datetime | None = None,
    ) -> Principal:
        """`raw_path` is the path as sent (percent-encoded; ASGI `raw_path`); `headers` have
        lowercase names, repeated headers joined with ','."""
        if self.mode == "permissive":
            return self._permissive(query_string, headers)
        return self._strict(method, raw_path, query_string, headers, body, now)

    # -- permissive -----------------------------------------------------------------------

    def _permissive(self, query_string: bytes | str, headers: Mapping[str, str]) -> Principal:
        authorization = headers.get("authorization")
        if authorization is not None:
            credential = self._credential_from_header_fast(authorization)
        elif query_string and _query_mentions(query_string, "X-Amz-Credential"):
            credential = self._credential_from_query(query_string)
        else:
            return Principal("", DEFAULT_ACCOUNT_ID, self.default_region)
        parts = credential.split("/")
        if len(parts) != 5 or not parts[0]:
            raise _incomplete(self._credential_shape_message(credential))
        access_key_id, region = parts[0], parts[2] or self.default_region
        _check_region(region)  # the region names resources: even permissive mode needs a real one
        return Principal(access_key_id, self._account_for(access_key_id), region)

    def _account_for(self, access_key_id: str) -> str:
        known = self.credentials.get(access_key_id)
        if known is not None:
            return known[1]
        if len(access_key_id) == 12 and access_key_id.isdigit():
            return access_key_id
        return DEFAULT_ACCOUNT_ID

    @staticmethod
    def _credential_from_header_fast(authorization: str) -> str:
        if not authorization.startswith(ALGORITHM + " "):
            raise _incomplete(f"Unsupported authorization type; expected '{ALGORITHM}'. Authorization={authorization}")
        start = authorization.find("Credential=")
        if start < 0:
            raise _incomplete(f"Authorization header requires 'Credential' parameter. Authorization={authorization}")
        start += len("Credential=")
        end = authorization.find(",", start)
        return (authorization[start:] if end < 0 else authorization[start:end]).strip()

    @staticmethod
    def _credential_from_query(query_string: bytes | str) -> str:
        for key, value in _query_pairs(query_string):
            if key == b"X-Amz-Credential":
                return value.decode("utf-8", "replace")
        return ""

    @staticmethod
    def _credential_shape_message(credential: str) -> str:
        return (
            "Credential must have exactly 5 slash-delimited elements, e.g. "
            f"keyid/date/region/service/term, got '{credential}'"
        )

    # -- strict ---------------------------------------------------------------------------

    def _strict(
        self,
        method: str,
        raw_path: str | bytes,
        query_string: bytes | str,
        headers: Mapping[str, str],
        body: bytes,
        now: datetime | None,
    ) -> Principal:
        authorization = headers.get("authorization")
        if authorization is not None:
            signed = self._parse_authorization_header(authorization, headers)
        elif query_string and _query_mentions(query_string, "X-Amz-"):
            signed = self._parse_presigned_query(query_string)
        else:
            raise _missing_token()

        self._check_scope(signed)
        known = self.credentials.get(signed.access_key_id)
        if known is None:
            raise _unrecognized()
        secret, account_id = known
        self._check_date(signed, now or datetime.now(UTC))
        if "host" not in signed.signed_headers:
            raise _incomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")

        payload_hash = self._payload_hash(headers, body)
        exclude = "X-Amz-Signature" if signed.presigned_expires is not None else None
        canonical_request = "\n".join((
            method.upper(),
            canonical_uri(raw_path),
            canonical_query_string(query_string, exclude=exclude),
            canonical_headers(headers, signed.signed_headers),
            ";".join(signed.signed_headers),
            payload_hash,
        ))
        if self._signature_matches(secret, signed, canonical_request):
            return Principal(signed.access_key_id, account_id, signed.region)
        if signed.presigned_expires is not None and "x-amz-content-sha256" not in headers:
            # Presigned URLs may be signed without knowing the body (S3-style signers).
            unsigned_request = canonical_request.rsplit("\n", 1)[0] + "\n" + UNSIGNED_PAYLOAD
            if self._signature_matches(secret, signed, unsigned_request):
                return Principal(signed.access_key_id, account_id, signed.region)
        raise _invalid(self._mismatch_message(signed, canonical_request))

    def _parse_authorization_header(self, authorization: str, headers: Mapping[str, str]) -> _Signed:
        algorithm, _, rest = authorization.strip().partition(" ")
        if algorithm != ALGORITHM:
            raise _incomplete(f"Unsupported authorization type; expected '{ALGORITHM}'. Authorization={authorization}")
        fields: dict[str, str] = {}
        for part in rest.split(","):
            name, has_equals, value = part.strip().partition("=")
            if not has_equals:
                raise _incomplete(
                    f"Invalid key=value pair (missing equal-sign) in Authorization header: '{part.strip()}'. "
                    f"Authorization={authorization}")
            fields[name] = value.strip()
        problems = [
            f"Authorization header requires '{name}' parameter."
            for name in ("Credential", "Signature", "SignedHeaders")
            if not fields.get(name)
        ]
        amz_date = headers.get("x-amz-date") or self._amz_date_from_http_date(headers.get("date"))
        if not amz_date:
            problems.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
        if problems or not amz_date:  # a missing date is one of the problems
            raise _incomplete(" ".join(problems) + f" Authorization={authorization}")
        return self._signed_from_parts(fields["Credential"], fields["SignedHeaders"], fields["Signature"], amz_date, None)

    def _parse_presigned_query(self, query_string: bytes | str) -> _Signed:
        params: dict[str, str] = {}
        for key, value in _query_pairs(query_string):
            params.setdefault(key.decode("utf-8", "replace"), value.decode("utf-8", "replace"))
        if not any(name in params for name in _PRESIGN_PARAMS):
            raise _missing_token()
        if not all(params.get(name) for name in _PRESIGN_PARAMS):
            raise _incomplete(
                "AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', "
                "'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders'. Re-examine the query-string parameters.")
        if params["X-Amz-Algorithm"] != ALGORITHM:
            raise _incomplete(f"Unsupported algorithm '{params['X-Amz-Algorithm']}'; expected '{ALGORITHM}'.")
        try:
            expires = int(params.get("X-Amz-Expires", "604800"))
        except ValueError:
            raise _incomplete("X-Amz-Expires must be a number of seconds.") from None
        if not 1 <= expires <= MAX_PRESIGNED_EXPIRES_SECONDS:
            raise _incomplete(f"X-Amz-Expires must be between 1 and {MAX_PRESIGNED_EXPIRES_SECONDS} seconds "
                              "(a week).")
        return self._signed_from_parts(
            params["X-Amz-Credential"], params["X-Amz-SignedHeaders"], params["X-Amz-Signature"],
            params["X-Amz-Date"], expires)

    def _signed_from_parts(
        self, credential: str, signed_headers: str, signature: str, amz_date: str, expires: int | None
    ) -> _Signed:
        parts = credential.split("/")
        if len(parts) != 5:
            raise _incomplete(self._credential_shape_message(credential))
        return _Signed(
            access_key_id=parts[0],
            scope_date=parts[1],
            region=parts[2],
            service=parts[3],
            terminator=parts[4],
            signed_headers=tuple(name.strip().lower() for name in signed_headers.split(";") if name.strip()),
            signature=signature,
            amz_date=amz_date,
            presigned_expires=expires,
        )

    @staticmethod
    def _amz_date_from_http_date(value: str | None) -> str | None:
        if not value:
            return None
        try:
            return parsedate_to_datetime(value).astimezone(UTC).strftime(AMZ_DATE_FORMAT)
        except (TypeError, ValueError, IndexError):
            return None

    def _check_scope(self, signed: _Signed) -> None:
        if signed.terminator != TERMINATOR:
            raise _invalid(f"Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{signed.terminator}'. ")
        if signed.service != self.service:
            raise _invalid(f"Credential should be scoped to correct service: '{self.service}'. ")
        _check_region(signed.region)
        if signed.scope_date != signed.amz_date[:8]:
            raise _invalid(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                f"'{signed.scope_date}' != '{signed.amz_date[:8]}', from '{signed.amz_date}'.")

    def _check_date(self, signed: _Signed, now: datetime) -> None:
        try:
            signed_at = _parse_amz_date(signed.amz_date)
        except ValueError:
            raise _incomplete(
                f"Date must be in ISO-8601 'basic format'. Got '{signed.amz_date}'. "
                "See http://en.wikipedia.org/wiki/ISO_8601") from None
        now = now.astimezone(UTC)
        minutes = int(self.max_skew.total_seconds() // 60)
        if signed.presigned_expires is not None and now > signed_at + timedelta(seconds=signed.presigned_expires):
            raise _invalid(
                f"Signature expired: {signed.amz_date} is now earlier than "
                f"{(now - timedelta(seconds=signed.presigned_expires)).strftime(AMZ_DATE_FORMAT)} "
                f"({now.strftime(AMZ_DATE_FORMAT)} - {signed.presigned_expires} sec.)")
        if signed.presigned_expires is None and signed_at < now - self.max_skew:
            raise _invalid(
                f"Signature expired: {signed.amz_date} is now earlier than "
                f"{(now - self.max_skew).strftime(AMZ_DATE_FORMAT)} ({now.strftime(AMZ_DATE_FORMAT)} - {minutes} min.)")
        if signed_at > now + self.max_skew:
            raise _invalid(
                f"Signature not yet current: {signed.amz_date} is still later than "
                f"{(now + self.max_skew).strftime(AMZ_DATE_FORMAT)} ({now.strftime(AMZ_DATE_FORMAT)} + {minutes} min.)")

    @staticmethod
    def _payload_hash(headers: Mapping[str, str], body: bytes) -> str:
        declared = headers.get("x-amz-content-sha256")
        if declared is None:
            return hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
        if _HEX_SHA256.match(declared) and not hmac.compare_digest(declared, hashlib.sha256(body).hexdigest()):
            # The signature would cover a hash of some other body: refuse it.
            raise _invalid("The provided 'x-amz-content-sha256' header does not match what was computed.")
        return declared

    def _signing_key(self, secret: str, signed: _Signed) -> bytes:
        cache_key = (secret, signed.scope_date, signed.region, signed.service)
        key = self._signing_keys.get(cache_key)
        if key is None:
            key = _hmac(("AWS4" + secret).encode("utf-8"), signed.scope_date)
            for part in (signed.region, signed.service, TERMINATOR):
                key = _hmac(key, part)
            if len(self._signing_keys) > 4096:
                self._signing_keys.clear()  # keys change daily; a crude bound is enough
            self._signing_keys[cache_key] = key
        return key

    def _string_to_sign(self, signed: _Signed, canonical_request: str) -> str:
        scope = f"{signed.scope_date}/{signed.region}/{signed.service}/{TERMINATOR}"
        digest = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
        return f"{ALGORITHM}\n{signed.amz_date}\n{scope}\n{digest}"

    def _signature_matches(self, secret: str, signed: _Signed, canonical_request: str) -> bool:
        string_to_sign = self._string_to_sign(signed, canonical_request)
        expected = hmac.new(self._signing_key(secret, signed), string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
        # As bytes: compare_digest refuses str with non-ASCII characters (a client's junk signature).
        return hmac.compare_digest(expected.encode("ascii"), signed.signature.lower().encode("utf-8", "replace"))

    def _mismatch_message(self, signed: _Signed, canonical_request: str) -> str:
        # Like AWS, show what was expected so a client author can debug; the session token
        # (a credential) is masked.
        shown = re.sub(r"(?m)^(x-amz-security-token:).*$", r"\1***", canonical_request)
        return (
            f"{SIGNATURE_MISMATCH}\n\nThe Canonical String for this request should have been\n'{shown}'\n\n"
            f"The String-to-Sign should have been\n'{self._string_to_sign(signed, canonical_request)}'\n"
        )
