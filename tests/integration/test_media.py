"""Media through boto3 against a server whose S3 is a moto server: post from a bucket or a presigned
URL, get back into another bucket under the key rule (prefix + mediaId + "." + extension), metadata
only, delete; Meta's type and size limits; ownership by the uploading number; expiry; S3's errors;
on SQLite and PostgreSQL."""

from __future__ import annotations

import http.server
import json
import threading
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.flows import linked_waba
from tests.support.media import JPEG_MAGIC, S3_CREDENTIALS, MotoS3, jpeg_bytes, moto_s3, put  # noqa: F401 - fixture
from tests.support.servers import free_port
from wabalink.cli.meta import main as meta_cli

pytestmark = pytest.mark.timeout(120)


def error_of(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call(**params)
    error = raised.value.response["Error"]
    return error["Code"], error["Message"]


@pytest.fixture(scope="module")
def media_server(tmp_path_factory: pytest.TempPathFactory, moto_s3: MotoS3) -> Any:  # noqa: F811
    from tests.support.servers import ServerProcess

    folder = tmp_path_factory.mktemp("media-server")
    process = ServerProcess(f"sqlite:///{folder / 'wabalink.db'}", folder / "server.log",
                            env=moto_s3.server_env()).start()
    yield process
    process.stop()


def linked_phones(server: Any, client: Any, count: int = 1) -> list[str]:
    meta_waba, _ = linked_waba(server, client, f"Media {uuid.uuid4().hex[:6]}", phone_numbers=count)
    waba_id = client.list_linked_whatsapp_business_accounts()["linkedAccounts"][0]["id"]
    phones = client.get_linked_whatsapp_business_account(id=waba_id)["account"]["phoneNumbers"]
    return [phone["phoneNumberId"] for phone in phones]


def new_bucket(moto_s3: MotoS3) -> str:  # noqa: F811
    return moto_s3.bucket(f"media-{uuid.uuid4().hex[:12]}")


def round_trip(server: Any, moto_s3: MotoS3) -> None:  # noqa: F811
    client = server.client()
    phone = linked_phones(server, client)[0]
    s3 = moto_s3.client()
    source, target = new_bucket(moto_s3), new_bucket(moto_s3)
    image = jpeg_bytes(300_000)
    put(s3, source, "photos/cat.jpg", image, "image/jpeg")

    media_id = client.post_whatsapp_message_media(
        originationPhoneNumberId=phone, sourceS3File={"bucketName": source, "key": "photos/cat.jpg"})["mediaId"]
    assert media_id.isdigit()

    answer = client.get_whatsapp_message_media(mediaId=media_id, originationPhoneNumberId=phone,
                                               destinationS3File={"bucketName": target, "key": "inbox/"})
    assert answer["mimeType"] == "image/jpeg" and answer["fileSize"] == len(image)
    written = s3.get_object(Bucket=target, Key=f"inbox/{media_id}.jpeg")
    assert written["Body"].read() == image
    assert written["ContentType"] == "image/jpeg"

    assert client.delete_whatsapp_message_media(mediaId=media_id, originationPhoneNumberId=phone)["success"] is True
    code, message = error_of(client.get_whatsapp_message_media, mediaId=media_id, originationPhoneNumberId=phone,
                             metadataOnly=True)
    assert code == "ResourceNotFoundException" and "mediaId" in message
    code, _ = error_of(client.delete_whatsapp_message_media, mediaId=media_id, originationPhoneNumberId=phone)
    assert code == "ResourceNotFoundException"


def test_round_trip_sqlite(media_server: Any, moto_s3: MotoS3) -> None:  # noqa: F811
    round_trip(media_server, moto_s3)


@pytest.mark.postgres
def test_round_trip_postgresql(start_server: Any, moto_s3: MotoS3) -> None:  # noqa: F811
    round_trip(start_server("postgresql", env=moto_s3.server_env()), moto_s3)


def test_key_rule_appends_media_id_to_the_key_as_given(media_server: Any, moto_s3: MotoS3) -> None:  # noqa: F811
    """The model's own example: key audio/example.ogg and media id 123 give audio/example.ogg123.ogg."""
    client = media_server.client()
    phone = linked_phones(media_server, client)[0]
    s3 = moto_s3.client()
    bucket = new_bucket(moto_s3)
    put(s3, bucket, "voice.ogg", b"OggS" + b"\x00" * 5000)  # no Content-Type: the extension says audio/ogg
    media_id = client.post_whatsapp_message_media(
        originationPhoneNumberId=phone, sourceS3File={"bucketName": bucket, "key": "voice.ogg"})["mediaId"]
    client.get_whatsapp_message_media(mediaId=media_id, originationPhoneNumberId=phone,
                                      destinationS3File={"bucketName": bucket, "key": "audio/example.ogg"})
    assert s3.get_object(Bucket=bucket, Key=f"audio/example.ogg{media_id}.ogg")["Body"].read().startswith(b"OggS")


def test_presigned_urls_both_ways(media_server: Any, moto_s3: MotoS3) -> None:  # noqa: F811
    client = media_server.client()
    phone = linked_phones(media_server, client)[0]
    s3 = moto_s3.client()
    bucket = new_bucket(moto_s3)
    image = jpeg_bytes(50_000)
    put(s3, bucket, "in/picture.png", image, "image/png")
    presigner = moto_s3.aws_presigner()
    get_url = presigner.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "in/picture.png"})
    assert ".amazonaws.com/" in get_url and get_url.startswith("https://")
    media_id = client.post_whatsapp_message_media(
        originationPhoneNumberId=phone,
        sourceS3PresignedUrl={"url": get_url, "headers": {"Content-Type": "image/png"}})["mediaId"]

    put_url = presigner.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "out/copy.png"})
    answer = client.get_whatsapp_message_media(
        mediaId=media_id, originationPhoneNumberId=phone,
        destinationS3PresignedUrl={"url": put_url, "headers": {}})
    assert answer == {"mimeType": "image/png", "fileSize": len(image), "ResponseMetadata": answer["ResponseMetadata"]}
    assert s3.get_object(Bucket=bucket, Key="out/copy.png")["Body"].read() == image

    code, message = error_of(client.post_whatsapp_message_media, originationPhoneNumberId=phone,
                             sourceS3PresignedUrl={"url": get_url, "headers": {}})
    assert code == "InvalidParametersException" and "sourceS3PresignedUrl.headers" in message and "Content-Type" in message
    missing = presigner.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "in/none.png"})
    code, message = error_of(client.post_whatsapp_message_media, originationPhoneNumberId=phone,
                             sourceS3PresignedUrl={"url": missing, "headers": {"Content-Type": "image/png"}})
    assert code == "InvalidParametersException" and "sourceS3PresignedUrl" in message


