"""The caller's S3 objects, read and written for the media operations: through botocore's S3 client
(the standard credential chain; the endpoint of `--s3-endpoint-url`, else botocore's own choice,
which honours `AWS_ENDPOINT_URL_S3`), or through a presigned URL. Bodies are streamed, never read
whole.

A presigned URL names AWS (`https://...s3...amazonaws.com/...`, the model's pattern). When an S3
endpoint is configured (moto, LocalStack, MinIO), the request goes to that endpoint instead, with
the URL's path and query and its original Host header, so the signature still covers what is sent.

S3's refusals become the operation's declared errors, naming the caller's field: a missing bucket or
object is InvalidParametersException, a denied one AccessDeniedException, S3 unreachable or failing
DependencyException.
"""

from __future__ import annotations

import functools
import http.client
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from wabalink.aws.errors import AwsError
from wabalink.aws.exceptions import AccessDeniedException, DependencyException, InvalidParametersException
from wabalink.store.blobs import Readable

CHUNK_BYTES = 64 * 1024
TIMEOUT_SECONDS = 60.0
_DENIED_CODES = {"AccessDenied", "403", "Forbidden", "AllAccessDisabled", "InvalidAccessKeyId",
                 "SignatureDoesNotMatch", "AccountProblem", "InvalidObjectState"}
_MISSING_CODES = {"NoSuchKey", "404", "NotFound", "NoSuchBucket"}


class S3ReadError(OSError):
    """An object's body failed part way (the connection dropped, a timeout)."""


@dataclass(frozen=True)
class S3Location:
    """What an error message calls the object: `s3://bucket/key` or a presigned URL's path."""
    field: str
    description: str


class S3Object:
    """An object being read: `read(n)` like a file, its size when S3 said it, its Content-Type,
    and `head(n)` to look at its first bytes without losing them."""

    def __init__(self, body: Any, size: int | None, content_type: str | None, name: str, closer: Any = None) -> None:
        self._body, self.size, self.content_type, self.name = body, size, content_type, name
        self._closer = closer
        self._pending = b""

    def head(self, size: int) -> bytes:
        while len(self._pending) < size:
            chunk = self._read_body(size - len(self._pending))
            if not chunk:
                break
            self._pending += chunk
        return self._pending[:size]

    def read(self, size: int = CHUNK_BYTES) -> bytes:
        if self._pending:
            data, self._pending = self._pending[:size], self._pending[size:]
            return data
        return self._read_body(size)

    def _read_body(self, size: int) -> bytes:
        try:
            return self._body.read(size)
        except Exception as error:  # botocore/urllib3 errors are not all OSError: any failure mid-body
            raise S3ReadError(f"reading the S3 object failed: {type(error).__name__}") from None

    def close(self) -> None:
        try:
            (self._closer or self._body).close()
        except Exception:  # noqa: BLE001 - closing a broken connection cannot fail the call
            pass


class S3Access:
    """botocore S3 clients, one per region (a client is thread-safe; making one costs milliseconds)."""

    def __init__(self, endpoint_url: str | None) -> None:
        self.endpoint_url = endpoint_url
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client(self, region: str) -> Any:
        with self._lock:
            found = self._clients.get(region)
            if found is None:
                import botocore.session
                from botocore.config import Config

                config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5,
                                read_timeout=TIMEOUT_SECONDS, s3={"addressing_style": "path"} if self.endpoint_url else {})
                found = self._clients[region] = botocore.session.get_session().create_client(
                    "s3", region_name=region, endpoint_url=self.endpoint_url, config=config)
            return found

    def open_file(self, region: str, bucket: str, key: str, field: str) -> S3Object:
        where = S3Location(field, f"s3://{bucket}/{key}")
        with s3_errors(where):
            answer = self.client(region).get_object(Bucket=bucket, Key=key)
        return S3Object(answer["Body"], answer.get("ContentLength"), answer.get("ContentType"), key)

    def put_file(self, region: str, bucket: str, key: str, source: BinaryIO, size: int, content_type: str,
                 field: str) -> None:
        with s3_errors(S3Location(field, f"s3://{bucket}/{key}")):
            self.client(region).put_object(Bucket=bucket, Key=key, Body=source, ContentLength=size,
                                           ContentType=content_type)

    def fetch_presigned(self, url: str, headers: Mapping[str, str], field: str) -> S3Object:
        check_s3_host(url, field)
        connection, target, host = self._presigned_connection(url)
        where = S3Location(field, _url_description(url))
        try:
            connection.request("GET", target, headers={**headers, "Host": host})
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            raise _unreachable(where, error) from None
        if response.status != 200:
            connection.close()
            raise _refused(where, str(response.status), response.reason)
        length = response.getheader("content-length")
        return S3Object(response, int(length) if length and length.isdigit() else None,
                        response.getheader("content-type"), urlsplit(url).path, closer=connection)

    def put_presigned(self, url: str, headers: Mapping[str, str], source: Readable, size: int, field: str) -> None:
        check_s3_host(url, field)
        connection, target, host = self._presigned_connection(url)
        where = S3Location(field, _url_description(url))
        try:
            connection.request("PUT", target, body=_chunks(source),
                               headers={**headers, "Host": host, "Content-Length": str(size)})
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as error:
            raise _unreachable(where, error) from None
        finally:
            connection.close()
        if not 200 <= response.status < 300:
            raise _refused(where, str(response.status), response.reason)

    def _presigned_connection(self, url: str) -> tuple[http.client.HTTPConnection, str, str]:
        """(connection, request target, Host header): to the configured endpoint when there is one."""
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = parts.netloc
        destination = urlsplit(self.endpoint_url) if self.endpoint_url else parts
        if self.endpoint_url:
            target = destination.path.rstrip("/") + target
        kind = http.client.HTTPSConnection if destination.scheme == "https" else http.client.HTTPConnection
        return kind(destination.hostname or "", destination.port, timeout=TIMEOUT_SECONDS), target, host


