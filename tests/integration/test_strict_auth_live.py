"""`wabalink serve --auth strict` against real signed requests: boto3's own signer, and requests
signed wrongly on purpose."""

from __future__ import annotations

import datetime
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.support.flows import finalize, sign_up

KEYS = {
    "AKIAWABALINKTEST0001": {"secret": "first-secret-key/abcdefghijklmnopqrstu", "account": "111122223333"},
    "AKIAWABALINKTEST0002": {"secret": "second-secret-key/bcdefghijklmnopqrstu", "account": "444455556666"},
}
FIRST, SECOND = KEYS


@pytest.fixture
def strict_server(start_server: Any, tmp_path: Path) -> Any:
    credentials = tmp_path / "credentials.json"
    credentials.write_text(json.dumps(KEYS))
    return start_server(extra_args=["--auth", "strict", "--credentials", str(credentials)],
                        env={"WABALINK_SANDBOX_TOKEN": "operator-sandbox-token"})


def client_for(server: Any, key: str, secret: str | None = None, region: str = "us-east-1") -> Any:
    return server.client(key, region, secret=secret or KEYS[key]["secret"])


def raw_call(server: Any, headers: dict[str, str], path: str = "/v1/whatsapp/waba/list") -> tuple[int, str, str]:
    request = urllib.request.Request(server.endpoint + path, headers=headers, method="GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, "", response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("x-amzn-ErrorType", ""), error.read().decode()


def signed_headers(server: Any, key: str, secret: str, service: str = "social-messaging", region: str = "us-east-1",
                   when: datetime.datetime | None = None) -> dict[str, str]:
    request = AWSRequest(method="GET", url=server.endpoint + "/v1/whatsapp/waba/list")
    signer = SigV4Auth(Credentials(key, secret), service, region)
    if when is None:
        signer.add_auth(request)
    else:  # botocore signs with "now": move its clock
        with mock.patch("botocore.auth.get_current_datetime", return_value=when.replace(tzinfo=None)):
            signer.add_auth(request)
    return dict(request.headers.items())


def test_boto3_signed_requests_work_and_accounts_are_isolated(strict_server: Any) -> None:
    first, second = client_for(strict_server, FIRST), client_for(strict_server, SECOND)
    meta_waba = strict_server.create_waba("Strict Co", phone_numbers=1)
    token, incomplete = sign_up(first, meta_waba)
    entry = incomplete[meta_waba["wabaId"]]
    finalize(first, token, entry)
    account = first.get_linked_whatsapp_business_account(id=entry["wabaId"])["account"]
    assert account["arn"].split(":")[4] == KEYS[FIRST]["account"]

    assert second.list_linked_whatsapp_business_accounts()["linkedAccounts"] == []
    with pytest.raises(second.exceptions.ResourceNotFoundException):
        second.get_linked_whatsapp_business_account(id=entry["wabaId"])
    with pytest.raises(second.exceptions.ResourceNotFoundException):
        second.disassociate_whatsapp_business_account(id=entry["wabaId"])
    with pytest.raises(second.exceptions.InvalidParametersException):
        second.tag_resource(resourceArn=account["arn"], tags=[{"key": "stolen", "value": "yes"}])
    with pytest.raises(second.exceptions.InvalidParametersException):
        second.associate_whatsapp_business_account(setupFinalization={
            "associateInProgressToken": token, "waba": {"id": entry["wabaId"]},
            "phoneNumbers": [{"id": entry["unregisteredWhatsAppPhoneNumbers"][0]["phoneNumberId"],
                              "twoFactorPin": "123456"}]})
    assert first.list_tags_for_resource(resourceArn=account["arn"])["tags"] == []


def test_missing_signature(strict_server: Any) -> None:
    status, error_type, _ = raw_call(strict_server, {})
    assert (status, error_type) == (403, "MissingAuthenticationTokenException")


def test_incomplete_signature(strict_server: Any) -> None:
    status, error_type, _ = raw_call(strict_server, {"Authorization": "AWS4-HMAC-SHA256 Credential=AKIA"})
    assert (status, error_type) == (403, "IncompleteSignatureException")


def test_wrong_secret(strict_server: Any) -> None:
    client = client_for(strict_server, FIRST, secret="not-the-secret")
    with pytest.raises(Exception) as caught:
        client.list_linked_whatsapp_business_accounts()
    assert caught.value.response["Error"]["Code"] == "InvalidSignatureException"  # type: ignore[attr-defined]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403  # type: ignore[attr-defined]


def test_tampered_signature(strict_server: Any) -> None:
    headers = signed_headers(strict_server, FIRST, KEYS[FIRST]["secret"])
    headers["Authorization"] = headers["Authorization"][:-4] + "0000"
    status, error_type, _ = raw_call(strict_server, headers)
    assert (status, error_type) == (403, "InvalidSignatureException")


def test_wrong_service_scope(strict_server: Any) -> None:
    status, error_type, body = raw_call(strict_server, signed_headers(
        strict_server, FIRST, KEYS[FIRST]["secret"], service="sns"))
    assert (status, error_type) == (403, "InvalidSignatureException")
    assert "social-messaging" in body


def test_malformed_region_scope(strict_server: Any) -> None:
    status, error_type, _ = raw_call(strict_server, signed_headers(
        strict_server, FIRST, KEYS[FIRST]["secret"], region="not a region"))
    assert status == 403 and error_type in ("InvalidSignatureException", "IncompleteSignatureException")


def test_stale_date(strict_server: Any) -> None:
    stale = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=20)
    status, error_type, body = raw_call(strict_server, signed_headers(
        strict_server, FIRST, KEYS[FIRST]["secret"], when=stale))
    assert (status, error_type) == (403, "InvalidSignatureException")
    assert "expired" in body.lower()


def test_unknown_key(strict_server: Any) -> None:
    client = strict_server.client("AKIAUNKNOWNKEY000000", secret="whatever")
    with pytest.raises(Exception) as caught:
        client.list_linked_whatsapp_business_accounts()
    assert caught.value.response["Error"]["Code"] == "UnrecognizedClientException"  # type: ignore[attr-defined]


def test_non_loopback_requires_strict(tmp_path: Path) -> None:
    import subprocess
    import sys

    completed = subprocess.run([sys.executable, "-m", "wabalink.cli.main", "serve", "--host", "0.0.0.0",
                                "--database", f"sqlite:///{tmp_path / 'x.db'}"], capture_output=True, text=True,
                               timeout=30)
    assert completed.returncode == 2
    assert "--auth strict" in completed.stderr
