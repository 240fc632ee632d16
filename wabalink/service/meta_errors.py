"""Meta's answers -> the operation's errors, naming the field the caller gave."""

from __future__ import annotations

from collections.abc import Callable

from wabalink.aws.exceptions import DependencyException, InvalidParametersException
from wabalink.meta.client import GraphApiError, GraphUnavailableError

META_PIN_MISMATCH = 133005  # Graph API: "Two step verification PIN Mismatch"


class meta_errors:
    """A `with` block around Graph calls: the caller's own Meta token rejected (`caller_token`),
    or a PIN that does not match the one Meta has, is the caller's bad parameter; Meta failing or
    unreachable is a DependencyException (502)."""

    def __init__(self, field: str, *, caller_token: bool = False) -> None:
        self.field = field
        self.caller_token = caller_token

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, _tb: object) -> None:
        if isinstance(exc, GraphUnavailableError):
            raise DependencyException("Meta's Graph API could not be reached or answered something unreadable; "
                                      "nothing was changed. Retry the call.") from None
        if isinstance(exc, GraphApiError):
            if self.caller_token and (exc.is_token_error or exc.is_permission_error):
                raise InvalidParametersException(f"{self.field} was rejected by Meta: {exc.message}") from None
            if exc.code == META_PIN_MISMATCH:
                raise InvalidParametersException(
                    f"{self.field}.twoFactorPin does not match the two-step verification PIN this phone number "
                    "already has at Meta.") from None
            raise DependencyException(f"Meta's Graph API answered an error (code {exc.code}); "
                                      "nothing was changed. Retry the call.") from None


def quietly(meta_call: Callable[[str], None], meta_id: str) -> None:
    """A best-effort call to Meta: nothing of ours depends on its outcome."""
    try:
        meta_call(meta_id)
    except (GraphApiError, GraphUnavailableError):
        pass