def test_metadata_only_writes_nothing(media_server: Any, moto_s3: MotoS3) -> None:  # noqa: F811
    client = media_server.client()
    phone = linked_phones(media_server, client)[0]
    s3 = moto_s3.client()
    bucket = new_bucket(moto_s3)
    put(s3, bucket, "doc.pdf", b"%PDF-1.4\n" + b"x" * 2048, "application/pdf")
    media_id = client.post_whatsapp_message_media(
        originationPhoneNumberId=phone, sourceS3File={"bucketName": bucket, "key": "doc.pdf"})["mediaId"]
    answer = client.get_whatsapp_message_media(mediaId=media_id, originationPhoneNumberId=phone, metadataOnly=True,
                                               destinationS3File={"bucketName": bucket, "key": "copy/"})
    assert (answer["mimeType"], answer["fileSize"]) == ("application/pdf", 2057)
    assert s3.list_objects_v2(Bucket=bucket, Prefix="copy/")["KeyCount"] == 0


def test_meta_types_and_sizes(media_server: Any, moto_s3: MotoS3) -> None:  # noqa: F811
    client = media_server.client()
    phone = linked_phones(media_server, client)[0]
    s3 = moto_s3.client()
    bucket = new_bucket(moto_s3)
    put(s3, bucket, "big.jpg", jpeg_bytes(6 * 1024 * 1024), "image/jpeg")
    code, message = error_of(client.post_whatsapp_message_media, originationPhoneNumberId=phone,
                             sourceS3File={"bucketName": bucket, "key": "big.jpg"})
    assert code == "InvalidParametersException"
    assert "sourceS3File" in message and "5 MB" in message and "image/jpeg" in message
    put(s3, bucket, "setup.exe", b"MZ" + b"\x00" * 100, "application/x-msdownload")
    code, message = error_of(client.post_whatsapp_message_media, originationPhoneNumberId=phone,
                             sourceS3File={"bucketName": bucket, "key": "setup.exe"})
    assert code == "InvalidParametersException"
    assert "sourceS3File" in message and "application/x-msdownload" in message and "image/jpeg" in message
    put(s3, bucket, "noname", b"\x00" * 100)
    code, message = error_of(client.post_whatsapp_message_media, originationPhoneNumberId=phone,
                             sourceS3File={"bucketName": bucket, "key": "noname"})
    assert code == "InvalidParametersException" and "unknown" in message
    # A static sticker may be 100 KB; an animated one 500 KB.
    static = b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 150_000
    animated = b"RIFF\x00\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x02" + b"\x00" * 150_000
    put(s3, bucket, "static.webp", static, "image/webp")
    put(s3, bucket, "animated.webp", animated, "image/webp")
    code, message = error_of(client.post_whatsapp_message_media, originationPhoneNumberId=phone,
                             sourceS3File={"bucketName": bucket, "key": "static.webp"})
    assert code == "InvalidParametersException" and "100 KB for static sticker" in message
    assert client.post_whatsapp_message_media(originationPhoneNumberId=phone, sourceS3File={
        "bucketName": bucket, "key": "animated.webp"})["mediaId"].isdigit()


