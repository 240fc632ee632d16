"""Graph's resumable upload API, as template header media use it: `POST /{app_id}/uploads`
(file_name, file_length, file_type) opens a session `{"id": "upload:<id>"}`; `POST /upload:<id>`
with the `file_offset: 0` header and the file's bytes answers the handle `{"h": "4::..."}` that
goes in a HEADER component's `example.header_handle`. `GET /upload:<id>` answers how much arrived.

The simulator keeps each file's size and SHA-256, not its bytes: nothing reads them back."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import TYPE_CHECKING, Any

from wabalink.meta.calls import GraphCall
from wabalink.meta.errors import GraphError, invalid_parameter_error, unknown_object_error
from wabalink.store import meta_templates as rows
from wabalink.store.meta_state import new_numeric_id

if TYPE_CHECKING:
    from wabalink.meta.simulator import MetaSimulator

FILE_TYPES = ("image/jpeg", "image/jpg", "image/png", "video/mp4", "application/pdf")
MAX_FILE_LENGTH = 100 * 1024 * 1024
HANDLE_LIFETIME_SECONDS = 30 * 86400
UPLOAD_PREFIX = "upload:"


def start(sim: MetaSimulator, call: GraphCall) -> dict[str, Any]:
    app_id, params = call.args["app_id"], call.params
    if app_id != call.caller.app_id:
        raise unknown_object_error(app_id, "POST")
    file_type = params.get("file_type", "")
    if file_type not in FILE_TYPES:
        raise invalid_parameter_error(f"Param file_type must be one of {', '.join(FILE_TYPES)}")
    try:
        file_length = int(params.get("file_length", ""))
    except ValueError:
        raise invalid_parameter_error("Param file_length must be an integer") from None
    if not 0 < file_length <= MAX_FILE_LENGTH:
        raise invalid_parameter_error(f"Param file_length must be from 1 to {MAX_FILE_LENGTH}")
    file_name = (params.get("file_name") or "file")[:255]
    session_id = new_numeric_id()
    with sim.state.store.writer() as cursor:
        rows.insert_upload(cursor, {"id": session_id, "app_id": app_id, "file_name": file_name,
                                    "file_length": file_length, "file_type": file_type, "received": 0,
                                    "sha256": None, "handle": None, "created_at": time.time()})
    return {"id": UPLOAD_PREFIX + session_id}


def receive(sim: MetaSimulator, call: GraphCall, object_id: str) -> dict[str, Any]:
    """The file's bytes, in one piece from offset 0."""
    session = _session(sim, call, object_id, "POST")
    request = call.request
    body = request.body if request is not None else b""
    offset = request.headers.get("file_offset", "0") if request is not None else "0"
    if session["handle"] is not None:
        raise invalid_parameter_error("This upload session is complete; start a new one")
    if offset.strip() != "0":
        raise invalid_parameter_error("Param file_offset must be 0: send the whole file in one request")
    if len(body) != session["file_length"]:
        raise GraphError(400, f"(#100) The upload has {len(body)} bytes; file_length announced "
                         f"{session['file_length']}", "OAuthException", 100)
    handle = new_handle(session["file_type"])
    with sim.state.store.writer() as cursor:
        if not rows.finish_upload(cursor, session["id"], len(body), hashlib.sha256(body).hexdigest(), handle):
            raise invalid_parameter_error("This upload session is complete; start a new one")
    return {"h": handle}


def status(sim: MetaSimulator, call: GraphCall, object_id: str) -> dict[str, Any]:
    session = _session(sim, call, object_id, "GET")
    return {"id": object_id, "file_offset": session["received"]}


def _session(sim: MetaSimulator, call: GraphCall, object_id: str, method: str) -> rows.Row:
    with sim.state.store.reader() as cursor:
        session = rows.get_upload(cursor, object_id[len(UPLOAD_PREFIX):])
    if session is None or session["app_id"] != call.caller.app_id:
        raise unknown_object_error(object_id, method)
    return session


def new_handle(file_type: str) -> str:
    """Meta's handle form: `4::<base64 MIME type>:<opaque>:e:<expiry>:<opaque>`."""
    mime = base64.b64encode(file_type.encode()).decode()
    expiry = int(time.time()) + HANDLE_LIFETIME_SECONDS
    return f"4::{mime}:AR{secrets.token_urlsafe(32)}:e:{expiry}:AR{secrets.token_urlsafe(24)}"
