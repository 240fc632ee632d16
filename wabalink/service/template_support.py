"""What the template operations share: Meta's template errors as the operations' errors, the
caller's linked WABA as Meta knows it, AWS member names as Graph's, and the S3 read of template
media."""

from __future__ import annotations

import re
from typing import Any

from wabalink.aws.exceptions import (
    AccessDeniedByMetaException,
    AccessDeniedException,
    InvalidParametersException,
    ResourceNotFoundException,
    ThrottledRequestException,
)
from wabalink.meta.client import GraphApiError
from wabalink.service.meta_errors import meta_errors
from wabalink.service.operations import RequestContext
from wabalink.service.ownership import owned_waba
from wabalink.store.db import Store

NOT_FOUND_SUBCODES = (33, 2593002)  # unknown object; "Message template not found"
THROTTLING_CODES = (4, 80007, 130429)
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
# Header media Meta takes for templates, by S3 content type or file extension, with size limits.
MEDIA_TYPES = {"image/jpeg": 5 << 20, "image/png": 5 << 20, "video/mp4": 16 << 20, "application/pdf": 100 << 20}
EXTENSIONS = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "mp4": "video/mp4",
              "pdf": "application/pdf"}


class template_errors(meta_errors):
    """Meta refusing a template (Graph code 100) is the caller's bad parameter, naming `field`
    with Meta's words; an unknown template is not found; Meta's permission and rate errors keep
    their meaning; the rest is meta_errors' (DependencyException)."""

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, GraphApiError):
            if exc.code == 100 and exc.error_subcode in NOT_FOUND_SUBCODES:
                raise ResourceNotFoundException(f"{self.field}: {exc.message}") from None
            if exc.code == 100:
                raise InvalidParametersException(f"{self.field}: Meta refused it: {exc.message}") from None
            if exc.is_permission_error:
                raise AccessDeniedByMetaException(f"{self.field}: Meta denied access: {exc.message}") from None
            if exc.code in THROTTLING_CODES:
                raise ThrottledRequestException(f"Meta is throttling template calls ({exc.message}); "
                                                "retry later.") from None
        super().__exit__(exc_type, exc, tb)


def linked_meta_waba(store: Store, ctx: RequestContext, value: str, field: str = "id") -> tuple[str, str]:
    """(linked WABA hex id, Meta's WABA id) of the caller's COMPLETE link named by `value`."""
    with store.reader() as conn:
        waba = owned_waba(conn, ctx, value, field, missing=ResourceNotFoundException)
    if waba["registration_status"] != "COMPLETE":
        raise ResourceNotFoundException(f"{field}: linked WhatsApp Business Account {value} has not finished "
                                        "its association (registrationStatus INCOMPLETE); finalize it first.")
    return waba["id"], waba["meta_waba_id"]


def snake_case(value: Any) -> Any:
    """AWS camelCase members (nested) as Graph's snake_case parameters."""
    if isinstance(value, dict):
        return {_CAMEL.sub("_", key).lower(): snake_case(item) for key, item in value.items()}
    if isinstance(value, list):
        return [snake_case(item) for item in value]
    return value


def read_template_media(bucket: str, key: str) -> tuple[bytes, str]:
    """The S3 object's bytes and MIME type, through botocore (AWS_ENDPOINT_URL_S3 and the usual
    credential chain apply), within Meta's template header limits."""
    import botocore.session
    from botocore.exceptions import BotoCoreError, ClientError

    field = "sourceS3File"
    client = botocore.session.get_session().create_client("s3")
    try:
        head = client.head_object(Bucket=bucket, Key=key)
        mime = _media_type(head.get("ContentType"), key)
        if head["ContentLength"] > MEDIA_TYPES[mime]:
            raise InvalidParametersException(f"{field}: s3://{bucket}/{key} has {head['ContentLength']} bytes; "
                                             f"{mime} template media holds at most {MEDIA_TYPES[mime]} bytes.")
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read(MEDIA_TYPES[mime] + 1)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("403", "AccessDenied"):
            raise AccessDeniedException(f"{field}: access to s3://{bucket}/{key} was denied.") from None
        if code in ("404", "NoSuchKey", "NoSuchBucket"):
            raise InvalidParametersException(f"{field}: s3://{bucket}/{key} does not exist.") from None
        raise InvalidParametersException(f"{field}: s3://{bucket}/{key} could not be read ({code}).") from None
    except BotoCoreError as error:
        raise InvalidParametersException(f"{field}: s3://{bucket}/{key} could not be read "
                                         f"({type(error).__name__}).") from None
    return body, mime


def _media_type(content_type: str | None, key: str) -> str:
    mime = (content_type or "").split(";")[0].strip().lower()
    if mime not in MEDIA_TYPES:
        mime = EXTENSIONS.get(key.rsplit(".", 1)[-1].lower(), mime)
    if mime not in MEDIA_TYPES:
        raise InvalidParametersException(f"sourceS3File: template header media must be one of "
                                         f"{', '.join(MEDIA_TYPES)} (the object is {mime or 'untyped'}).")
    return mime
