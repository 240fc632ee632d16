"""Media on Meta's side: ids handed out for uploads (`POST /{phone-number-id}/media`, streamed in
`media_http.py`) and for inbound media, `GET /{media-id}` (metadata and a short-lived download
URL), `DELETE /{media-id}`, and the download URL itself (`/meta/media-download/{media-id}`, which,
like Meta's lookaside URLs, also wants an access token in `Authorization`).

A media id belongs to one business phone number: the one that uploaded it, or the one that received
it in an inbound message. Uploaded ids live 30 days, inbound ones 7 (Meta's figures).

Other areas use `store_media` (inbound media, tests) and `media_exists` (sends by media id).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import urlencode

from wabalink.meta import media_types
from wabalink.meta.access import Caller, authorize_phone
from wabalink.meta.calls import GraphCall, SandboxCall
from wabalink.meta.errors import GraphError, SandboxError, invalid_parameter_error, unknown_object_error
from wabalink.meta.routing import Route
from wabalink.meta.sandbox_input import meta_id
from wabalink.secret_compare import same_secret
from wabalink.server.http import HttpResponse, json_response
from wabalink.store.blobs import BlobMissing, BlobStore, BlobTooLarge, Readable, open_blob_store
from wabalink.store.meta_media import MediaRecord, MetaMedia, lifetime_seconds
from wabalink.store.meta_state import new_numeric_id

if TYPE_CHECKING:
    from wabalink.meta.simulator import MetaSimulator

DOWNLOAD_PATH_PREFIX = "/meta/media-download/"
# Meta's media URLs stay valid for about five minutes.
DOWNLOAD_URL_LIFETIME_SECONDS = 300
SWEEP_BATCH = 10


class MediaSide:
    """The simulator's media rows and blob store (one per simulator, made on first use)."""

    def __init__(self, sim: MetaSimulator) -> None:
        self.rows = MetaMedia(sim.state.store)
        self.blobs: BlobStore = open_blob_store(getattr(sim.settings, "blob_store", None), sim.state.store.url,
                                                s3_endpoint_url=getattr(sim.settings, "s3_endpoint_url", None))


def media_side(sim: MetaSimulator) -> MediaSide:
    side = sim.__dict__.get("_media_side")
    if side is None:
        side = sim.__dict__.setdefault("_media_side", MediaSide(sim))
    return side


# --- for other areas ----------------------------------------------------------------------------

def store_media(sim: MetaSimulator, phone_number_id: str, source: Readable, mime_type: str, *,
                origin: str = "uploaded", filename: str | None = None) -> str:
    """Streams `source` into the blob store and returns the new Meta media id, owned by
    `phone_number_id`. Uploads must be one of Meta's types within its size limit (GraphError
    otherwise, nothing kept); inbound media is kept as received."""
    if origin not in ("uploaded", "inbound"):
        raise ValueError("origin is 'uploaded' or 'inbound'")
    mime = media_types.bare_mime(mime_type)
    checked = origin == "uploaded"
    if checked and mime not in media_types.SUPPORTED:
        raise invalid_parameter_error(f"Param file must be a file with one of the following types: "
                                      f"{media_types.supported_list()}. Received file of type '{mime}'.")
    side = media_side(sim)
    media_id = new_numeric_id()
    head = bytearray()
    # A sticker's own limit depends on its first bytes (animated or not): checked once they are read.
    max_bytes = media_types.SUPPORTED[mime].max_bytes if checked else media_types.LARGEST_MAX_BYTES
    try:
        written = side.blobs.put(media_id, source, max_bytes=max_bytes, head_check=head.extend)
    except BlobTooLarge:
        raise _too_large(mime, bytes(head)) from None
    if checked and written.size > media_types.size_limit(mime, bytes(head)):
        side.blobs.delete(media_id)
        raise _too_large(mime, bytes(head))
    now = time.time()
    side.rows.insert(MediaRecord(media_id, phone_number_id, mime, written.sha256, written.size, filename, media_id,
                                 origin, now, now + lifetime_seconds(origin), False))
    sweep_expired(sim, now)
    return media_id


def sweep_expired(sim: MetaSimulator, now: float) -> int:
    """Frees the bytes of a few expired media ids (each new media sweeps some, so the blob store
    stays bounded without a timer). Their rows stay, marked deleted."""
    swept = 0
    for media_id, _ in media_side(sim).rows.expired(now, SWEEP_BATCH):
        swept += delete_media(sim, media_id)
    return swept


def media_exists(sim: MetaSimulator, phone_number_id: str, media_id: str) -> bool:
    """Whether `media_id` is usable by `phone_number_id` now (its own, not deleted, not expired)."""
    return usable_media_record(sim, phone_number_id, media_id) is not None


def usable_media_record(sim: MetaSimulator, phone_number_id: str, media_id: str) -> MediaRecord | None:
    """The media (its type, size, file name) when `media_exists` says yes; else None."""
    record = media_side(sim).rows.get(media_id) if media_id.isdigit() else None
    if record is None or record.phone_number_id != phone_number_id or not record.usable(time.time()):
        return None
    return record


def delete_media(sim: MetaSimulator, media_id: str) -> bool:
    side = media_side(sim)
    record = side.rows.get(media_id)
    if record is None or not side.rows.mark_deleted(media_id):
        return False
    side.blobs.delete(record.blob_key)
    return True


