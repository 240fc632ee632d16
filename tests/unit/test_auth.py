"""SigV4 authentication, checked against requests signed by botocore's own signers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from wabalink.aws.auth import DEFAULT_ACCOUNT_ID, Authenticator, Principal, load_credentials_file, service_regions
from wabalink.aws.errors import AwsError

KEY_ID = "AKIAWABALINKTEST0001"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ACCOUNT = "123456789012"
CREDENTIALS = {KEY_ID: (SECRET, ACCOUNT)}
ENDPOINT = "http://localhost:4567"

Request = tuple[str, str, bytes, dict[str, str], bytes]


def sign(
    method: str,
    path_and_query: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    key_id: str = KEY_ID,
    secret: str = SECRET,
    token: str | None = None,
    service: str = "social-messaging",
    region: str = "eu-west-1",
    presign: bool = False,
) -> Request:
    """(method, raw path, raw query, lowercase headers, body) of a botocore-signed request, as a
    server receives them."""
    request = AWSRequest(method=method, url=ENDPOINT + path_and_query, data=body, headers=headers or {})
    credentials = Credentials(key_id, secret, token)
    signer = SigV4QueryAuth(credentials, service, region, expires=300) if presign else SigV4Auth(credentials, service, region)
    signer.add_auth(request)
    prepared = request.prepare()
    url = urlsplit(prepared.url)
    received = {name.lower(): value for name, value in prepared.headers.items()}
    received.setdefault("host", url.netloc)
    payload = prepared.body or b""
    if isinstance(payload, str):
        payload = payload.encode()
    return prepared.method, url.path, url.query.encode(), received, payload


def strict() -> Authenticator:
    return Authenticator("strict", CREDENTIALS)


def expect_error(authenticator: Authenticator, request: Request, code: str, now: datetime | None = None) -> AwsError:
    with pytest.raises(AwsError) as caught:
        authenticator.authenticate(*request, now=now)
    assert caught.value.code == code, caught.value.message
    assert caught.value.status == 403
    return caught.value


# -- permissive --------------------------------------------------------------------------------


def test_permissive_numeric_key_is_the_account_and_region_comes_from_scope() -> None:
    request = sign("GET", "/v1/whatsapp/waba/list", key_id="210987654321", secret="anything", region="ap-south-1")
    principal = Authenticator().authenticate(*request)
    assert principal == Principal("210987654321", "210987654321", "ap-south-1")


def test_permissive_other_key_maps_to_default_account_without_checking_signature() -> None:
    method, path, query, headers, body = sign("GET", "/v1/whatsapp/waba/list", key_id="AKIAANYTHING", secret="wrong")
    headers["authorization"] = headers["authorization"][:-4] + "0000"
    principal = Authenticator().authenticate(method, path, query, headers, body)
    assert principal == Principal("AKIAANYTHING", DEFAULT_ACCOUNT_ID, "eu-west-1")


def test_permissive_known_key_uses_credentials_file_account() -> None:
    request = sign("GET", "/v1/whatsapp/waba/list")
    assert Authenticator("permissive", CREDENTIALS).authenticate(*request).account_id == ACCOUNT


def test_permissive_unsigned_request_gets_defaults() -> None:
    principal = Authenticator(default_region="us-east-1").authenticate("GET", "/v1/whatsapp/waba/list", b"", {}, b"")
    assert principal == Principal("", DEFAULT_ACCOUNT_ID, "us-east-1")


def test_permissive_presigned_query() -> None:
    request = sign("GET", "/v1/whatsapp/waba/list?maxResults=3", key_id="111122223333", presign=True)
    assert Authenticator().authenticate(*request) == Principal("111122223333", "111122223333", "eu-west-1")


def test_permissive_malformed_header_is_incomplete_signature() -> None:
    for authorization in ("Bearer abc", "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00",
                          "AWS4-HMAC-SHA256 Credential=onlykey, SignedHeaders=host, Signature=00"):
        expect_error(Authenticator(), ("GET", "/", b"", {"authorization": authorization}, b""), "IncompleteSignatureException")


# -- strict: good signatures -------------------------------------------------------------------


@pytest.mark.parametrize("method, path_and_query, body, headers", [
    ("GET", "/v1/whatsapp/waba/details?id=waba-0123456789abcdef0123456789abcdef", b"", {}),
    ("GET", "/v1/whatsapp/waba/list?maxResults=10&nextToken=a%2Bb%2Fc%3D%3D&z=1&a=2", b"", {}),
    ("POST", "/v1/whatsapp/signup", json.dumps({"signupCallback": {"accessToken": "t"}}).encode(),
     {"Content-Type": "application/json"}),
    ("DELETE", "/v1/whatsapp/waba/disassociate?id=arn%3Aaws%3Asocial-messaging%3Aus-east-1%3A123456789012%3Awaba%2Fabc", b"", {}),
    ("GET", "/v1/things/a%2Fb/sp%20ace/%C3%A9t%C3%A9/~tilde", b"", {}),
    ("PUT", "/v1/whatsapp/waba/phone?id=phone-number-id-1", b"{}", {"Content-Type": "application/json", "X-Custom": "  a   b  "}),
])
def test_strict_accepts_botocore_signatures(method: str, path_and_query: str, body: bytes, headers: dict[str, str]) -> None:
    request = sign(method, path_and_query, body, headers)
    assert strict().authenticate(*request) == Principal(KEY_ID, ACCOUNT, "eu-west-1")


def test_strict_accepts_session_token_and_content_sha256_header() -> None:
    body = b'{"a": 1}'
    import hashlib

    request = sign("POST", "/v1/whatsapp/send", body, {"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()},
                   token="FwoGZXIvYXdzE-session-token")
    assert "x-amz-security-token" in request[3]["authorization"].split("SignedHeaders=")[1]
    assert strict().authenticate(*request).account_id == ACCOUNT


def test_strict_accepts_presigned_url() -> None:
    request = sign("GET", "/v1/whatsapp/waba/list?maxResults=3", presign=True)
    assert strict().authenticate(*request).account_id == ACCOUNT


def test_strict_accepts_small_clock_skew_both_ways() -> None:
    request = sign("GET", "/v1/whatsapp/waba/list")
    signed_at = datetime.strptime(request[3]["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    for skew in (timedelta(minutes=14), -timedelta(minutes=14)):
        assert strict().authenticate(*request, now=signed_at + skew).account_id == ACCOUNT


# -- strict: failures --------------------------------------------------------------------------


def test_strict_missing_authentication() -> None:
    error = expect_error(strict(), ("GET", "/v1/whatsapp/waba/list", b"", {"host": "x"}, b""),
                         "MissingAuthenticationTokenException")
    assert error.message == "Missing Authentication Token"


@pytest.mark.parametrize("authorization", [
    "AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature=abcd",
    "AWS4-HMAC-SHA256 Credential=AKIA/20240101/us-east-1/social-messaging/aws4_request, Signature=abcd",
    "AWS4-HMAC-SHA256 Credential=AKIA/20240101/us-east-1/social-messaging/aws4_request, SignedHeaders=host",
    "AWS4-HMAC-SHA256 Credential=AKIA/20240101/us-east-1, SignedHeaders=host, Signature=abcd",
    "AWS4-HMAC-SHA256 garbage",
    "Basic dXNlcjpwYXNz",
])
def test_strict_malformed_authorization_is_incomplete(authorization: str) -> None:
    headers = {"host": "x", "x-amz-date": "20240101T000000Z", "authorization": authorization}
    expect_error(strict(), ("GET", "/", b"", headers, b""), "IncompleteSignatureException")


def test_strict_missing_date_is_incomplete() -> None:
    method, path, query, headers, body = sign("GET", "/v1/whatsapp/waba/list")
    del headers["x-amz-date"]
    error = expect_error(strict(), (method, path, query, headers, body), "IncompleteSignatureException")
    assert "'X-Amz-Date' or a 'Date' header" in error.message


def test_strict_wrong_secret_is_invalid_signature() -> None:
    error = expect_error(strict(), sign("GET", "/v1/whatsapp/waba/list", secret="not-the-secret"), "InvalidSignatureException")
    assert error.message.startswith("The request signature we calculated does not match the signature you provided.")
    assert SECRET not in error.message


def test_strict_tampered_request_is_invalid_signature() -> None:
    method, path, query, headers, body = sign("POST", "/v1/whatsapp/signup", b'{"a": 1}', {"Content-Type": "application/json"})
    expect_error(strict(), (method, path, query, headers, b'{"a": 2}'), "InvalidSignatureException")
    expect_error(strict(), (method, path, query + b"&extra=1", headers, body), "InvalidSignatureException")
    expect_error(strict(), (method, "/v1/whatsapp/other", query, headers, body), "InvalidSignatureException")
    expect_error(strict(), ("PUT", path, query, headers, body), "InvalidSignatureException")


def test_strict_session_token_value_is_masked_in_mismatch_message() -> None:
    method, path, query, headers, body = sign("GET", "/v1/whatsapp/waba/list", token="SESSION-TOKEN-VALUE")
    headers["x-amz-security-token"] = "OTHER-TOKEN-VALUE"
    error = expect_error(strict(), (method, path, query, headers, body), "InvalidSignatureException")
    assert "TOKEN-VALUE" not in error.message


def test_strict_unknown_key_is_unrecognized_client() -> None:
    error = expect_error(strict(), sign("GET", "/v1/whatsapp/waba/list", key_id="AKIAUNKNOWN0000000000"),
                         "UnrecognizedClientException")
    assert error.message == "The security token included in the request is invalid."


def test_strict_wrong_service_scope() -> None:
    error = expect_error(strict(), sign("GET", "/v1/whatsapp/waba/list", service="socialmessaging"), "InvalidSignatureException")
    assert error.message == "Credential should be scoped to correct service: 'social-messaging'. "


@pytest.mark.parametrize("region", ["x", "us-east", "US-EAST-1", "useast1", "us-east-1-",
                                    "zz-fake-9", "us-east-9", "eu-north-7", "xx-central-1"])
def test_strict_region_where_the_service_does_not_exist(region: str) -> None:
    error = expect_error(strict(), sign("GET", "/v1/whatsapp/waba/list", region=region), "InvalidSignatureException")
    assert error.message == f"Credential should be scoped to a valid region, not '{region}'. "


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-2", "us-gov-west-1", "ap-southeast-5", "us-isob-east-1",
                                    "cn-north-1", "eu-isoe-west-1", "eusc-de-east-1"])
def test_strict_regions_of_botocores_partitions_are_accepted(region: str) -> None:
    assert strict().authenticate(*sign("GET", "/v1/whatsapp/waba/list", region=region)).region == region


def test_strict_stale_and_future_dates() -> None:
    request = sign("GET", "/v1/whatsapp/waba/list")
    signed_at = datetime.strptime(request[3]["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    error = expect_error(strict(), request, "InvalidSignatureException", now=signed_at + timedelta(minutes=16))
    assert error.message.startswith(f"Signature expired: {request[3]['x-amz-date']} is now earlier than ")
    assert error.message.endswith(" - 15 min.)")
    error = expect_error(strict(), request, "InvalidSignatureException", now=signed_at - timedelta(minutes=16))
    assert error.message.startswith(f"Signature not yet current: {request[3]['x-amz-date']} is still later than ")


def test_strict_scope_date_must_match_request_date() -> None:
    method, path, query, headers, body = sign("GET", "/v1/whatsapp/waba/list")
    headers["x-amz-date"] = "20200101T000000Z"
    error = expect_error(strict(), (method, path, query, headers, body), "InvalidSignatureException")
    assert error.message.startswith("Date in Credential scope does not match YYYYMMDD")


def test_strict_expired_presigned_url() -> None:
    request = sign("GET", "/v1/whatsapp/waba/list", presign=True)  # expires in 300 s
    signed_at = datetime.strptime(dict(p.split("=") for p in request[2].decode().split("&"))["X-Amz-Date"],
                                  "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    expect_error(strict(), request, "InvalidSignatureException", now=signed_at + timedelta(seconds=301))


def test_strict_content_sha256_must_match_body() -> None:
    request = sign("POST", "/v1/whatsapp/send", b"{}", {"X-Amz-Content-SHA256": "0" * 64})
    expect_error(strict(), request, "InvalidSignatureException")


def test_strict_needs_credentials() -> None:
    with pytest.raises(ValueError):
        Authenticator("strict", {})


# -- credentials file --------------------------------------------------------------------------


def test_credentials_file_json_and_csv(tmp_path: Path) -> None:
    json_file = tmp_path / "creds.json"
    json_file.write_text(json.dumps({KEY_ID: {"secret": SECRET, "account": ACCOUNT}}))
    assert load_credentials_file(json_file) == CREDENTIALS
    csv_file = tmp_path / "creds.csv"
    csv_file.write_text(f"# keys\naccess_key_id,secret_access_key,account_id\n{KEY_ID},{SECRET},{ACCOUNT}\n")
    assert load_credentials_file(csv_file) == CREDENTIALS


def test_credentials_file_rejects_bad_account(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({KEY_ID: {"secret": SECRET, "account": "12345"}}))
    with pytest.raises(ValueError):
        load_credentials_file(bad)


@pytest.mark.parametrize("region", ["not a region", "x", "aa-" + "b" * 40 + "-1", "us-east-1:evil", "zz-fake-9",
                                    "us-east-9"])
def test_permissive_still_needs_a_real_region(region: str) -> None:
    # The region names resources (ARNs, the store's rows, the per-region quota): an invented one is
    # refused even without signature checks.
    error = expect_error(Authenticator(), sign("GET", "/v1/whatsapp/waba/list", region=region),
                         "InvalidSignatureException")
    assert error.message.startswith("Credential should be scoped to a valid region, not '")
    assert len(error.message) < 200


def test_known_regions_come_from_botocore_and_include_every_test_region() -> None:
    regions = service_regions()
    assert {"us-east-1", "eu-west-1", "ap-south-1", "ap-southeast-1", "ap-southeast-3", "eu-west-2"} <= regions
    assert "zz-fake-9" not in regions
    assert Authenticator().authenticate(*sign("GET", "/v1/whatsapp/waba/list", region="ap-south-1")).region == "ap-south-1"


@pytest.mark.parametrize("expires", ["0", "604801", str(10**20)])
def test_presigned_expiry_beyond_a_week_is_refused(expires: str) -> None:
    method, path, query, headers, body = sign("GET", "/v1/whatsapp/waba/list", presign=True)
    query = query.replace(b"X-Amz-Expires=300", b"X-Amz-Expires=" + expires.encode())
    error = expect_error(strict(), (method, path, query, headers, body), "IncompleteSignatureException")
    assert "X-Amz-Expires" in error.message


@pytest.mark.parametrize("junk", ["%ff", "%C3%A9", "\u00e9"])
def test_strict_non_ascii_signature_is_a_mismatch_not_a_crash(junk: str) -> None:
    method, path, query, headers, body = sign("GET", "/v1/whatsapp/waba/list", presign=True)
    query = query.replace(b"X-Amz-Signature=", b"X-Amz-Signature=" + junk.encode("latin-1", "replace"))
    expect_error(strict(), (method, path, query, headers, body), "InvalidSignatureException")
    method, path, query, headers, body = sign("GET", "/v1/whatsapp/waba/list")
    headers["authorization"] = headers["authorization"].replace("Signature=", "Signature=\u00e9")
    expect_error(strict(), (method, path, query, headers, body), "InvalidSignatureException")