def test_source_and_destination_rules(media_server: Any, moto_s3: MotoS3) -> None:  # noqa: F811
    client = media_server.client()
    phone = linked_phones(media_server, client)[0]
    bucket = new_bucket(moto_s3)
    both = {"sourceS3File": {"bucketName": bucket, "key": "a.jpg"},
            "sourceS3PresignedUrl": {"url": f"https://{bucket}.s3.amazonaws.com/a.jpg", "headers": {}}}
    for source in (both, {}):
        code, message = error_of(client.post_whatsapp_message_media, originationPhoneNumberId=phone, **source)
        assert code == "InvalidParametersException"
        assert "sourceS3File" in message and "sourceS3PresignedUrl" in message
    code, message = error_of(client.get_whatsapp_message_media, mediaId="123", originationPhoneNumberId=phone,
                             destinationS3File={"bucketName": bucket, "key": ""},
                             destinationS3PresignedUrl={"url": f"https://{bucket}.s3.amazonaws.com/a", "headers": {}})
    assert code == "InvalidParametersException" and "destinationS3PresignedUrl" in message
    code, message = error_of(client.get_whatsapp_message_media, mediaId="123", originationPhoneNumberId=phone)
    assert code == "InvalidParametersException" and "metadataOnly" in message


def test_s3_errors(media_server: Any, moto_s3: MotoS3) -> None:  # noqa: F811
    client = media_server.client()
    phone = linked_phones(media_server, client)[0]
    bucket = new_bucket(moto_s3)
    code, message = error_of(client.post_whatsapp_message_media, originationPhoneNumberId=phone,
                             sourceS3File={"bucketName": bucket, "key": "missing.jpg"})
    assert code == "InvalidParametersException" and f"s3://{bucket}/missing.jpg" in message
    code, message = error_of(client.post_whatsapp_message_media, originationPhoneNumberId=phone,
                             sourceS3File={"bucketName": "no-such-bucket-" + uuid.uuid4().hex[:8], "key": "a.jpg"})
    assert code == "InvalidParametersException" and "sourceS3File.bucketName" in message


def test_s3_unreachable_is_a_dependency_failure(start_server: Any) -> None:

    server = start_server(env={"AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{free_port()}", **S3_CREDENTIALS})
    client = server.client()
    phone = linked_phones(server, client)[0]
    code, message = error_of(client.post_whatsapp_message_media, originationPhoneNumberId=phone,
                             sourceS3File={"bucketName": "some-bucket", "key": "a.jpg"})
    assert code == "DependencyException" and "sourceS3File" in message


class DenyingS3(http.server.BaseHTTPRequestHandler):
    """An S3 that refuses everyone, as a bucket policy would."""

    def _deny(self) -> None:
        body = b"<?xml version='1.0'?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
        self.send_response(403)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = do_HEAD = _deny

    def log_message(self, *args: Any) -> None:
        pass


