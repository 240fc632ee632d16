"""`mock_socialmessaging`: unchanged `boto3.client("socialmessaging")` code talks to a wabalink
server started for the block or the decorated function, as moto's `@mock_aws` does.

    @mock_socialmessaging
    def test_lists_nothing():
        assert boto3.client("socialmessaging").list_linked_whatsapp_business_accounts()["linkedAccounts"] == []

    with mock_socialmessaging() as server:      # the WabalinkServer: server.meta, server.link(), ...
        my_app.run()

It points every botocore client created inside it at the server through the standard
`AWS_ENDPOINT_URL_SOCIALMESSAGING`, and sets dummy credentials and a region only when the
environment has none. The environment is restored afterwards, also when the code raises.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar, overload

from wabalink.testing.server import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, DUMMY_SECRET_ACCESS_KEY, WabalinkServer

F = TypeVar("F", bound=Callable[..., Any])

ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL_SOCIALMESSAGING"
# botocore ignores AWS_ENDPOINT_URL_* when this is true: unset inside the mock.
IGNORE_ENDPOINTS_VARIABLE = "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"
PERMISSIVE_DEFAULT_ACCOUNT = "000000000000"


class MockSocialMessaging:
    """A context manager (entering starts a fresh server and returns it) and a decorator (each
    call of the function gets a fresh server)."""

    def __init__(self, **settings: Any) -> None:
        self.settings = settings
        self._active: list[tuple[WabalinkServer, dict[str, str | None]]] = []

    def __enter__(self) -> WabalinkServer:
        server = WabalinkServer(**self.settings).start()
        try:
            saved = _point_environment_at(server)
        except BaseException:
            server.stop()
            raise
        self._active.append((server, saved))
        _forget_default_boto3_session()
        # server.link() and server.client() act as the code under test's clients will.
        server.account_id = permissive_account_id(os.environ["AWS_ACCESS_KEY_ID"]) \
            if os.environ.get("AWS_ACCESS_KEY_ID") else server.account_id
        server.region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or server.region
        return server

    def __exit__(self, *exc_info: object) -> None:
        server, saved = self._active.pop()
        try:
            _restore(saved)
            _forget_default_boto3_session()
        finally:
            server.stop()

    def __call__(self, function: F) -> F:
        if inspect.iscoroutinefunction(function):
            @functools.wraps(function)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with MockSocialMessaging(**self.settings):
                    return await function(*args, **kwargs)
            return run_async  # type: ignore[return-value]

        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            with MockSocialMessaging(**self.settings):
                return function(*args, **kwargs)
        return run  # type: ignore[return-value]


@overload
def mock_socialmessaging(function: F, /) -> F: ...
@overload
def mock_socialmessaging(function: None = None, /, **settings: Any) -> MockSocialMessaging: ...


def mock_socialmessaging(function: Callable[..., Any] | None = None, /, **settings: Any) -> Any:
    """`@mock_socialmessaging`, `@mock_socialmessaging(**settings)` or
    `with mock_socialmessaging(**settings) as server:`; `settings` are `wabalink_server`'s."""
    mock = MockSocialMessaging(**settings)
    return mock if function is None else mock(function)


def permissive_account_id(access_key_id: str) -> str:
    """The account a permissive server gives a caller: the access key id when it is 12 digits."""
    return access_key_id if len(access_key_id) == 12 and access_key_id.isdigit() else PERMISSIVE_DEFAULT_ACCOUNT


def _point_environment_at(server: WabalinkServer) -> dict[str, str | None]:
    changes: dict[str, str | None] = {ENDPOINT_VARIABLE: server.endpoint, IGNORE_ENDPOINTS_VARIABLE: None}
    if not os.environ.get("AWS_ACCESS_KEY_ID") and not os.environ.get("AWS_PROFILE"):
        changes["AWS_ACCESS_KEY_ID"] = DEFAULT_ACCOUNT_ID
        changes["AWS_SECRET_ACCESS_KEY"] = DUMMY_SECRET_ACCESS_KEY
        changes["AWS_SESSION_TOKEN"] = None  # a stray token without its keys would be sent along
    if not os.environ.get("AWS_DEFAULT_REGION") and not os.environ.get("AWS_REGION"):
        changes["AWS_DEFAULT_REGION"] = DEFAULT_REGION
    saved = {name: os.environ.get(name) for name in changes}
    _restore(changes)
    return saved


def _forget_default_boto3_session() -> None:
    """`boto3.client(...)` keeps a default session that caches the credentials it resolved: drop
    it, so clients made inside (and after) the mock read the environment as it is then."""
    boto3 = sys.modules.get("boto3")
    if boto3 is not None:
        setattr(boto3, "DEFAULT_SESSION", None)  # noqa: B010 - boto3 declares no type for it


def _restore(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


__all__ = ["mock_socialmessaging", "MockSocialMessaging"]
