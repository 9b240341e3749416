"""The verbs of component/stores/bucket.py's Bucket, one suite run in-process against every store
(fake-gcs-server for gs://, moto's S3 server for s3://): what the publish protocol, model reading
and transfers rely on, whatever the store.

A new store is one entry in STORES: its scheme, the fixture that makes it an empty bucket, the
environment that points this process's clients at its server, whether it has HiddenUploads, and
whether the server under test enforces create-only on file uploads.
The suite asserts on returned values and on PreconditionFailed only, never on a store's other
exceptions: those are each store's own business (and are turned into one-line errors elsewhere).
"""

import contextlib
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import google_crc32c
import pytest

from component.stores.checksums import b64_crc32c, crc32c_of_file
from component.stores.progress import Progress
from component import settings
from component.stores import registry
from component.stores.bucket import Bucket, HiddenUploads, PreconditionFailed
from tests.support.buckets import point_at


@dataclass(frozen=True)
class Store:
    scheme: str
    bucket_fixture: str  # a fixture that makes an empty bucket on the session's server; its name
    environment: Callable[[pytest.FixtureRequest], dict[str, str]]  # what points a client at that server
    module: str  # component.stores.<module>, which point_at makes reach the server
    hidden_uploads: bool
    # Whether the server under test refuses a create-only put_file over an object. GCS does;
    # fake-gcs-server honours ifGenerationMatch only on the library's multipart uploads (put_bytes),
    # not on the media and resumable uploads put_file makes.
    file_conditions: bool


# Each environment also cuts the stores' retry budget (two minutes in a push) to a few seconds: a
# request that keeps failing here fails the test at once.
# ministack is no entry: its PutObject answer carries no CRC32C (its HeadObject does), so put_bytes
# and a one-request put_file cannot return the checksum the store computed.
STORES = [
    Store("gs", "gcs_bucket",
          lambda request: {"STORAGE_EMULATOR_HOST": request.getfixturevalue("gcs_emulator").url,
                           settings.GCS_RETRY_SECONDS_ENV: "3"},
          "gcs", hidden_uploads=False, file_conditions=False),
    Store("s3", "s3_bucket", lambda request: {**request.getfixturevalue("s3_server").env(), settings.S3_RETRY_SECONDS_ENV: "3"},
          "s3", hidden_uploads=True, file_conditions=True),
]

MiB = 1024 * 1024
# One request; over GCS's one-request limit (2 MiB, streamed); over S3's part size (8 MiB, in parts).
FILE_SIZES = [1000, 3 * MiB, 9 * MiB]


def crc(data: bytes) -> str:
    return b64_crc32c(google_crc32c.value(data).to_bytes(4, "big"))


def open_store(store: Store, request, monkeypatch) -> Bucket:
    name = request.getfixturevalue(store.bucket_fixture)
    point_at(request, monkeypatch, store.environment(request), store.module)
    return registry.bucket_of(store.scheme, name)


@pytest.fixture(params=STORES, ids=lambda store: store.scheme)
def store(request) -> Store:
    return request.param


@pytest.fixture
def bucket(store, request, monkeypatch) -> Bucket:
    """An empty bucket of each store in turn, opened as a push opens it (stores.registry)."""
    return open_store(store, request, monkeypatch)


@pytest.fixture(params=[s for s in STORES if s.hidden_uploads], ids=lambda store: store.scheme)
def hidden_bucket(request, monkeypatch) -> Bucket:
    """An empty bucket of each store that has HiddenUploads."""
    return open_store(request.param, request, monkeypatch)


@pytest.fixture(params=[s for s in STORES if s.file_conditions], ids=lambda store: store.scheme)
def conditional_bucket(request, monkeypatch) -> Bucket:
    """An empty bucket of each store whose server refuses a create-only put_file over an object."""
    return open_store(request.param, request, monkeypatch)


