"""Media: PostWhatsAppMessageMedia (S3 -> Meta), GetWhatsAppMessageMedia (Meta -> S3) and
DeleteWhatsAppMessageMedia.

Bytes stream in chunks from S3 into Meta's multipart upload, and from Meta's download URL into a
temporary file that S3 then reads (S3 needs the length up front; a file keeps memory flat however
large the media). A media id belongs to the phone number that uploaded it: Meta is asked with that
number's id, and answers "not found" for another number's media, as for expired or deleted ones.
"""

from __future__ import annotations

import hashlib
import posixpath
import tempfile
from typing import Any, BinaryIO

from wabalink.aws.exceptions import (
    AccessDeniedByMetaException,
    DependencyException,
    InvalidParametersException,
    ResourceNotFoundException,
)
from wabalink.aws.shapes import (
    DeleteWhatsAppMessageMediaInput,
    DeleteWhatsAppMessageMediaOutput,
    GetWhatsAppMessageMediaInput,
    GetWhatsAppMessageMediaOutput,
    PostWhatsAppMessageMediaInput,
    PostWhatsAppMessageMediaOutput,
)
from wabalink.meta import media_types
from wabalink.meta.client import GraphApiError, MediaInfo
from wabalink.meta.media_client import SourceFailed
from wabalink.service.meta_errors import meta_errors
from wabalink.service.operations import Operations, RequestContext, operation
from wabalink.service.ownership import owned_phone
from wabalink.service.s3 import S3Access, S3Object, read_s3_source, s3_access

CHUNK_BYTES = 64 * 1024
META_INVALID_PARAMETER = 100  # Graph: unknown object, or a parameter Meta refuses
PHONE_FIELD = "originationPhoneNumberId"


class Media(Operations):

    @property
    def s3(self) -> S3Access:
        return s3_access(self.settings.s3_endpoint_url)

    def _meta_phone_id(self, ctx: RequestContext, value: str) -> str:
        with self.store.reader() as cursor:
            phone = owned_phone(cursor, ctx, value, PHONE_FIELD, missing=ResourceNotFoundException)
        return str(phone["meta_phone_number_id"])

    @operation("PostWhatsAppMessageMedia")
    def post_whatsapp_message_media(self, ctx: RequestContext, params: PostWhatsAppMessageMediaInput
                                    ) -> PostWhatsAppMessageMediaOutput:
        meta_phone_id = self._meta_phone_id(ctx, params["originationPhoneNumberId"])
        s3_file, presigned = params.get("sourceS3File"), params.get("sourceS3PresignedUrl")
        field = "sourceS3File" if s3_file is not None else "sourceS3PresignedUrl"
        if s3_file is None and presigned is not None and not _header(presigned.get("headers") or {}, "content-type"):
            raise InvalidParametersException(
                "sourceS3PresignedUrl.headers: give the object's Content-Type header (for example "
                "{\"Content-Type\": \"image/jpeg\"}); it is the media's type.")
        source = read_s3_source(self.s3, ctx.region, s3_file, presigned)
        try:
            mime = _source_mime(source, presigned)
            _check_type_and_size(source, mime, field)
            with _upload_errors(field):
                media_id = self.graph.upload_media(meta_phone_id, source, mime, posixpath.basename(source.name),
                                                   size=source.size)
        finally:
            source.close()
        return {"mediaId": media_id}

    @operation("GetWhatsAppMessageMedia")
    def get_whatsapp_message_media(self, ctx: RequestContext, params: GetWhatsAppMessageMediaInput
                                   ) -> GetWhatsAppMessageMediaOutput:
        meta_phone_id = self._meta_phone_id(ctx, params["originationPhoneNumberId"])
        s3_file, presigned = params.get("destinationS3File"), params.get("destinationS3PresignedUrl")
        metadata_only = bool(params.get("metadataOnly"))
        if s3_file is not None and presigned is not None:
            raise InvalidParametersException(
                "Give only one of destinationS3File and destinationS3PresignedUrl: where to write the media.")
        if s3_file is None and presigned is None and not metadata_only:
            raise InvalidParametersException(
                "Give destinationS3File or destinationS3PresignedUrl (where to write the media), "
                "or metadataOnly true to get only its type and size.")
        info = self._media_info(params["mediaId"], meta_phone_id, params["originationPhoneNumberId"])
        if not metadata_only:
            with tempfile.TemporaryFile() as spool:
                self._download(info, spool)
                if s3_file is not None:
                    key = s3_file["key"] + info.id + "." + media_types.file_extension(info.mime_type)
                    self.s3.put_file(ctx.region, s3_file["bucketName"], key, spool, info.file_size, info.mime_type,
                                     "destinationS3File")
                else:
                    assert presigned is not None
                    self.s3.put_presigned(presigned["url"], presigned.get("headers") or {}, spool, info.file_size,
                                          "destinationS3PresignedUrl")
        return {"mimeType": info.mime_type, "fileSize": info.file_size}

    @operation("DeleteWhatsAppMessageMedia")
    def delete_whatsapp_message_media(self, ctx: RequestContext, params: DeleteWhatsAppMessageMediaInput
                                      ) -> DeleteWhatsAppMessageMediaOutput:
        meta_phone_id = self._meta_phone_id(ctx, params["originationPhoneNumberId"])
        with _media_id_errors(params["mediaId"], params["originationPhoneNumberId"]):
            self.graph.delete_media(params["mediaId"], meta_phone_id)
        return {"success": True}

    def _media_info(self, media_id: str, meta_phone_id: str, phone_value: str) -> MediaInfo:
        with _media_id_errors(media_id, phone_value):
            return self.graph.get_media(media_id, meta_phone_id)

    def _download(self, info: MediaInfo, target: BinaryIO) -> None:
        """Meta's bytes into `target`, checked against the size and SHA-256 Meta announced."""
        digest, size = hashlib.sha256(), 0
        with _meta_refusals("mediaId"), self.graph.download_media(info.url) as download:
            while chunk := download.read(CHUNK_BYTES):
                digest.update(chunk)
                size += len(chunk)
                target.write(chunk)
        if size != info.file_size or digest.hexdigest() != info.sha256:
            raise DependencyException("Meta's media download did not match the size and SHA-256 Meta announced; "
                                      "nothing was written. Retry the call.")
        target.seek(0)


