"""AWS errors as raised anywhere in wabalink and serialized by `protocol.RestJsonProtocol`.

Every error is a class with its code and HTTP status, so a misspelt code cannot reach a client:
the modeled ones (`InvalidParametersException` 400, `ResourceNotFoundException` 404,
`DependencyException` 502, ...) are generated from the service model into `aws/exceptions.py`;
the protocol and authentication errors real AWS endpoints answer but the model does not declare
are below, with the statuses those endpoints use.
"""

from __future__ import annotations

from typing import ClassVar


class AwsError(Exception):
    """An error answered to the client as `x-amzn-ErrorType: <code>` + `{"message": ...}`."""

    code: ClassVar[str] = "InternalServiceException"
    status: ClassVar[int] = 500
    sender_fault: ClassVar[bool] = False
    # Protocol-level errors may answer any operation; modeled ones only those that declare them.
    protocol_level: ClassVar[bool] = False

    def __init__(self, message: str) -> None:
        super().__init__(f"{self.code}: {message}")
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class _ProtocolError(AwsError):
    protocol_level = True
    sender_fault = True


class SerializationException(_ProtocolError):
    code = "SerializationException"
    status = 400


class UnknownOperationException(_ProtocolError):
    code = "UnknownOperationException"
    status = 404


class NotImplementedException(_ProtocolError):
    code = "NotImplementedException"
    status = 501
    sender_fault = False

    def __init__(self, operation_name: str) -> None:
        super().__init__(f"wabalink does not implement {operation_name} yet; see the coverage table in the README.")


class MissingAuthenticationTokenException(_ProtocolError):
    code = "MissingAuthenticationTokenException"
    status = 403


class IncompleteSignatureException(_ProtocolError):
    code = "IncompleteSignatureException"
    status = 403


class InvalidSignatureException(_ProtocolError):
    code = "InvalidSignatureException"
    status = 403


class UnrecognizedClientException(_ProtocolError):
    code = "UnrecognizedClientException"
    status = 403


PROTOCOL_ERRORS: dict[str, type[AwsError]] = {
    error.code: error for error in (
        SerializationException, UnknownOperationException, NotImplementedException,
        MissingAuthenticationTokenException, IncompleteSignatureException, InvalidSignatureException,
        UnrecognizedClientException)
}
