"""The storage backends behave alike: the local directory, and S3 against a real
S3-compatible server (moto in server mode)."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from web4os.config import get_settings
from web4os.files.storage import LocalStorage, S3Storage, Storage, StorageError, get_storage

KEY = "7/" + "a" * 32


def _round_trip(store: Storage) -> None:
    assert not store.exists(KEY)
    store.put(KEY, b"hello \x00 bytes")
    assert store.exists(KEY)
    assert store.get(KEY) == b"hello \x00 bytes"
    store.put(KEY, b"replaced")
    assert store.get(KEY) == b"replaced"
    store.delete(KEY)
    assert not store.exists(KEY)
    with pytest.raises(StorageError):
        store.get(KEY)
    store.delete(KEY)  # deleting twice is fine


def test_local_round_trip(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path)
    _round_trip(store)
    store.put(KEY, b"x")
    assert (tmp_path / "7" / ("a" * 32)).read_bytes() == b"x"
    assert not [p for p in (tmp_path / "7").iterdir() if p.name.startswith(".upload-")]


@pytest.mark.parametrize("key", ["../../etc/passwd", "7/../8/" + "a" * 32, "/abs/path",
                                 "7/" + "A" * 32, "7/report.pdf", ""])
def test_keys_that_are_paths_are_refused(tmp_path: Path, key: str) -> None:
    store = LocalStorage(tmp_path / "files")
    for call in (lambda: store.put(key, b"x"), lambda: store.get(key),
                 lambda: store.exists(key), lambda: store.delete(key)):
        with pytest.raises(StorageError):
            call()
    assert not (tmp_path / "files").exists()


def test_default_is_local_under_the_data_dir(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    monkeypatch.setenv("WEB4OS_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    store = get_storage()
    assert isinstance(store, LocalStorage)
    assert store.root == tmp_path.resolve() / "files"


def test_s3_round_trip_on_a_real_server(s3_env: str, s3_server: str) -> None:
    get_settings.cache_clear()
    store = get_storage()
    assert isinstance(store, S3Storage)
    _round_trip(store)
    store.put(KEY, b"in the bucket")
    raw = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    assert raw.get_object(Bucket=s3_env, Key=KEY)["Body"].read() == b"in the bucket"


def test_s3_without_a_bucket_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB4OS_STORAGE", "s3")
    monkeypatch.delenv("WEB4OS_S3_BUCKET", raising=False)
    get_settings.cache_clear()
    with pytest.raises(StorageError, match="WEB4OS_S3_BUCKET"):
        get_storage()
