"""The two simulator routes whose bodies are files, served straight from ASGI so bytes stream
instead of being read whole (the other routes read bounded JSON bodies):

  POST /meta/graph/{version}/{phone-number-id}/media   multipart/form-data: messaging_product, type, file
  GET  /meta/media-download/{media-id}?mid=&ext=&hash=   the URL `GET /{media-id}` answered

The handlers are synchronous and run in the simulator's worker threads; `AsgiBodyReader` gives them
the request body as a file, pulling chunks from the event loop as they arrive.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from wabalink.meta import media, media_types
from wabalink.meta.access import authorize_phone
from wabalink.meta.errors import GraphError, invalid_parameter_error, unknown_object_error
from wabalink.meta.multipart import MultipartError, MultipartReader, boundary_of
from wabalink.store.blobs import Readable, iter_chunks

if TYPE_CHECKING:
    from wabalink.meta.simulator import MetaSimulator

UPLOAD_PATH = re.compile(r"^/meta/graph(?:/v[0-9]+\.[0-9]+)?/([0-9]{1,32})/media$")
DOWNLOAD_PATH = re.compile(r"^/meta/media-download/([0-9]{1,32})$")
MAX_FIELD_BYTES = 4096

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Answer = tuple[int, list[tuple[bytes, bytes]], Iterator[bytes]]


def is_streamed(scope: dict[str, Any]) -> bool:
    method, path = scope.get("method"), scope.get("path", "")
    if not path.startswith("/meta/"):
        return False  # the AWS API's paths: one cheap test on every request
    return (method == "POST" and UPLOAD_PATH.match(path) is not None) or \
        (method == "GET" and DOWNLOAD_PATH.match(path) is not None)


class ClientDisconnected(OSError):
    pass


class AsgiBodyReader:
    """The request body as a blocking file, for a worker thread: each read waits for the next
    chunk from the event loop."""

    def __init__(self, receive: Receive, loop: asyncio.AbstractEventLoop) -> None:
        self._receive, self._loop = receive, loop
        self._buffer = b""
        self._done = False

    async def _next_message(self) -> dict[str, Any]:
        return await self._receive()

    def read(self, size: int = -1) -> bytes:
        while not self._done and (size < 0 or len(self._buffer) < size):
            message = asyncio.run_coroutine_threadsafe(self._next_message(), self._loop).result()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected("the client went away during the upload")
            self._buffer += message.get("body", b"")
            self._done = not message.get("more_body")
            if size >= 0 and self._buffer:
                break  # a short read is fine: callers loop
        if size < 0:
            size = len(self._buffer)
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


async def serve(sim: MetaSimulator, workers: ThreadPoolExecutor, scope: dict[str, Any], receive: Receive,
                send: Send) -> None:
    loop = asyncio.get_running_loop()
    headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
    query = scope.get("query_string", b"").decode("latin-1")
    path = scope["path"]
    body = AsgiBodyReader(receive, loop)
    try:
        if scope["method"] == "POST":
            status, answer_headers, chunks = await loop.run_in_executor(workers, upload, sim, path, headers, query, body)
        else:
            status, answer_headers, chunks = await loop.run_in_executor(workers, download, sim, path, headers, query)
    except ClientDisconnected:
        return
    await send({"type": "http.response.start", "status": status, "headers": answer_headers})
    try:
        while (chunk := await loop.run_in_executor(workers, next, chunks, None)) is not None:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            await loop.run_in_executor(workers, close)
    await send({"type": "http.response.body", "body": b""})


def _json(status: int, payload: dict[str, Any], extra: list[tuple[bytes, bytes]] | None = None) -> Answer:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    return status, headers + (extra or []), iter([body])


def _error(error: GraphError) -> Answer:
    return _json(error.status, error.body(), [(b"x-fb-trace-id", error.fbtrace_id.encode())])


def _token(headers: dict[str, str], params: dict[str, str]) -> str | None:
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    if scheme.lower() in ("bearer", "oauth") and credentials.strip():
        return credentials.strip()
    return params.get("access_token") or None


def _params(query: str) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(query, keep_blank_values=True))


def upload(sim: MetaSimulator, path: str, headers: dict[str, str], query: str, body: Readable) -> Answer:
    match = UPLOAD_PATH.match(path)
    assert match is not None
    phone_id = match.group(1)
    params = _params(query)
    try:
        caller = sim.authenticate(_token(headers, params))
        sim.faults.apply(path[len("/meta/graph"):])
        authorize_phone(sim, caller, phone_id, "POST")
        if sim.state.get_phone_number(phone_id) is None:
            raise unknown_object_error(phone_id, "POST")
        boundary = boundary_of(headers.get("content-type", ""))
        if boundary is None:
            raise invalid_parameter_error("The request must be multipart/form-data with a file part")
        return _json(200, {"id": _receive_parts(sim, phone_id, MultipartReader(body, boundary), params)})
    except GraphError as error:
        return _error(error)
    except MultipartError as error:
        return _error(invalid_parameter_error(f"The multipart body is malformed: {error}"))


def _receive_parts(sim: MetaSimulator, phone_id: str, reader: MultipartReader, fields: dict[str, str]) -> str:
    """Reads every part, storing the file as it streams by; fields may come before or after it."""
    media_id: str | None = None
    for part in reader.parts():
        if part.filename is None and part.name != "file":
            fields[part.name] = part.read_all(MAX_FIELD_BYTES).decode("utf-8", "replace")
            continue
        if media_id is not None:
            raise invalid_parameter_error("Only one file can be uploaded per request")
        mime = media_types.bare_mime(fields.get("type")) or media_types.media_mime(part.content_type, part.filename or "")
        media_id = media.store_media(sim, phone_id, part, mime, origin="uploaded", filename=part.filename)
    try:
        if fields.get("messaging_product") != "whatsapp":
            raise invalid_parameter_error("The parameter messaging_product is required and must be 'whatsapp'")
        if not fields.get("type"):
            raise invalid_parameter_error("The parameter type is required")
        if media_id is None:
            raise invalid_parameter_error("The parameter file is required")
    except GraphError:
        if media_id is not None:
            media.delete_media(sim, media_id)
        raise
    return media_id


def download(sim: MetaSimulator, path: str, headers: dict[str, str], query: str) -> Answer:
    match = DOWNLOAD_PATH.match(path)
    assert match is not None
    params = _params(query)
    try:
        caller = sim.authenticate(_token(headers, {}))  # like lookaside URLs: the token in the header only
        record, stream = media.open_download(sim, caller, match.group(1), params)
    except GraphError as error:
        return _error(error)
    answer_headers = [(b"content-type", record.mime_type.encode("latin-1")),
                      (b"content-length", str(record.file_size).encode()),
                      (b"content-disposition", b"attachment")]
    return 200, answer_headers, iter_chunks(stream)
