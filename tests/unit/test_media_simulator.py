"""Meta's side of media: the streamed multipart upload, `GET /{media-id}` and its download URL,
`DELETE /{media-id}`, the functions other areas call (`store_media`, `media_exists`), the multipart
reader and the blob stores. Against the whole app served in-process, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from tests.support.media import jpeg_bytes, moto_s3  # noqa: F401 - fixture
from tests.support.postgres import drop_postgres_schema, fresh_postgres_url, require_postgres
from tests.support.servers import free_port
from wabalink.config import Settings
from wabalink.meta.client import GraphApiError
from wabalink.meta.media import media_exists, store_media
from wabalink.meta.multipart import MultipartReader
from wabalink.server.app import WabalinkApp
from wabalink.store.blobs import BlobTooLarge, FolderBlobStore, open_blob_store

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WabalinkApp]:
    url = f"sqlite:///{tmp_path / 'wabalink.db'}"
    if request.param == "postgresql":
        require_postgres()
        url = fresh_postgres_url()
    port = free_port()
    settings = Settings(port=port, database_url=url, blob_store=str(tmp_path / "blobs"))
    application = WabalinkApp(settings)
    server = uvicorn.Server(uvicorn.Config(application, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 10
    while not server.started:
        assert time.time() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield application
    server.should_exit = True
    thread.join(timeout=10)
    if request.param == "postgresql":
        drop_postgres_schema(url)


def phone_ids(app: WabalinkApp, count: int = 2) -> list[str]:
    """Meta's ids of the numbers of a new WABA on the simulator."""
    endpoint = f"http://127.0.0.1:{app.settings.port}/meta/sandbox/wabas"
    body = json.dumps({"name": "Media Co", "phoneNumbers": count}).encode()
    request = urllib.request.Request(endpoint, data=body, method="POST", headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return [phone["id"] for phone in json.loads(answer.read())["phoneNumbers"]]


def multipart(fields: list[tuple[str, str]], file: bytes | None, mime: str = "image/jpeg") -> tuple[bytes, str]:
    boundary = "b0undary"
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                    for k, v in fields)
    if file is not None:
        body += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
                 f"Content-Type: {mime}\r\n\r\n").encode() + file + b"\r\n"
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def raw_call(app: WabalinkApp, method: str, url: str, *, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_upload_get_download_delete(app: WabalinkApp) -> None:
    phone, other = phone_ids(app)
    data = jpeg_bytes(700_000)
    media_id = app.graph.upload_media(phone, io.BytesIO(data), "image/jpeg", "cat.jpg", size=len(data))
    chunked_id = app.graph.upload_media(phone, io.BytesIO(data), "image/jpeg", "cat.jpg")  # no length: chunked
    for each in (media_id, chunked_id):
        info = app.graph.get_media(each, phone)
        assert (info.mime_type, info.file_size, info.sha256) == ("image/jpeg", len(data), hashlib.sha256(data).hexdigest())
        with app.graph.download_media(info.url) as download:
            assert download.read(10_000_000) == data
    assert media_exists(app.simulator, phone, media_id) and not media_exists(app.simulator, other, media_id)

    with pytest.raises(GraphApiError) as raised:
        app.graph.get_media(media_id, other)
    assert raised.value.code == 100
    with pytest.raises(GraphApiError):
        app.graph.delete_media(media_id, other)

    info = app.graph.get_media(media_id, phone)
    status, body = raw_call(app, "GET", info.url)  # a lookaside URL wants a token too
    assert status == 400 and b"access token" in body
    tampered = info.url.replace("hash=", "hash=0")
    status, _ = raw_call(app, "GET", tampered, headers={"Authorization": f"Bearer {app.simulator.app.app_token}"})
    assert status == 404

    app.graph.delete_media(media_id, phone)
    assert not media_exists(app.simulator, phone, media_id)
    with pytest.raises(GraphApiError) as raised:
        app.graph.get_media(media_id, phone)
    assert raised.value.code == 100
    status, _ = raw_call(app, "GET", info.url, headers={"Authorization": f"Bearer {app.simulator.app.app_token}"})
    assert status == 400  # the bytes are gone with the id


def test_upload_refusals_keep_nothing(app: WabalinkApp) -> None:
    phone, _ = phone_ids(app)
    url = f"http://127.0.0.1:{app.settings.port}/meta/graph/v21.0/{phone}/media"
    token = {"Authorization": f"Bearer {app.simulator.app.app_token}"}
    cases = [
        ([("type", "image/jpeg")], b"x" * 10, "image/jpeg", "messaging_product"),
        ([("messaging_product", "whatsapp"), ("type", "application/x-msdownload")], b"MZ", "application/x-msdownload",
         "one of the following types"),
        ([("messaging_product", "whatsapp"), ("type", "image/jpeg")], jpeg_bytes(5 * 1024 * 1024 + 1), "image/jpeg",
         "5 MB"),
        ([("messaging_product", "whatsapp"), ("type", "image/jpeg")], None, "image/jpeg", "file is required"),
    ]
    for fields, file, mime, wanted in cases:
        body, content_type = multipart(fields, file, mime)
        status, answer = raw_call(app, "POST", url, body=body, headers={**token, "Content-Type": content_type})
        assert status == 400 and wanted.encode() in answer, answer
    status, answer = raw_call(app, "POST", url, body=b"x", headers={**token, "Content-Type": "image/jpeg"})
    assert status == 400 and b"multipart" in answer
    status, answer = raw_call(app, "POST", url.replace(phone, "999999"), body=b"x",
                              headers={**token, "Content-Type": "image/jpeg"})
    assert status == 400 and b"does not exist" in answer
    status, _ = raw_call(app, "POST", url, body=b"x", headers={"Content-Type": "image/jpeg"})
    assert status == 400
    blob_folder = Path(str(app.settings.blob_store))
    assert [p.name for p in blob_folder.iterdir()] == []  # refused uploads leave no blob, not even a temp file


def test_store_media_for_other_areas(app: WabalinkApp) -> None:
    phone, other = phone_ids(app)
    media_id = store_media(app.simulator, phone, io.BytesIO(b"voice"), "audio/ogg; codecs=opus", origin="inbound")
    assert media_exists(app.simulator, phone, media_id)
    assert not media_exists(app.simulator, other, media_id)
    assert not media_exists(app.simulator, phone, "123") and not media_exists(app.simulator, phone, "abc")
    info = app.graph.get_media(media_id, phone)
    assert info.mime_type == "audio/ogg" and info.file_size == 5
    record = app.simulator.__dict__["_media_side"].rows.get(media_id)
    assert record.origin == "inbound" and abs(record.expires_at - record.created_at - 7 * 86400) < 1
    side = app.simulator.__dict__["_media_side"]
    side.rows.expire(media_id, time.time())
    store_media(app.simulator, phone, io.BytesIO(b"next"), "text/plain", origin="uploaded")  # sweeps the expired
    assert side.rows.get(media_id).deleted and not (Path(str(app.settings.blob_store)) / media_id).exists()
    with pytest.raises(Exception) as raised:
        store_media(app.simulator, phone, io.BytesIO(b"MZ"), "application/x-msdownload", origin="uploaded")
    assert "types" in str(raised.value)


class Dribble(io.RawIOBase):
    """A source that answers reads a few bytes at a time, so boundaries fall across reads."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.step, self.position = data, step, 0

    def read(self, size: int = -1) -> bytes:
        size = min(size if size >= 0 else self.step, self.step)
        chunk = self.data[self.position:self.position + size]
        self.position += len(chunk)
        return chunk


@pytest.mark.parametrize("step", [1, 3, 7, 64 * 1024])
def test_multipart_reader_across_read_boundaries(step: int) -> None:
    file = b"\r\n--b0undar" * 50 + bytes(range(256)) * 40  # looks like the delimiter, but is not
    body, _ = multipart([("messaging_product", "whatsapp")], file)
    reader = MultipartReader(Dribble(body, step), b"b0undary")  # type: ignore[arg-type]
    parts = []
    for part in reader.parts():
        data = b""
        while chunk := part.read(1000):
            data += chunk
        parts.append((part.name, part.filename, part.content_type, data))
    assert parts == [("messaging_product", None, None, b"whatsapp"), ("file", "a.jpg", "image/jpeg", file)]


def test_folder_blob_store_writes_whole_blobs_or_nothing(tmp_path: Path) -> None:
    blobs = FolderBlobStore(tmp_path / "blobs")
    written = blobs.put("1", io.BytesIO(b"a" * 200_000))
    assert written.size == 200_000 and written.sha256 == hashlib.sha256(b"a" * 200_000).hexdigest()
    with pytest.raises(BlobTooLarge):
        blobs.put("2", io.BytesIO(b"a" * 200_000), max_bytes=100_000)
    assert sorted(p.name for p in (tmp_path / "blobs").iterdir()) == ["1"]
    with pytest.raises(ValueError):
        blobs.put("../escape", io.BytesIO(b""))


def test_s3_blob_store_for_replicas(moto_s3: Any) -> None:  # noqa: F811
    bucket = moto_s3.bucket("wabalink-blobs-test")
    blobs = open_blob_store(f"s3://{bucket}/media", None, s3_endpoint_url=moto_s3.endpoint)
    blobs.put("42", io.BytesIO(b"bytes of 42"))
    assert moto_s3.client().get_object(Bucket=bucket, Key="media/42")["Body"].read() == b"bytes of 42"
    with blobs.open("42") as stream:
        assert stream.read() == b"bytes of 42"
    blobs.delete("42")