def _too_large(mime: str, head: bytes) -> GraphError:
    return invalid_parameter_error(f"Param file is too large: the limit is {media_types.describe_limit(mime, head)}.")


# --- Graph --------------------------------------------------------------------------------------

def usable_media(sim: MetaSimulator, caller: Caller, media_id: str, method: str,
                 phone_number_id: str | None) -> MediaRecord:
    """The media a Graph call names, as Meta finds it: unknown, deleted, expired, or another
    number's (when `phone_number_id` is given) all read as an unknown object."""
    record = media_side(sim).rows.get(media_id)
    if record is None or not record.usable(time.time()):
        raise unknown_object_error(media_id, method)
    if phone_number_id and phone_number_id != record.phone_number_id:
        raise unknown_object_error(media_id, method)
    authorize_phone(sim, caller, record.phone_number_id, method)
    return record


def read_object(sim: MetaSimulator, call: GraphCall) -> dict[str, Any] | None:
    """`GET /{id}` for a media id: its metadata and download URL; None for other ids."""
    object_id = call.args["object_id"]
    record = media_side(sim).rows.get(object_id)
    if record is None:
        return None
    record = usable_media(sim, call.caller, object_id, "GET", call.params.get("phone_number_id"))
    return {"messaging_product": "whatsapp", "url": download_url(sim, record), "mime_type": record.mime_type,
            "sha256": record.sha256, "file_size": str(record.file_size), "id": record.id}


def delete_object(sim: MetaSimulator, call: GraphCall) -> dict[str, Any] | None:
    """`DELETE /{id}` for a media id; None for other ids."""
    media_id = call.args["object_id"]
    if media_side(sim).rows.get(media_id) is None:
        return None
    usable_media(sim, call.caller, media_id, "DELETE", call.params.get("phone_number_id"))
    if not delete_media(sim, media_id):
        raise unknown_object_error(media_id, "DELETE")
    return {"success": True}


# Media's Graph reads and deletes are bare `/{media-id}` paths: see read_object, delete_object
# (meta/objects.py). Uploads are streamed by media_http.py.
GRAPH_ROUTES: list[Route[Any]] = []


# --- the download URL ---------------------------------------------------------------------------

def download_url(sim: MetaSimulator, record: MediaRecord) -> str:
    expires = int(time.time()) + DOWNLOAD_URL_LIFETIME_SECONDS
    query = urlencode({"mid": record.id, "ext": expires, "hash": _url_signature(sim, record.id, expires)})
    settings = sim.settings
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    return f"http://{host}:{settings.port}{DOWNLOAD_PATH_PREFIX}{record.id}?{query}"


def _url_signature(sim: MetaSimulator, media_id: str, expires: int) -> str:
    return hmac.new(sim.app.app_secret.encode(), f"media:{media_id}:{expires}".encode(), hashlib.sha256).hexdigest()


def open_download(sim: MetaSimulator, caller: Caller, media_id: str, params: dict[str, str]) -> tuple[MediaRecord, BinaryIO]:
    """The media's bytes for a download URL this simulator handed out, not yet expired."""
    try:
        expires = int(params.get("ext", ""))
    except ValueError:
        raise GraphError(404, "URL signature mismatch", "OAuthException", 100) from None
    signature = params.get("hash", "")
    if not same_secret(signature.encode(), _url_signature(sim, media_id, expires).encode()):
        raise GraphError(404, "URL signature mismatch", "OAuthException", 100)
    if expires < time.time():
        raise GraphError(404, "URL signature expired", "OAuthException", 100)
    record = usable_media(sim, caller, media_id, "GET", None)
    try:
        return record, media_side(sim).blobs.open(record.blob_key)
    except BlobMissing:
        raise unknown_object_error(media_id, "GET") from None


# --- sandbox ------------------------------------------------------------------------------------

def _media_json(record: MediaRecord) -> dict[str, Any]:
    return {"id": record.id, "phoneNumberId": record.phone_number_id, "mimeType": record.mime_type,
            "sha256": record.sha256, "fileSize": record.file_size, "filename": record.filename,
            "origin": record.origin, "createdAt": record.created_at, "expiresAt": record.expires_at,
            "deleted": record.deleted, "usable": record.usable(time.time())}


def _sandbox_record(sim: MetaSimulator, call: SandboxCall) -> MediaRecord:
    media_id = meta_id(call.args["media_id"], "mediaId")
    record = media_side(sim).rows.get(media_id)
    if record is None:
        raise SandboxError(404, f"media {media_id} not found")
    return record


def _show(sim: MetaSimulator, call: SandboxCall) -> HttpResponse:
    return json_response(200, _media_json(_sandbox_record(sim, call)))


def _expire(sim: MetaSimulator, call: SandboxCall) -> HttpResponse:
    record = _sandbox_record(sim, call)
    media_side(sim).rows.expire(record.id, time.time())
    return json_response(200, _media_json(_sandbox_record(sim, call)))


SANDBOX_ROUTES = [
    Route("GET", "/media/{media_id}", _show),
    Route("POST", "/media/{media_id}/expire", _expire),
]

__all__ = ["store_media", "media_exists", "usable_media_record", "delete_media", "GRAPH_ROUTES", "SANDBOX_ROUTES", "open_download",
           "DOWNLOAD_PATH_PREFIX", "media_side"]
