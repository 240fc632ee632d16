"""An S3 for the media tests: moto's server on a free 127.0.0.1 port, and the settings a wabalink
server needs to use it (its endpoint and dummy credentials)."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.servers import free_port

S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                  "AWS_DEFAULT_REGION": "us-east-1"}
# The smallest JPEG header; the rest is filler (no one decodes it).
JPEG_MAGIC = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"


class MotoS3:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def server_env(self) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL_S3": self.endpoint, **S3_CREDENTIALS}

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def aws_presigner(self) -> Any:
        """Presigns URLs as AWS would (https://BUCKET.s3.amazonaws.com/KEY?...), the model's pattern."""
        import boto3
        from botocore.config import Config

        return boto3.client("s3", region_name="us-east-1", aws_access_key_id="testing",
                            aws_secret_access_key="testing", config=Config(signature_version="s3v4"))

    def bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[MotoS3]:
    from moto.server import ThreadedMotoServer

    for name, value in S3_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield MotoS3(f"http://127.0.0.1:{port}")
    server.stop()


def jpeg_bytes(size: int) -> bytes:
    filler = (bytes(range(256)) * (size // 256 + 1))[: max(0, size - len(JPEG_MAGIC) - 2)]
    return JPEG_MAGIC + filler + b"\xff\xd9"


def put(s3: Any, bucket: str, key: str, body: bytes, content_type: str | None = None) -> None:
    extra = {"ContentType": content_type} if content_type else {}
    s3.put_object(Bucket=bucket, Key=key, Body=io.BytesIO(body), **extra)
