"""Meta's media types and size limits (WhatsApp Cloud API "Supported media types"), shared by the
simulator (which refuses what Meta refuses) and the service (which says so before uploading, naming
the caller's field)."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass

KB = 1024
MB = 1024 * 1024


@dataclass(frozen=True)
class MediaType:
    mime_type: str
    kind: str  # audio | document | image | sticker | video
    max_bytes: int


_TYPES = [
    MediaType("audio/aac", "audio", 16 * MB),
    MediaType("audio/amr", "audio", 16 * MB),
    MediaType("audio/mpeg", "audio", 16 * MB),
    MediaType("audio/mp4", "audio", 16 * MB),
    MediaType("audio/ogg", "audio", 16 * MB),
    MediaType("text/plain", "document", 100 * MB),
    MediaType("application/pdf", "document", 100 * MB),
    MediaType("application/msword", "document", 100 * MB),
    MediaType("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "document", 100 * MB),
    MediaType("application/vnd.ms-excel", "document", 100 * MB),
    MediaType("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "document", 100 * MB),
    MediaType("application/vnd.ms-powerpoint", "document", 100 * MB),
    MediaType("application/vnd.openxmlformats-officedocument.presentationml.presentation", "document", 100 * MB),
    MediaType("image/jpeg", "image", 5 * MB),
    MediaType("image/png", "image", 5 * MB),
    MediaType("image/webp", "sticker", 500 * KB),  # animated; a static sticker: STATIC_STICKER_MAX_BYTES
    MediaType("video/mp4", "video", 16 * MB),
    MediaType("video/3gpp", "video", 16 * MB),
]
SUPPORTED: dict[str, MediaType] = {t.mime_type: t for t in _TYPES}
STATIC_STICKER_MAX_BYTES = 100 * KB
# The largest accepted file: what a stream is cut at before its type is even known.
LARGEST_MAX_BYTES = max(t.max_bytes for t in _TYPES)
# Spellings seen in the wild for the types above.
_ALIASES = {"image/jpg": "image/jpeg", "video/3gp": "video/3gpp", "audio/mp3": "audio/mpeg",
            "audio/x-m4a": "audio/mp4", "audio/m4a": "audio/mp4", "audio/opus": "audio/ogg"}
_EXTENSIONS = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
               ".aac": "audio/aac", ".amr": "audio/amr", ".mp3": "audio/mpeg", ".m4a": "audio/mp4",
               ".ogg": "audio/ogg", ".opus": "audio/ogg", ".mp4": "video/mp4", ".3gp": "video/3gpp",
               ".txt": "text/plain", ".pdf": "application/pdf"}
# What S3 and HTTP servers answer when they do not know the type: look at the name instead.
GENERIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream", "application/x-www-form-urlencoded"})


def bare_mime(content_type: str | None) -> str:
    """`audio/ogg; codecs=opus` -> `audio/ogg`, lowercase, aliases resolved."""
    bare = (content_type or "").split(";", 1)[0].strip().lower()
    return _ALIASES.get(bare, bare)


def mime_from_name(name: str) -> str:
    """The MIME type a file name's extension says, or "" when it says nothing known."""
    lowered = name.lower()
    dot = lowered.rfind(".")
    if dot < 0 or "/" in lowered[dot:]:
        return ""
    extension = lowered[dot:]
    return _EXTENSIONS.get(extension) or bare_mime(mimetypes.types_map.get(extension))


def media_mime(content_type: str | None, name: str) -> str:
    """The object's type: its Content-Type unless that is generic, else its name's extension."""
    declared = bare_mime(content_type)
    return declared if declared not in GENERIC_TYPES else mime_from_name(name)


def is_animated_webp(head: bytes) -> bool:
    """A WebP file's VP8X header carries the animation flag (RIFF....WEBPVP8X, flags byte 20)."""
    return len(head) > 20 and head[:4] == b"RIFF" and head[8:16] == b"WEBPVP8X" and bool(head[20] & 0x02)


def size_limit(mime_type: str, head: bytes = b"") -> int:
    media_type = SUPPORTED[mime_type]
    if media_type.kind == "sticker" and not is_animated_webp(head):
        return STATIC_STICKER_MAX_BYTES
    return media_type.max_bytes


def describe_limit(mime_type: str, head: bytes = b"") -> str:
    limit = size_limit(mime_type, head)
    media_type = SUPPORTED[mime_type]
    amount = f"{limit // MB} MB" if limit >= MB else f"{limit // KB} KB"
    what = media_type.kind
    if media_type.kind == "sticker":
        what = "animated sticker" if is_animated_webp(head) else "static sticker"
    return f"{amount} for {what} files ({mime_type})"


def supported_list() -> str:
    return ", ".join(SUPPORTED)


def file_extension(mime_type: str) -> str:
    """The extension GetWhatsAppMessageMedia writes: the MIME subtype (`image/jpeg` -> `jpeg`), as AWS's
    own samples compute the object key they read back (`prefix + mediaId + "." + mimeType.split("/")[-1]`)."""
    return bare_mime(mime_type).rsplit("/", 1)[-1] or "bin"
