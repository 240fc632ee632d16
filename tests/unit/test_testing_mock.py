"""mock_socialmessaging: unchanged application code that creates `boto3.client("socialmessaging")`
with no endpoint talks to a wabalink server, and the environment is restored afterwards."""

from __future__ import annotations

import os
from collections.abc import Iterator

import boto3
import pytest

from wabalink.testing import mock_socialmessaging

MANAGED = ("AWS_ENDPOINT_URL_SOCIALMESSAGING", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
           "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_PROFILE")


def linked_account_names() -> list[str]:
    """Application code: no endpoint, no credentials, no region in sight."""
    client = boto3.client("socialmessaging")
    return [account["wabaName"] for account in client.list_linked_whatsapp_business_accounts()["linkedAccounts"]]


def aws_environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name.startswith("AWS_")}


@pytest.fixture
def bare_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """No AWS settings at all, as on a fresh CI runner; also no shared config or credentials file."""
    for name in MANAGED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    yield aws_environment()


@mock_socialmessaging
def decorated_check() -> str:
    assert linked_account_names() == []
    return os.environ["AWS_ENDPOINT_URL_SOCIALMESSAGING"]


def test_the_decorator_serves_unchanged_code_then_restores(bare_environment: dict[str, str]) -> None:
    endpoint = decorated_check()
    assert endpoint.startswith("http://127.0.0.1:")
    assert aws_environment() == bare_environment
    assert decorated_check() != endpoint  # each call gets a fresh server


def test_the_context_manager_gives_the_server(bare_environment: dict[str, str]) -> None:
    with mock_socialmessaging() as server:
        assert os.environ["AWS_ENDPOINT_URL_SOCIALMESSAGING"] == server.endpoint
        assert os.environ["AWS_DEFAULT_REGION"] == "us-east-1"
        server.link(name="Acme")  # linked in the account the application's clients use
        assert linked_account_names() == ["Acme"]
    assert aws_environment() == bare_environment


def test_the_environment_is_restored_when_the_code_raises(bare_environment: dict[str, str]) -> None:
    with pytest.raises(RuntimeError, match="application failed"):
        with mock_socialmessaging():
            linked_account_names()
            raise RuntimeError("application failed")
    assert aws_environment() == bare_environment

    @mock_socialmessaging
    def failing() -> None:
        linked_account_names()
        raise KeyError("boom")

    with pytest.raises(KeyError):
        failing()
    assert aws_environment() == bare_environment


def test_existing_settings_are_kept_and_restored(monkeypatch: pytest.MonkeyPatch,
                                                 bare_environment: dict[str, str]) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "210987654321")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "mine")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SOCIALMESSAGING", "https://social-messaging.example")
    monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
    before = aws_environment()
    with mock_socialmessaging() as server:
        assert os.environ["AWS_ACCESS_KEY_ID"] == "210987654321"  # never replaced
        assert os.environ["AWS_DEFAULT_REGION"] == "eu-west-1"
        assert "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS" not in os.environ
        waba = server.link(name="Theirs")
        assert (waba.account_id, waba.region) == ("210987654321", "eu-west-1")
        assert linked_account_names() == ["Theirs"]
    assert aws_environment() == before


def test_nested_mocks_restore_in_order(bare_environment: dict[str, str]) -> None:
    with mock_socialmessaging() as outer:
        with mock_socialmessaging() as inner:
            assert os.environ["AWS_ENDPOINT_URL_SOCIALMESSAGING"] == inner.endpoint
        assert os.environ["AWS_ENDPOINT_URL_SOCIALMESSAGING"] == outer.endpoint
    assert aws_environment() == bare_environment


def test_settings_are_passed_to_the_server(bare_environment: dict[str, str]) -> None:
    with mock_socialmessaging(waba_quota_per_region=3) as server:
        assert server.settings.waba_quota_per_region == 3
