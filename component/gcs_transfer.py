"""Move one file's bytes into, within or out of Google Cloud Storage, and prove they arrived
intact: every object written is checked against the CRC32C of what was sent.

A small local file goes in one request; a bigger one streams from disk in one resumable upload, a
block at a time, so memory stays flat however big the model is; a file already in GCS is copied
by GCS itself (rewrite), never through this process.
"""

import functools
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any, BinaryIO, TypeVar
from urllib.parse import quote

import google_crc32c
import requests
from google.api_core import exceptions as api_exceptions

from .checksums import crc32c_of_file, gcs_form
from .errors import PublishError
from .gcs_client import RETRY, TIMEOUT, client, folder, session, split_uri
from .model_source import Model, ModelFile
from .progress import Progress

# Files up to this size are read whole and sent in one request; bigger ones are streamed. With
# WORKERS transfers in flight, at most 32 MiB of file data is ever held in memory.
ONE_REQUEST_MAX = 2 * 1024 * 1024
# Transfers in flight. Each mostly waits on GCS's latency, so many more threads than cores pays.
WORKERS = 16

T = TypeVar("T")


def put(f: ModelFile, bucket: str, name: str, progress: Progress | None, *, if_absent: bool = True) -> ModelFile:
    """Make object `name` hold the bytes of `f` and return it as a ModelFile (source gs://...).

    With `if_absent`, an existing object is never replaced (ifGenerationMatch=0): a retry that finds
    its own earlier write, same bytes, is fine; anything else fails. `progress` counts bytes moved.
    """
    if f.source.startswith("gs://"):
        resource, sent = _copy(f, bucket, name, if_absent, progress), f.crc32c
    elif f.size <= ONE_REQUEST_MAX:
        resource, sent = _upload_whole(f, bucket, name, if_absent, progress)
    else:
        resource, sent = _upload_streamed(f, bucket, name, if_absent, progress)
    if resource["crc32c"] != sent:
        raise PublishError(
            f"{f.rel}: the copy at gs://{bucket}/{name} is corrupt (its CRC32C is {resource['crc32c']}, "
            f"the bytes sent have {sent}); nothing was published"
        )
    return ModelFile(f.rel, int(resource["size"]), f"gs://{bucket}/{name}", resource["crc32c"], f.modified)


def put_model(model: Model, uri: str, progress: Progress) -> None:
    """Copy every file of `model` under the gs:// directory `uri`, as the pushed_model archive: an
    artifact of this step that no model server watches, so no staging and no versions."""
    bucket, prefix = split_uri(uri)

    def one(f: ModelFile) -> None:
        put(f, bucket, folder(prefix) + f.rel, progress, if_absent=False)
        progress.add(files=1)

    in_parallel([functools.partial(one, f) for f in model.files])


def download(f: ModelFile, out: BinaryIO, progress: Progress) -> None:
    """Write the GCS object `f.source` into `out`, checked against the CRC32C GCS keeps for it."""
    bucket, name = split_uri(f.source)
    sink = _Sink(out, progress)
    client().bucket(bucket).blob(name).download_to_file(
        sink, raw_download=True, checksum=None, retry=RETRY, timeout=TIMEOUT
    )
    if f.crc32c and sink.crc32c() != f.crc32c:
        raise PublishError(
            f"{f.rel}: the bytes downloaded from {f.source} do not match its CRC32C "
            f"({sink.crc32c()} received, {f.crc32c} in GCS); nothing was published"
        )


def read_object(uri: str) -> bytes:
    """A small object's bytes (saved_model.pb, the warmup file), checked against its CRC32C."""
    bucket, name = split_uri(uri)
    return client().bucket(bucket).blob(name).download_as_bytes(checksum="crc32c", retry=RETRY, timeout=TIMEOUT)


def in_parallel(tasks: Sequence[Callable[[], T]]) -> list[T]:
    """Run `tasks` on WORKERS threads; the first failure cancels those not started and is raised."""
    if not tasks:
        return []
    with ThreadPoolExecutor(min(WORKERS, len(tasks))) as pool:
        futures = [pool.submit(task) for task in tasks]
        wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((f for f in futures if f.done() and f.exception() is not None), None)
        if failed is not None:
            pool.shutdown(wait=True, cancel_futures=True)
            raise failed.exception()  # type: ignore[misc]
        return [f.result() for f in futures]


def _upload_whole(
    f: ModelFile, bucket: str, name: str, if_absent: bool, progress: Progress | None
) -> tuple[dict[str, Any], str]:
    # A media upload: the bytes as the request body, no multipart envelope to build and parse.
    with open(f.source, "rb") as src:
        data = src.read()
    sent = gcs_form(google_crc32c.value(data).to_bytes(4, "big"))
    params = {"uploadType": "media", "name": name, **_absent(if_absent)}
    try:
        resource = RETRY(_call)("POST", _upload_url(bucket), params=params, data=data, headers=_OCTETS).json()
    except api_exceptions.PreconditionFailed:
        resource = _existing_same(bucket, name, sent)
    _count(progress, len(data))
    return resource, sent


