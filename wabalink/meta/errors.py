"""Errors of the simulator, worded as Meta words them: `GraphError` is a Graph API error answer
(`{"error": {"message", "type", "code", "error_subcode"?, "fbtrace_id"}}`), `SandboxError` a sandbox
refusal (`{"error": {"message"}}`)."""

from __future__ import annotations

import secrets
import string
import time
from typing import Any

# Subcodes of OAuthException 190 (Meta's error-handling guide).
SUBCODE_SESSION_EXPIRED = 463
SUBCODE_SESSION_INVALIDATED = 460  # the user changed the password or Meta invalidated the session


def new_fbtrace_id() -> str:
    alphabet = string.ascii_letters + string.digits + "_-"
    return "".join(secrets.choice(alphabet) for _ in range(27))


class GraphError(Exception):
    """A Graph API error answer: HTTP status and the `error` object Meta sends."""

    def __init__(self, status: int, message: str, type_: str, code: int, subcode: int | None = None,
                 details: str | None = None) -> None:
        super().__init__(message)
        self.details = details  # Cloud API errors: `error_data.details`
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.subcode = subcode
        self.fbtrace_id = new_fbtrace_id()

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.details is not None:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        error["fbtrace_id"] = self.fbtrace_id
        return {"error": error}


class SandboxError(Exception):
    """A sandbox request the simulator refuses: 400 for bad input, 404 for unknown ids."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def missing_token_error() -> GraphError:
    return GraphError(400, "An access token is required to request this resource.", "OAuthException", 104)


def unknown_token_error() -> GraphError:
    return GraphError(400, "Invalid OAuth access token - Cannot parse access token", "OAuthException", 190)


def expired_token_message(expires_at: float) -> str:
    when = time.strftime("%A, %d-%b-%y %H:%M:%S UTC", time.gmtime(expires_at))
    return f"Session has expired on {when}. The current time is " \
           f"{time.strftime('%A, %d-%b-%y %H:%M:%S UTC', time.gmtime())}."


REVOKED_TOKEN_MESSAGE = ("The session has been invalidated because the user changed their password or "
                         "Facebook has changed the session for security reasons.")


def expired_token_error(expires_at: float) -> GraphError:
    return GraphError(400, f"Error validating access token: {expired_token_message(expires_at)}",
                      "OAuthException", 190, SUBCODE_SESSION_EXPIRED)


def revoked_token_error() -> GraphError:
    return GraphError(400, f"Error validating access token: {REVOKED_TOKEN_MESSAGE}",
                      "OAuthException", 190, SUBCODE_SESSION_INVALIDATED)


def permission_error(what: str) -> GraphError:
    return GraphError(403, f"(#200) Permissions error: the access token lacks permission for {what}",
                      "OAuthException", 200)


def unknown_object_error(object_id: str, method: str) -> GraphError:
    return GraphError(400, f"Unsupported {method.lower()} request. Object with ID '{object_id}' does not exist, "
                      "cannot be loaded due to missing permissions, or does not support this operation.",
                      "GraphMethodException", 100, 33)


def invalid_parameter_error(message: str) -> GraphError:
    return GraphError(400, f"(#100) {message}", "OAuthException", 100)


def unknown_path_error(path: str) -> GraphError:
    return GraphError(400, f"Unknown path components: {path}", "OAuthException", 2500)


def injected_failure_error(status: int) -> GraphError:
    if status >= 500:
        return GraphError(status, "An unexpected error has occurred. Please retry your request later.",
                          "OAuthException", 2)
    return GraphError(status, "(#1) An unknown error occurred (injected by the wabalink sandbox)",
                      "OAuthException", 1)