def a_file(tmp_path: Path, size: int) -> Path:
    path = tmp_path / f"file-{size}"
    path.write_bytes(bytes(range(251)) * (size // 251) + b"x" * (size % 251))
    return path


# --- list -------------------------------------------------------------------------------------


def test_a_recursive_listing_has_every_object_under_the_prefix(bucket):
    for key in ("m/a", "m/sub/b", "m/sub/deeper/c", "mx/not-under-m-slash", "other/d"):
        bucket.put_bytes(key, key.encode())
    listing = bucket.list("m/")
    assert sorted((o.key, o.size) for o in listing.objects) == [
        ("m/a", 3), ("m/sub/b", 7), ("m/sub/deeper/c", 14)]
    assert listing.folders == []
    assert sorted(o.key for o in bucket.list("").objects) == [
        "m/a", "m/sub/b", "m/sub/deeper/c", "mx/not-under-m-slash", "other/d"]


def test_a_listing_with_a_delimiter_has_the_direct_children_and_the_sub_directories(bucket):
    for key in ("m/a", "m/b", "m/sub/c", "m/sub/deeper/d", "m/other/e"):
        bucket.put_bytes(key, b"x")
    listing = bucket.list("m/", recursive=False)
    assert sorted(o.key for o in listing.objects) == ["m/a", "m/b"]
    assert sorted(listing.folders) == ["other", "sub"]
    top = bucket.list("", recursive=False)
    assert (top.objects, top.folders) == ([], ["m"])


def test_a_listing_of_a_prefix_with_nothing_under_it_is_empty(bucket):
    bucket.put_bytes("m/a", b"x")
    assert bucket.list("n/").objects == [] and bucket.list("n/", recursive=False).folders == []


# --- head, read, delete -------------------------------------------------------------------------


def test_head_describes_the_object_and_is_none_when_it_is_missing(bucket):
    before = time.time()
    bucket.put_bytes("m/note", b"hello", metadata={"owner": "push-1"})
    info = bucket.head("m/note")
    assert (info.key, info.size, info.crc32c) == ("m/note", 5, crc(b"hello"))
    assert before - 60 < info.updated < time.time() + 60  # the same clock, give or take the server's rounding
    assert info.tag and dict(info.metadata) == {"owner": "push-1"}
    assert bucket.head("m/missing") is None


def test_read_returns_the_bytes_and_none_when_the_object_is_missing(bucket):
    bucket.put_bytes("m/note", b"\x00\xffbytes")
    assert bucket.read("m/note") == b"\x00\xffbytes"
    assert bucket.read("m/missing") is None


def test_delete_removes_the_object_and_does_nothing_when_it_is_missing(bucket):
    bucket.put_bytes("m/note", b"x")
    bucket.delete("m/note")
    assert bucket.head("m/note") is None and bucket.read("m/note") is None
    bucket.delete("m/note")
    bucket.delete("never/there")
    assert bucket.list("").objects == []


# --- put_bytes: the conditions the publish protocol is built on ----------------------------------


def test_put_bytes_returns_the_crc32c_the_store_computed(bucket):
    info = bucket.put_bytes("m/note", b"some bytes")
    assert (info.key, info.size, info.crc32c) == ("m/note", 10, crc(b"some bytes"))
    assert info.tag == bucket.head("m/note").tag


def test_a_create_only_write_over_an_object_fails_and_changes_nothing(bucket):
    first = bucket.put_bytes("m/claim", b"mine", create_only=True)
    with pytest.raises(PreconditionFailed):
        bucket.put_bytes("m/claim", b"theirs", create_only=True)
    assert bucket.read("m/claim") == b"mine" and bucket.head("m/claim").tag == first.tag


def test_an_if_tag_write_succeeds_only_over_that_tag(bucket):
    first = bucket.put_bytes("m/lease", b"one", create_only=True)
    second = bucket.put_bytes("m/lease", b"two", if_tag=first.tag)
    assert second.tag != first.tag and bucket.read("m/lease") == b"two"
    with pytest.raises(PreconditionFailed):
        bucket.put_bytes("m/lease", b"three", if_tag=first.tag)
    assert bucket.read("m/lease") == b"two"


def test_an_unconditional_write_replaces_the_object(bucket):
    bucket.put_bytes("m/note", b"old")
    bucket.put_bytes("m/note", b"new")
    assert bucket.read("m/note") == b"new"


# --- files: put_file, download, copy ----------------------------------------------------------------


@pytest.mark.parametrize("size", FILE_SIZES)
def test_put_file_returns_the_crc32c_of_the_bytes_it_sent(bucket, tmp_path, size):
    path = a_file(tmp_path, size)
    progress = Progress("test", 1, size)
    info, sent = bucket.put_file("m/file", str(path), size, create_only=True, progress=progress)
    assert sent == crc32c_of_file(str(path)) == info.crc32c == bucket.head("m/file").crc32c
    assert bucket.head("m/file").size == size and progress.bytes == size
    assert [o.key for o in bucket.list("").objects] == ["m/file"]


@pytest.mark.parametrize("size", FILE_SIZES)
def test_a_create_only_file_upload_over_an_object_fails_and_leaves_nothing(conditional_bucket, tmp_path, size):
    path = a_file(tmp_path, size)
    conditional_bucket.put_bytes("m/file", b"there first")
    with pytest.raises(PreconditionFailed):
        conditional_bucket.put_file("m/file", str(path), size, create_only=True, progress=None)
    assert conditional_bucket.read("m/file") == b"there first"
    assert [o.key for o in conditional_bucket.list("").objects] == ["m/file"]


@pytest.mark.parametrize("size", FILE_SIZES)
def test_download_writes_the_object_and_returns_the_crc32c_of_the_bytes_received(bucket, tmp_path, size):
    path = a_file(tmp_path, size)
    bucket.put_file("m/file", str(path), size, create_only=False, progress=None)
    out, progress = io.BytesIO(), Progress("test", 1, size)
    assert bucket.download("m/file", out, progress) == crc32c_of_file(str(path))
    assert out.getvalue() == path.read_bytes() and progress.bytes == size


def test_copy_makes_the_same_object_under_another_key(bucket, tmp_path):
    path = a_file(tmp_path, 3 * MiB)
    bucket.put_file("staging/file", str(path), path.stat().st_size, create_only=True, progress=None)
    info = bucket.copy(f"{bucket.scheme}://{bucket.name}/staging/file", "version/file", create_only=True)
    assert (info.key, info.size, info.crc32c) == ("version/file", path.stat().st_size, crc32c_of_file(str(path)))
    assert bucket.read("version/file") == path.read_bytes()
    assert bucket.read("staging/file") == path.read_bytes()  # a copy, not a move


# --- HiddenUploads: a big upload made whole and unseen, then shown in one request ----------------


def test_each_store_has_the_hidden_uploads_it_declares(bucket, store):
    assert isinstance(bucket, HiddenUploads) is store.hidden_uploads


def test_a_hidden_upload_is_unseen_until_finished(hidden_bucket, tmp_path):
    path = a_file(tmp_path, 9 * MiB)
    progress = Progress("test", 1, path.stat().st_size)
    upload = hidden_bucket.upload_hidden("v/1/big", str(path), path.stat().st_size, progress)
    assert progress.bytes == path.stat().st_size  # every byte is at the store ...
    assert hidden_bucket.list("").objects == [] and hidden_bucket.head("v/1/big") is None  # ... and none shows
    info, sent = upload.finish(create_only=True)
    assert sent == info.crc32c == crc32c_of_file(str(path)) == hidden_bucket.head("v/1/big").crc32c
    assert hidden_bucket.read("v/1/big") == path.read_bytes()


def test_a_hidden_upload_finished_create_only_over_an_object_fails(hidden_bucket, tmp_path):
    path = a_file(tmp_path, 9 * MiB)
    hidden_bucket.put_bytes("v/1/big", b"there first")
    upload = hidden_bucket.upload_hidden("v/1/big", str(path), path.stat().st_size, None)
    try:
        with pytest.raises(PreconditionFailed):
            upload.finish(create_only=True)
    finally:
        upload.abort()
    assert hidden_bucket.read("v/1/big") == b"there first"


def test_aborted_hidden_uploads_can_no_longer_appear(hidden_bucket, tmp_path):
    path = a_file(tmp_path, 9 * MiB)
    dropped = hidden_bucket.upload_hidden("v/1/dropped", str(path), path.stat().st_size, None)
    dropped.abort()
    left = hidden_bucket.upload_hidden("v/2/left", str(path), path.stat().st_size, None)
    hidden_bucket.abort_hidden("v/")  # what a dead push left unseen
    for upload in (dropped, left):
        with contextlib.suppress(Exception):  # how a store refuses is its own business; that it does is ours
            upload.finish(create_only=True)
    assert hidden_bucket.list("").objects == []
