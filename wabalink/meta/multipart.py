"""multipart/form-data bodies of Graph calls (file uploads such as a Flow's flow.json): each part
becomes a parameter, files by their field name, as UTF-8 text."""

from __future__ import annotations

from email.parser import BytesParser
from email.policy import HTTP

from wabalink.meta.errors import invalid_parameter_error
from wabalink.server.http import HttpRequest


def multipart_params(request: HttpRequest) -> dict[str, str]:
    content_type = request.headers.get("content-type", "")
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + request.body)
    if not message.is_multipart():
        raise invalid_parameter_error("The multipart/form-data body could not be read")
    params: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(payload, bytes):
            raise invalid_parameter_error("Each part of a multipart/form-data body needs a name")
        try:
            params[name] = payload.decode("utf-8")
        except UnicodeDecodeError:
            raise invalid_parameter_error(f"The part {name} is not UTF-8 text") from None
    return params
