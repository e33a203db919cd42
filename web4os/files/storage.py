"""Where a file's bytes live: a local directory by default, an S3-compatible bucket for
installs with more than one node. Keys are made by the files service (account id and a
random hex name), never from a user's file name, so no key can point outside its store."""

from __future__ import annotations

import os
import re
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from web4os.config import Settings, get_settings

KEY_PATTERN = re.compile(r"^[0-9]{1,12}/[0-9a-f]{32}$")


class StorageError(Exception):
    """The store could not do what was asked (missing object, unreachable bucket)."""


def check_key(key: str) -> str:
    """Refuse any key the files service would not make (a path, '..', a stray name)."""
    if not KEY_PATTERN.fullmatch(key):
        raise StorageError(f"Not a storage key: {key!r}")
    return key


class Storage(Protocol):
    """Bytes by key; every backend behaves alike (tests run both)."""

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...

    def exists(self, key: str) -> bool: ...


class LocalStorage:
    """Files under one directory (``WEB4OS_DATA_DIR/files``), written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)  # readers never see half a file
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise StorageError(f"No stored object {key}") from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()


class S3Storage:
    """Objects in one bucket of any S3-compatible service (AWS, MinIO, Ceph, moto).

    Credentials come from the environment the usual way for boto3
    (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` or an instance role).
    """

    def __init__(self, bucket: str, *, endpoint_url: str = "", region: str = "",
                 prefix: str = "") -> None:
        import boto3  # only S3 installs pay for importing it

        self.bucket, self.prefix = bucket, prefix
        self.client: Any = boto3.client("s3", endpoint_url=endpoint_url or None,
                                        region_name=region or None)

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._name(key), Body=data)

    def get(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            body: bytes = self.client.get_object(Bucket=self.bucket, Key=self._name(key))[
                "Body"].read()
        except ClientError as exc:
            raise StorageError(f"No stored object {key}: {exc}") from None
        return body

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._name(key))

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._name(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True


def storage_from(settings: Settings) -> Storage:
    """The backend the settings choose."""
    if settings.storage == "s3":
        if not settings.s3_bucket:
            raise StorageError("WEB4OS_STORAGE=s3 needs WEB4OS_S3_BUCKET.")
        return S3Storage(settings.s3_bucket, endpoint_url=settings.s3_endpoint_url,
                         region=settings.s3_region, prefix=settings.s3_prefix)
    return LocalStorage(settings.data_dir.resolve() / "files")


@lru_cache(maxsize=8)
def _cached(kind: str, bucket: str, endpoint: str, region: str, prefix: str,
            data_dir: Path) -> Storage:
    return storage_from(get_settings())


def get_storage() -> Storage:
    """The process's store, made once per storage configuration (tests change it)."""
    s = get_settings()
    return _cached(s.storage, s.s3_bucket, s.s3_endpoint_url, s.s3_region, s.s3_prefix,
                   s.data_dir)
