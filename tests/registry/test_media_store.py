"""The media store's backends: local folder, fsspec memory, and an S3-compatible server."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.errors import ConfigurationError
from registry.media.policy import MediaPolicy
from registry.media.store import (
    ORIGINAL,
    THUMBNAIL,
    MediaStore,
    object_path,
    pack_thumbnail,
    unpack_thumbnail,
)

DATA = b"\x89PNG not really, but bytes all the same" * 100
SHA = hashlib.sha256(DATA).hexdigest()


def _round_trip(store: MediaStore) -> None:
    assert store.read_original(SHA) is None
    assert store.put(object_path(SHA, ORIGINAL), DATA)
    assert not store.put(object_path(SHA, ORIGINAL), DATA)  # content-addressed: idempotent
    assert store.read_original(SHA) == DATA
    store.put(object_path(SHA, THUMBNAIL), pack_thumbnail(b"jpeg bytes"))
    assert store.read_thumbnail(SHA) == b"jpeg bytes"
    assert store.delete(object_path(SHA, ORIGINAL))
    assert not store.delete(object_path(SHA, ORIGINAL))
    assert store.read_original(SHA) is None


def test_local_round_trip_and_no_temporary_files_left(tmp_path: Path) -> None:
    store = MediaStore((tmp_path / "media").as_uri())
    assert store.is_local
    _round_trip(store)
    leftovers = [p for p in (tmp_path / "media").rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_a_corrupt_object_is_never_served(tmp_path: Path) -> None:
    store = MediaStore(str(tmp_path))
    store.put(object_path(SHA, ORIGINAL), DATA)
    target = tmp_path / object_path(SHA, ORIGINAL)
    target.write_bytes(DATA[:-1] + b"!")
    assert store.read_original(SHA) is None
    store.put(object_path(SHA, THUMBNAIL), pack_thumbnail(b"jpeg bytes"))
    thumb = tmp_path / object_path(SHA, THUMBNAIL)
    thumb.write_bytes(thumb.read_bytes()[:-1] + b"?")
    assert store.read_thumbnail(SHA) is None
    assert unpack_thumbnail(b"short") is None


def test_fsspec_memory_backend_round_trip() -> None:
    pytest.importorskip("fsspec")
    _round_trip(MediaStore("memory://provreg-test-media"))


@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    """A bucket on moto's S3-compatible server, started here on a free local port."""
    pytest.importorskip("s3fs")
    moto_server = pytest.importorskip("moto.server")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    saved = {
        k: os.environ.get(k)
        for k in (
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_ENDPOINT_URL",
            "AWS_DEFAULT_REGION",
        )
    }
    os.environ.update(
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_ENDPOINT_URL=f"http://{host}:{port}",
        AWS_DEFAULT_REGION="us-east-1",
    )
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    fs = s3fs.S3FileSystem(anon=False)
    fs.mkdir("provreg-media")
    try:
        yield "s3://provreg-media/prod"
    finally:
        server.stop()
        s3fs.S3FileSystem.clear_instance_cache()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_s3_compatible_server_round_trip(s3_url: str) -> None:
    store = MediaStore(s3_url)
    assert not store.is_local
    _round_trip(store)


def test_policy_per_source_and_bad_values(tmp_path: Path) -> None:
    policy = MediaPolicy.parse(
        {
            "keep": "original",
            "max_object_bytes": 10,
            "sources": {"partner": {"keep": "thumbnail", "retain_days": 30}},
        },
        tmp_path,
    )
    assert policy.url == (tmp_path / "media").resolve().as_uri()
    assert policy.for_source("partner").keep == "thumbnail"
    assert policy.for_source("partner").retain_days == 30
    assert policy.for_source(None).keep == "original" and policy.max_object_bytes == 10
    with pytest.raises(ConfigurationError, match="keep must be one of"):
        MediaPolicy.parse({"keep": "everything"}, tmp_path)
    with pytest.raises(ConfigurationError, match="max_total_bytes"):
        MediaPolicy.parse({"max_total_bytes": -1}, tmp_path)