@functools.lru_cache(maxsize=8)
def s3_access(endpoint_url: str | None) -> S3Access:
    """One S3Access per endpoint, shared by the areas that read S3."""
    return S3Access(endpoint_url)


def read_s3_source(s3: S3Access, region: str, s3_file: Mapping[str, Any] | None,
                   presigned_url: Mapping[str, Any] | None = None, *,
                   fields: tuple[str, str] = ("sourceS3File", "sourceS3PresignedUrl")) -> S3Object:
    """The object of exactly one of `s3_file` ({bucketName, key}) and `presigned_url` ({url, headers}),
    opened for streaming (close it when done). `fields` name the two members in errors."""
    if (s3_file is None) == (presigned_url is None):
        raise InvalidParametersException(
            f"Give exactly one of {fields[0]} and {fields[1]}: the S3 object to read.")
    if s3_file is not None:
        return s3.open_file(region, s3_file["bucketName"], s3_file["key"], fields[0])
    assert presigned_url is not None
    return s3.fetch_presigned(presigned_url["url"], presigned_url.get("headers") or {}, fields[1])


class s3_errors:
    """A `with` block around botocore S3 calls: their failures as the operation's declared errors."""

    def __init__(self, where: S3Location) -> None:
        self.where = where

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, _tb: object) -> None:
        if exc is None or isinstance(exc, AwsError):
            return
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            raise _refused(self.where, str(error.get("Code", "")), str(error.get("Message", ""))) from None
        if isinstance(exc, NoCredentialsError):
            raise AccessDeniedException(
                f"{self.where.field}: wabalink has no AWS credentials to reach {self.where.description}; give the "
                "server credentials (environment, shared config or instance role).") from None
        if isinstance(exc, (BotoCoreError, OSError)):
            raise _unreachable(self.where, exc) from None


def _refused(where: S3Location, code: str, message: str) -> AwsError:
    if code in _DENIED_CODES:
        return AccessDeniedException(
            f"{where.field}: S3 denied access to {where.description} ({code}). The bucket must be in your account "
            "and Region, and its policy must allow the access.")
    if code == "NoSuchBucket":
        return InvalidParametersException(f"{where.field}.bucketName: the bucket of {where.description} does not exist.")
    if code in _MISSING_CODES:
        return InvalidParametersException(f"{where.field}: {where.description} does not exist in S3 ({code}).")
    if code.isdigit() and int(code) >= 500 or code in ("InternalError", "ServiceUnavailable", "SlowDown"):
        return DependencyException(f"{where.field}: S3 failed on {where.description} ({code}); retry the call.")
    return InvalidParametersException(f"{where.field}: S3 refused {where.description} ({code}: {message[:200]}).")


# An S3 endpoint of AWS: the model's pattern (`https://(.*)s3(.*).amazonaws.com/(.*)`) also matches
# `https://127.0.0.1:1/x?s3.amazonaws.com/`, which would make the server a port scanner.
_S3_HOST = re.compile(r"([a-z0-9][a-z0-9.-]*\.)?s3([.-][a-z0-9-]+)*\.amazonaws\.com(\.cn)?")


def check_s3_host(url: str, field: str) -> None:
    parts = urlsplit(url)
    if (parts.scheme != "https" or parts.username is not None or parts.password is not None
            or parts.port not in (None, 443) or not _S3_HOST.fullmatch(parts.hostname or "")):
        raise InvalidParametersException(
            f"{field}.url must be an https presigned URL of an S3 endpoint (host *.s3.*.amazonaws.com); "
            f"{parts.hostname or 'its host'} is not one.")


def _unreachable(where: S3Location, error: BaseException) -> AwsError:
    # Not the error's class: which one (refused, TLS, timeout) would tell a caller about the network.
    return DependencyException(f"{where.field}: S3 could not be reached for {where.description}; retry the call.")


def _url_description(url: str) -> str:
    parts = urlsplit(url)  # never the query: it carries the signature
    return f"the presigned URL's object {parts.netloc}{parts.path}"


def _chunks(source: Readable) -> Iterator[bytes]:
    while chunk := source.read(CHUNK_BYTES):
        yield chunk


__all__ = ["S3Access", "S3Object", "S3ReadError", "s3_access", "read_s3_source", "s3_errors"]