def test_s3_access_denied(start_server: Any) -> None:

    denying = http.server.ThreadingHTTPServer(("127.0.0.1", 0), DenyingS3)
    threading.Thread(target=denying.serve_forever, daemon=True).start()
    try:
        server = start_server(env={"AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{denying.server_address[1]}",
                                   **S3_CREDENTIALS})
        client = server.client()
        phone = linked_phones(server, client)[0]
        code, message = error_of(client.post_whatsapp_message_media, originationPhoneNumberId=phone,
                                 sourceS3File={"bucketName": "their-bucket", "key": "a.jpg"})
        assert code == "AccessDeniedException" and "sourceS3File" in message and "s3://their-bucket/a.jpg" in message
        code, message = error_of(client.post_whatsapp_message_media, originationPhoneNumberId=phone,
                                 sourceS3PresignedUrl={"url": "https://their-bucket.s3.amazonaws.com/a.jpg?X-Amz-Signature=x",
                                                       "headers": {"Content-Type": "image/jpeg"}})
        assert code == "AccessDeniedException" and "sourceS3PresignedUrl" in message and "X-Amz" not in message
    finally:
        denying.shutdown()


def test_media_belongs_to_the_uploading_number(media_server: Any, moto_s3: MotoS3) -> None:  # noqa: F811
    client = media_server.client()
    mine, other = linked_phones(media_server, client, count=2)
    s3 = moto_s3.client()
    bucket = new_bucket(moto_s3)
    put(s3, bucket, "cat.jpg", jpeg_bytes(1000), "image/jpeg")
    media_id = client.post_whatsapp_message_media(
        originationPhoneNumberId=mine, sourceS3File={"bucketName": bucket, "key": "cat.jpg"})["mediaId"]
    for call, extra in ((client.get_whatsapp_message_media, {"metadataOnly": True}),
                        (client.delete_whatsapp_message_media, {})):
        code, message = error_of(call, mediaId=media_id, originationPhoneNumberId=other, **extra)
        assert code == "ResourceNotFoundException" and f"mediaId: media {media_id}" in message
    assert client.get_whatsapp_message_media(mediaId=media_id, originationPhoneNumberId=mine,
                                             metadataOnly=True)["fileSize"] == 1000
    # Another account does not see the number at all.
    code, message = error_of(media_server.client().get_whatsapp_message_media, mediaId=media_id,
                             originationPhoneNumberId=mine, metadataOnly=True)
    assert code == "ResourceNotFoundException" and "originationPhoneNumberId" in message


def test_expired_media_is_not_found(media_server: Any, moto_s3: MotoS3,  # noqa: F811
                                    capsys: pytest.CaptureFixture[str]) -> None:
    client = media_server.client()
    phone = linked_phones(media_server, client)[0]
    s3 = moto_s3.client()
    bucket = new_bucket(moto_s3)
    put(s3, bucket, "cat.jpg", jpeg_bytes(1000), "image/jpeg")
    media_id = client.post_whatsapp_message_media(
        originationPhoneNumberId=phone, sourceS3File={"bucketName": bucket, "key": "cat.jpg"})["mediaId"]
    shown = media_server.sandbox("GET", f"/media/{media_id}")
    assert shown["origin"] == "uploaded" and shown["usable"] is True
    assert 29.9 * 86400 < shown["expiresAt"] - shown["createdAt"] <= 30 * 86400
    assert meta_cli(["show-media", "--media-id", media_id, "--endpoint", media_server.endpoint]) == 0
    assert json.loads(capsys.readouterr().out)["phoneNumberId"] == shown["phoneNumberId"]
    assert meta_cli(["expire-media", "--media-id", media_id, "--endpoint", media_server.endpoint]) == 0
    assert json.loads(capsys.readouterr().out)["usable"] is False
    code, message = error_of(client.get_whatsapp_message_media, mediaId=media_id, originationPhoneNumberId=phone,
                             metadataOnly=True)
    assert code == "ResourceNotFoundException" and "expire" in message


def test_meta_failure_is_a_dependency_failure(media_server: Any, moto_s3: MotoS3) -> None:  # noqa: F811
    client = media_server.client()
    phone = linked_phones(media_server, client)[0]
    s3 = moto_s3.client()
    bucket = new_bucket(moto_s3)
    put(s3, bucket, "cat.jpg", JPEG_MAGIC + b"\x00" * 10, "image/jpeg")
    media_server.set_faults(failNextCalls=1, failStatus=500, pathContains="/media")
    try:
        code, _ = error_of(client.post_whatsapp_message_media, originationPhoneNumberId=phone,
                           sourceS3File={"bucketName": bucket, "key": "cat.jpg"})
    finally:
        media_server.clear_faults()
    assert code == "DependencyException"
