"""multipart/form-data bodies of ordinary Graph calls (a Flow's flow.json upload): each part becomes
a parameter, as UTF-8 text. Media uploads never come here: they are streamed (media_http.py)."""

from __future__ import annotations

import io

from wabalink.meta.errors import invalid_parameter_error
from wabalink.meta.multipart import MultipartError, MultipartReader, boundary_of
from wabalink.server.http import HttpRequest

PART_MAX_BYTES = 10 * 1024 * 1024  # a Flow JSON's limit


def multipart_params(request: HttpRequest) -> dict[str, str]:
    boundary = boundary_of(request.headers.get("content-type", ""))
    if boundary is None:
        raise invalid_parameter_error("A multipart/form-data body needs a boundary")
    params: dict[str, str] = {}
    try:
        for part in MultipartReader(io.BytesIO(request.body), boundary).parts():
            if not part.name:
                raise invalid_parameter_error("Each part of a multipart/form-data body needs a name")
            params[part.name] = part.read_all(PART_MAX_BYTES).decode("utf-8")
    except MultipartError as error:
        raise invalid_parameter_error(f"The multipart/form-data body could not be read: {error}") from None
    except UnicodeDecodeError:
        raise invalid_parameter_error("A part of the multipart/form-data body is not UTF-8 text") from None
    return params