class _meta_refusals(meta_errors):
    """Meta refusing the service's own access (a permission or token error) is AccessDeniedByMeta;
    other Graph failures are as `meta_errors` says."""

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, GraphApiError) and (exc.is_permission_error or exc.is_token_error):
            raise AccessDeniedByMetaException(
                f"{self.field}: Meta refused wabalink's access to this phone number's media (code {exc.code}): "
                f"{exc.message}") from None
        super().__exit__(exc_type, exc, tb)


class _media_id_errors(_meta_refusals):
    """Meta's "unknown object" for a media id: not found for this number (unknown, another number's,
    expired or deleted)."""

    def __init__(self, media_id: str, phone_value: str) -> None:
        super().__init__("mediaId")
        self.media_id, self.phone_value = media_id, phone_value

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, GraphApiError) and exc.code == META_INVALID_PARAMETER:
            raise ResourceNotFoundException(
                f"mediaId: media {self.media_id} was not found for {PHONE_FIELD} {self.phone_value}. Media ids "
                "belong to the phone number that uploaded or received them, and expire (30 days after upload, "
                "7 days for received media) or are deleted.") from None
        super().__exit__(exc_type, exc, tb)


class _upload_errors(_meta_refusals):
    """Meta refusing the file itself (its type or size) is the caller's source, not Meta failing."""

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, GraphApiError) and exc.code == META_INVALID_PARAMETER:
            raise InvalidParametersException(f"{self.field}: Meta refused the file: {exc.message}") from None
        if isinstance(exc, SourceFailed):
            raise DependencyException(f"{self.field}: reading the object from S3 failed part way ({exc}); "
                                      "nothing was uploaded. Retry the call.") from None
        super().__exit__(exc_type, exc, tb)


def _header(headers: dict[str, str], name: str) -> str | None:
    return next((value for key, value in headers.items() if key.lower() == name), None)


def _source_mime(source: S3Object, presigned: Any) -> str:
    """The media's type: the presigned request's Content-Type header, else the object's own
    Content-Type, else its key's extension."""
    declared = media_types.bare_mime(_header(presigned.get("headers") or {}, "content-type")) if presigned else ""
    if declared and declared not in media_types.GENERIC_TYPES:
        return declared
    return media_types.media_mime(source.content_type, source.name)


def _check_type_and_size(source: S3Object, mime: str, field: str) -> None:
    if mime not in media_types.SUPPORTED:
        shown = mime or "unknown (no Content-Type and no known extension)"
        raise InvalidParametersException(
            f"{field}: the object's type {shown} is not a type WhatsApp accepts. Supported types: "
            f"{media_types.supported_list()}. Set the object's Content-Type or use a matching file extension.")
    if source.size is None:
        return  # a chunked presigned answer: Meta checks the size as the bytes arrive
    head = source.head(32) if media_types.SUPPORTED[mime].kind == "sticker" else b""
    if source.size > media_types.size_limit(mime, head):
        raise InvalidParametersException(
            f"{field}: the object is {source.size} bytes, over WhatsApp's limit of "
            f"{media_types.describe_limit(mime, head)}.")