def _upload_streamed(
    f: ModelFile, bucket: str, name: str, if_absent: bool, progress: Progress | None
) -> tuple[dict[str, Any], str]:
    counted = [0]  # bytes already reported, so a retried upload does not count them twice

    def on_sent(offset: int) -> None:
        if offset > counted[0]:
            _count(progress, offset - counted[0])
            counted[0] = offset

    def attempt() -> tuple[dict[str, Any], str]:
        # Each attempt opens a new upload session and sends the whole file in one request.
        params = {"uploadType": "resumable", "name": name, **_absent(if_absent)}
        start = _call("POST", _upload_url(bucket), params=params, json={},
                      headers={"X-Upload-Content-Length": str(f.size)})
        with open(f.source, "rb") as src:
            body = _Body(src, f.size, on_sent)
            response = _call("PUT", start.headers["Location"], data=body, headers=_OCTETS)
        return response.json(), body.crc32c()

    try:
        return RETRY(attempt)()
    except api_exceptions.PreconditionFailed:
        sent = crc32c_of_file(f.source)
        return _existing_same(bucket, name, sent), sent


def _copy(f: ModelFile, bucket: str, name: str, if_absent: bool, progress: Progress | None) -> dict[str, Any]:
    src_bucket, src_name = split_uri(f.source)
    source = client().bucket(src_bucket).blob(src_name)
    target = client().bucket(bucket).blob(name)
    try:
        token = None
        while True:  # across locations or storage classes GCS may need several calls for one copy
            token, _, _ = target.rewrite(source, token=token, retry=RETRY, timeout=TIMEOUT, **_absent_kw(if_absent))
            if token is None:
                break
        resource = {"size": target.size, "crc32c": target.crc32c}
    except api_exceptions.PreconditionFailed:
        resource = _existing_same(bucket, name, f.crc32c)
    _count(progress, f.size)
    return resource


def _existing_same(bucket: str, name: str, crc32c: str) -> dict[str, Any]:
    """The object that made an if-absent write fail, if it holds the same bytes (our own earlier
    attempt, whose answer was lost); else refuse: nothing existing is ever overwritten."""
    blob = client().bucket(bucket).get_blob(name, retry=RETRY, timeout=TIMEOUT)
    if blob is None or blob.crc32c != crc32c:
        raise PublishError(f"gs://{bucket}/{name} already exists with other content; refusing to overwrite it")
    return {"size": blob.size, "crc32c": blob.crc32c}


def _count(progress: Progress | None, nbytes: int) -> None:
    if progress is not None:
        progress.add(nbytes)


def _call(method: str, url: str, **kwargs: Any) -> requests.Response:
    response = session().request(method, url, timeout=TIMEOUT, **kwargs)
    if response.status_code >= 300:
        raise api_exceptions.from_http_response(response)
    return response


def _upload_url(bucket: str) -> str:
    return f"{client().api_endpoint}/upload/storage/v1/b/{quote(bucket, safe='')}/o"


def _absent(if_absent: bool) -> dict[str, str]:
    return {"ifGenerationMatch": "0"} if if_absent else {}


def _absent_kw(if_absent: bool) -> dict[str, int]:
    return {"if_generation_match": 0} if if_absent else {}


_OCTETS = {"Content-Type": "application/octet-stream"}


class _Body:
    """A local file as an upload body: the HTTP library reads it a block at a time, so memory stays
    flat; the CRC32C of what was sent is computed on the way."""

    def __init__(self, src: BinaryIO, size: int, on_sent: Callable[[int], None]) -> None:
        self._src = src
        self._size = size
        self._on_sent = on_sent
        self._sent = 0
        self._crc = google_crc32c.Checksum()

    def __len__(self) -> int:
        return self._size

    def read(self, n: int = -1) -> bytes:
        data = self._src.read(n if n and n > 0 else 1024 * 1024)
        self._crc.update(data)
        self._sent += len(data)
        self._on_sent(self._sent)
        return data

    def crc32c(self) -> str:
        return gcs_form(self._crc.digest())


class _Sink:
    """Where a download writes: the file, plus its CRC32C and progress."""

    def __init__(self, out: BinaryIO, progress: Progress) -> None:
        self._out = out
        self._progress = progress
        self._crc = google_crc32c.Checksum()

    def write(self, data: bytes) -> int:
        self._crc.update(data)
        self._progress.add(len(data))
        return self._out.write(data)

    def crc32c(self) -> str:
        return gcs_form(self._crc.digest())
