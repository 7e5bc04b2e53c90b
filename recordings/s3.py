"""Recordings in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, ...), through boto3.

While a call runs its WAV is written to a local spool (a `FileStorage` under
DATA_DIR/recordings-spool: the recorder needs a seekable file to keep the header true, and
a kill -9 must leave something playable). Once final (compressed or not), `put` uploads it
to `<prefix>YYYY/MM/DD/<id><suffix>` and removes the spool file; the object's location is
`s3://<bucket>/<key>`. Spool locations (relative paths) and object locations are told
apart by that scheme, so rows whose upload never happened (a kill) still point at their
spool file and are finished at start-up like on the filesystem.

Why boto3: the reference S3 client, speaking every S3-compatible server (an `endpoint_url`
points it at MinIO or the like), credentials from its usual chain (environment, shared
files, instance roles) so no secret sits in the config. Its calls block: the service runs
them in threads, as it does the filesystem's.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import boto3  # type: ignore[import-untyped]
from boto3.exceptions import Boto3Error  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from recordings.config import S3Config
from recordings.storage import FileStorage

SCHEME = "s3://"


class S3Storage:
    """`RecordingStorage` over a bucket, with a local spool for recordings in progress."""

    def __init__(self, config: S3Config, spool: Path, *, client: Any = None) -> None:
        self.config = config
        self.spool = FileStorage(spool)
        self.client = client or boto3.client(
            "s3", endpoint_url=config.endpoint_url, region_name=config.region)

    def _key(self, location: str) -> str:
        prefix = f"{SCHEME}{self.config.bucket}/"
        if not location.startswith(prefix):
            raise ValueError(f"recording location {location!r} is not in bucket "
                             f"{self.config.bucket!r}")
        return location[len(prefix):]

    def create(self, recording_id: str, when: datetime) -> tuple[str, BinaryIO]:
        return self.spool.create(recording_id, when)

    def local_path(self, location: str) -> Path:
        if location.startswith(SCHEME):
            raise ValueError("a stored object has no local file")
        return self.spool.local_path(location)

    def finish(self, location: str) -> None:
        return None

    def put(self, local: Path, recording_id: str, when: datetime, suffix: str) -> str:
        location = self.locate(recording_id, when, suffix)
        key = self._key(location)
        content_type = "audio/ogg" if suffix == ".opus" else "audio/wav"
        try:
            self.client.upload_file(str(local), self.config.bucket, key,
                                    ExtraArgs={"ContentType": content_type})
        except (Boto3Error, BotoCoreError, ClientError) as exc:  # S3UploadFailedError: Boto3
            raise OSError(f"upload to bucket {self.config.bucket!r} failed: "
                          f"{type(exc).__name__}") from exc
        os.unlink(local)
        return location

    def locate(self, recording_id: str, when: datetime, suffix: str) -> str:
        relative = self.spool.locate(recording_id, when, suffix)
        return f"{SCHEME}{self.config.bucket}/{self.config.prefix}{relative}"

    def size(self, location: str) -> int:
        if not location.startswith(SCHEME):
            return self.spool.size(location)
        try:
            head = self.client.head_object(Bucket=self.config.bucket, Key=self._key(location))
        except ClientError as exc:
            raise FileNotFoundError(location) from exc
        except BotoCoreError as exc:  # the endpoint unreachable, a timeout
            raise OSError(f"bucket {self.config.bucket!r}: {type(exc).__name__}") from exc
        return int(head["ContentLength"])

    def read(self, location: str, start: int, length: int) -> bytes:
        if not location.startswith(SCHEME):
            return self.spool.read(location, start, length)
        if length <= 0:
            return b""
        try:
            got = self.client.get_object(Bucket=self.config.bucket, Key=self._key(location),
                                         Range=f"bytes={start}-{start + length - 1}")
        except ClientError as exc:
            raise FileNotFoundError(location) from exc
        except BotoCoreError as exc:
            raise OSError(f"bucket {self.config.bucket!r}: {type(exc).__name__}") from exc
        body: bytes = got["Body"].read()
        return body

    def delete(self, location: str) -> None:
        if not location.startswith(SCHEME):
            self.spool.delete(location)
            return
        try:
            self.client.delete_object(Bucket=self.config.bucket, Key=self._key(location))
        except (BotoCoreError, ClientError) as exc:
            raise OSError(f"delete from bucket {self.config.bucket!r} failed: "
                          f"{type(exc).__name__}") from exc
