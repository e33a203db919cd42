"""A real S3-compatible server for the storage tests: moto in server mode, as a
subprocess on a loopback port."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.processes import stop_process


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """The endpoint URL of a running moto server, for the session."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/moto-api/", timeout=1)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("moto server did not start")
                time.sleep(0.2)
        yield url
    finally:
        stop_process(proc)


@pytest.fixture
def s3_env(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Settings and credentials for the S3 backend, with a fresh bucket."""
    import boto3

    bucket = f"web4os-test-{time.monotonic_ns()}"
    for key, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                       "AWS_DEFAULT_REGION": "us-east-1", "WEB4OS_STORAGE": "s3",
                       "WEB4OS_S3_BUCKET": bucket, "WEB4OS_S3_ENDPOINT_URL": s3_server,
                       "WEB4OS_S3_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1").create_bucket(
        Bucket=bucket)
    return bucket


@pytest.fixture(autouse=True)
def _own_file_store(tmp_path_factory: pytest.TempPathFactory,
                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test stores files in a directory of its own, so it can see what is left."""
    from web4os.config import get_settings

    monkeypatch.setenv("WEB4OS_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    get_settings.cache_clear()
