"""AWS errors as raised anywhere in wabalink and serialized by `protocol.RestJsonProtocol`.

`AwsError(code, message)` takes its HTTP status from the service model's error shape
(`error.httpStatusCode`) when the code is modeled (ValidationException 400,
ResourceNotFoundException 404, DependencyException 502, ...). Codes that are not in the model
are protocol or authentication errors with the fixed statuses real AWS endpoints use.
"""

from __future__ import annotations

from wabalink.aws.model import error_http_status

# Errors the model does not declare; statuses as real AWS rest-json endpoints answer them.
PROTOCOL_ERROR_STATUS: dict[str, int] = {
    "SerializationException": 400,
    "UnknownOperationException": 404,
    "NotImplementedException": 501,
    "MissingAuthenticationTokenException": 403,
    "IncompleteSignatureException": 403,
    "InvalidSignatureException": 403,
    "UnrecognizedClientException": 403,
}

# Used only for a code that is neither modeled nor a known protocol error.
DEFAULT_ERROR_STATUS = 400


def status_for_code(code: str) -> int:
    """The HTTP status for an error code: the model's first, then the protocol table."""
    if code in PROTOCOL_ERROR_STATUS:
        return PROTOCOL_ERROR_STATUS[code]
    modeled = error_http_status(code)
    return modeled if modeled is not None else DEFAULT_ERROR_STATUS


class AwsError(Exception):
    """An error answered to the client as `x-amzn-ErrorType: <code>` + `{"message": ...}`."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status if status is not None else status_for_code(code)

    def __repr__(self) -> str:
        return f"AwsError({self.code!r}, {self.message!r}, status={self.status})"


def invalid_parameters(message: str) -> AwsError:
    return AwsError("InvalidParametersException", message)


def resource_not_found(message: str) -> AwsError:
    return AwsError("ResourceNotFoundException", message)


def dependency_failed(message: str) -> AwsError:
    return AwsError("DependencyException", message)


def not_implemented(operation_name: str) -> AwsError:
    return AwsError(
        "NotImplementedException",
        f"wabalink does not implement {operation_name} yet; see the coverage table in the README.",
    )
