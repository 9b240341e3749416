"""Google Cloud Storage: the object-store verbs (stores.bucket.Bucket) on one bucket, one shared
client and connection pool, the retry policy, and the translation of what the Google libraries
raise into the bucket errors (stores.bucket), at this edge. Imported only when a gs:// location is involved.

Credentials are Application Default Credentials (Workload Identity on GKE and Vertex AI, a key
file, or gcloud's login on a laptop); with STORAGE_EMULATOR_HOST set, anonymous ones for the
emulator. A small file goes in one media request; a bigger one streams from disk in one resumable
upload, a block at a time, so memory stays flat; a big one goes up as slices in parallel that GCS
then composes into one object; a copy is GCS's own rewrite.
"""

import functools
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, BinaryIO, TypeVar
from urllib.parse import quote

import google.auth
import google_crc32c
import requests
from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions
from google.auth.credentials import AnonymousCredentials
from google.auth.transport.requests import AuthorizedSession
from google.cloud import storage
from google.cloud.storage.exceptions import DataCorruption
from google.cloud.storage.retry import DEFAULT_RETRY

from component import settings
from component.stores.checksums import b64_crc32c, crc32c_of_bytes, crc32c_of_file
from component.stores.parallel import in_parallel
from component.stores.progress import Progress, RetriedTransfer
from component.runtime.redact import redacted
from component.stores.bucket import (BucketError, Corrupt, Denied, Listing, NotFound, ObjectInfo,
                                     PreconditionFailed, Unauthenticated, Unavailable, split_uri)
from component.stores.retrying import bounded_retry, timeouts

SCOPES = ("https://www.googleapis.com/auth/devstorage.read_write",)
# Connections kept open: every transfer thread plus the lease heartbeat gets one without waiting.
POOL_SIZE = 64
# Files up to this size are read whole and sent in one request; bigger ones are streamed.
ONE_REQUEST_MAX = 2 * 1024 * 1024
# Files from this size on go up in slices, SLICE_WORKERS at a time, composed by GCS into one object
# (a parallel composite upload): one connection carries only so much (its window over the round
# trip, the bandwidth each flow gets), so one stream leaves most of the line idle. A compose takes
# at most MAX_SLICES objects; slices are at least MIN_SLICE so each stream gets up to speed.
COMPOSITE_MIN = 64 * 1024 * 1024
MAX_SLICES = 32
MIN_SLICE = 16 * 1024 * 1024
SLICE_WORKERS = 8

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

# 429, 5xx, resets and timeouts (google-cloud-storage's list of transient failures, its retry's
# predicate), retried for at most this long in all (stores.retrying). Writes stay safe to repeat
# because they carry preconditions (ifGenerationMatch) or go to names no other push uses.
RETRY_SECONDS = settings.current().gcs_retry_seconds
RETRY = bounded_retry(DEFAULT_RETRY._predicate, RETRY_SECONDS,
                      lambda exc: f"Google Cloud Storage did not complete a request ({_translated(exc).reason})")
_OCTETS = {"Content-Type": "application/octet-stream"}


@functools.cache
def client() -> storage.Client:
    """The one client of this process; its session keeps POOL_SIZE connections open."""
    if settings.current().gcs_emulator:
        credentials, project = AnonymousCredentials(), None
    else:
        credentials, project = google.auth.default(scopes=SCOPES)
    session = AuthorizedSession(credentials)
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return storage.Client(project=project, credentials=credentials, _http=session)


def open_bucket(scheme: str, bucket: str) -> "GcsBucket":
    return GcsBucket(bucket)


@contextmanager
def errors_translated() -> Iterator[None]:
    """Raise what google-cloud-storage, google-auth and requests raise as bucket errors."""
    try:
        yield
    except (api_exceptions.GoogleAPIError, auth_exceptions.GoogleAuthError, requests.RequestException,
            DataCorruption) as exc:
        raise _translated(exc) from None


def translated(verb: F) -> F:
    """A GcsBucket verb that raises only bucket errors."""

    @functools.wraps(verb)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with errors_translated():
            return verb(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


class GcsBucket:
    scheme = "gs"
    conditions_guaranteed = True  # ifGenerationMatch is part of every GCS write

    def __init__(self, bucket: str) -> None:
        self.name = bucket

    @translated
    def list(self, prefix: str, recursive: bool = True) -> Listing:
        try:
            pages = client().list_blobs(
                self.name, prefix=prefix, delimiter=None if recursive else "/", retry=RETRY, timeout=timeouts(RETRY_SECONDS)
            )
            objects = [_info(b) for b in pages]
        except api_exceptions.NotFound:
            # Listing never misses in a bucket that exists, so this can only mean the bucket.
            raise NotFound(f"bucket gs://{self.name} does not exist") from None
        return Listing(objects, [p[len(prefix):].rstrip("/") for p in sorted(pages.prefixes)])

    @translated
    def head(self, key: str) -> ObjectInfo | None:
        blob = client().bucket(self.name).get_blob(key, retry=RETRY, timeout=timeouts(RETRY_SECONDS))
        return None if blob is None else _info(blob)

    @translated
    def put_bytes(self, key: str, data: bytes, *, create_only: bool = False, if_tag: str = "",
                  metadata: Mapping[str, str] | None = None) -> ObjectInfo:
        # The library's multipart upload: metadata travels in the same request, and the emulator
        # enforces ifGenerationMatch on it (claims and leases are tested through it).
        blob = self._blob(key)
        blob.metadata = dict(metadata) if metadata else None
        match = 0 if create_only else int(if_tag) if if_tag else None
        blob.upload_from_string(data, if_generation_match=match, retry=RETRY, timeout=timeouts(RETRY_SECONDS))
        return _info(blob)

    @translated
    def put_file(self, key: str, path: str, size: int, *, create_only: bool,
                 progress: Progress | None) -> tuple[ObjectInfo, str]:
        if size >= COMPOSITE_MIN:
            return self._put_composite(key, path, size, create_only, progress)
        if size > ONE_REQUEST_MAX:
            return self._put_streamed(key, path, size, create_only, progress)
        # A media upload: the bytes as the request body, no multipart envelope to build and parse.
        with open(path, "rb") as src:
            data = src.read()
        params = {"uploadType": "media", "name": key, **({"ifGenerationMatch": "0"} if create_only else {})}
        resource = RETRY(_call)("POST", self._upload_url(), params=params, data=data, headers=_OCTETS).json()
        if progress is not None:
            progress.add(len(data))
        return _info_of(resource), crc32c_of_bytes(data)

    @translated
    def copy(self, source: str, key: str, *, create_only: bool) -> ObjectInfo:
        # The JSON API's rewrite, called directly: the library's Blob.rewrite spends far more CPU
        # per call than the request needs, and a version is filled with one copy per staged file.
        _, src_bucket, src_key = split_uri(source)
        url = (f"{client().api_endpoint}/storage/v1/b/{quote(src_bucket, safe='')}/o/{quote(src_key, safe='')}"
               f"/rewriteTo/b/{quote(self.name, safe='')}/o/{quote(key, safe='')}")
        params = {"ifGenerationMatch": "0"} if create_only else {}
        while True:  # across locations or storage classes GCS may need several calls for one copy
            answer = RETRY(_call)("POST", url, params=params, json={}).json()
            if answer.get("done"):
                return _info_of(answer["resource"])
            params = {**params, "rewriteToken": answer["rewriteToken"]}

    @translated
    def read(self, key: str) -> bytes | None:
        try:
            return self._blob(key).download_as_bytes(checksum="crc32c", retry=RETRY, timeout=timeouts(RETRY_SECONDS))
        except api_exceptions.NotFound:
            return None

    @translated
    def download(self, key: str, out: BinaryIO, progress: Progress | None) -> str:
        sink = _Sink(out, progress)
        self._blob(key).download_to_file(sink, raw_download=True, checksum=None, retry=RETRY, timeout=timeouts(RETRY_SECONDS))
        return sink.crc32c()

    @translated
    def delete(self, key: str) -> None:
        try:
            self._blob(key).delete(retry=RETRY, timeout=timeouts(RETRY_SECONDS))
        except api_exceptions.NotFound:
            pass  # removed meanwhile by whoever else was cleaning

    def _put_streamed(self, key: str, path: str, size: int, create_only: bool,
                      progress: Progress | None) -> tuple[ObjectInfo, str]:
        on_sent = RetriedTransfer(progress).reached

        def attempt() -> tuple[ObjectInfo, str]:
            # Each attempt opens a new upload session and sends the whole file in one request.
            params = {"uploadType": "resumable", "name": key, **({"ifGenerationMatch": "0"} if create_only else {})}
            start = _call("POST", self._upload_url(), params=params, json={},
                          headers={"X-Upload-Content-Length": str(size)})
            with open(path, "rb") as src:
                body = _Body(src, size, on_sent)
                response = _call("PUT", start.headers["Location"], data=body, headers=_OCTETS)
            return _info_of(response.json()), body.crc32c()

        return RETRY(attempt)()

    def _put_composite(self, key: str, path: str, size: int, create_only: bool,
                       progress: Progress | None) -> tuple[ObjectInfo, str]:
        """Upload the file as slices in parallel, each checked against the CRC32C of its bytes,
        then compose them into `key`; returns the composed object's info and the CRC32C of the
        whole file (read once more meanwhile), which the caller compares with the object's.

        The slices are named after `key` plus a random token: for a push's big files, under its
        hidden staging prefix, removed with it if this process dies. They are deleted once
        composed (or once the upload failed)."""
        length = max(MIN_SLICE, -(-size // MAX_SLICES))
        token = os.urandom(8).hex()
        slices = [(f"{key}.slice-{token}-{i:02d}", offset, min(length, size - offset))
                  for i, offset in enumerate(range(0, size, length))]
        uploads = [functools.partial(self._put_slice, path, name, offset, n, progress) for name, offset, n in slices]
        try:
            whole, *_ = in_parallel([functools.partial(crc32c_of_file, path), *uploads], SLICE_WORKERS + 1)
            target = self._blob(key)
            target.compose([self._blob(name) for name, _, _ in slices], retry=RETRY, timeout=timeouts(RETRY_SECONDS),
                           **({"if_generation_match": 0} if create_only else {}))
        finally:
            self._delete_slices(tuple(name for name, _, _ in slices))
        return _info(target), whole

    def _put_slice(self, path: str, name: str, offset: int, length: int, progress: Progress | None) -> str:
        on_sent = RetriedTransfer(progress).reached

        def attempt() -> tuple[ObjectInfo, str]:
            # One media request per slice: the body streams from the file, a block at a time.
            with open(path, "rb") as src:
                src.seek(offset)
                body = _Body(src, length, on_sent)
                response = _call("POST", self._upload_url(), params={"uploadType": "media", "name": name},
                                 data=body, headers=_OCTETS)
            return _info_of(response.json()), body.crc32c()

        info, sent = RETRY(attempt)()
        if info.crc32c != sent:
            raise Corrupt(f"a slice of {path} arrived corrupt at gs://{self.name}/{name} (its CRC32C is "
                          f"{info.crc32c}, the bytes sent have {sent})")
        return sent

    def _delete_slices(self, names: tuple[str, ...]) -> None:
        def delete(name: str) -> None:
            try:
                self.delete(name)
            except BucketError as exc:  # a leftover slice costs storage, not correctness
                log.warning("Could not delete the upload slice gs://%s/%s (%s).", self.name, name, exc.reason)

        in_parallel([functools.partial(delete, name) for name in names], SLICE_WORKERS)

    def _blob(self, key: str) -> storage.Blob:
        return client().bucket(self.name).blob(key)

    def _upload_url(self) -> str:
        return f"{client().api_endpoint}/upload/storage/v1/b/{quote(self.name, safe='')}/o"


def _info(blob: storage.Blob) -> ObjectInfo:
    return ObjectInfo(
        blob.name, int(blob.size or 0), blob.crc32c or "",
        blob.updated.timestamp() if blob.updated else 0.0, str(blob.generation or ""), dict(blob.metadata or {}),
    )


def _info_of(resource: dict[str, Any]) -> ObjectInfo:
    """An object resource of the JSON API, as a media or resumable upload answers it."""
    return ObjectInfo(resource["name"], int(resource["size"]), resource.get("crc32c", ""),
                      0.0, str(resource.get("generation", "")), dict(resource.get("metadata") or {}))


def _call(method: str, url: str, **kwargs: Any) -> requests.Response:
    response = client()._http.request(method, url, timeout=timeouts(RETRY_SECONDS), **kwargs)
    if response.status_code >= 300:
        raise api_exceptions.from_http_response(response)
    return response


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
        # Never past `size`: a slice's body is a range of its file.
        data = self._src.read(min(n if n and n > 0 else 1024 * 1024, self._size - self._sent))
        self._crc.update(data)
        self._sent += len(data)
        self._on_sent(self._sent)
        return data

    def crc32c(self) -> str:
        return b64_crc32c(self._crc.digest())


class _Sink:
    """Where a download writes: the file, plus its CRC32C and progress."""

    def __init__(self, out: BinaryIO, progress: Progress | None) -> None:
        self._out = out
        self._progress = progress
        self._crc = google_crc32c.Checksum()

    def write(self, data: bytes) -> int:
        self._crc.update(data)
        if self._progress is not None:
            self._progress.add(len(data))
        return self._out.write(data)

    def crc32c(self) -> str:
        return b64_crc32c(self._crc.digest())


def _translated(exc: BaseException) -> BucketError:
    if isinstance(exc, auth_exceptions.DefaultCredentialsError):
        return Unauthenticated(
            f"no usable Google Cloud credentials ({redacted(exc, 200)}); set GOOGLE_APPLICATION_CREDENTIALS, "
            "run `gcloud auth application-default login`, or run with a service account (Workload "
            "Identity on GKE, Vertex AI)"
        )
    if isinstance(exc, auth_exceptions.RefreshError):
        return Unauthenticated(f"the Google Cloud credentials found could not get an access token ({redacted(exc)})")
    if isinstance(exc, api_exceptions.RetryError):
        cause = _translated(exc.cause).reason if exc.cause is not None else "no answer"
        return Unavailable(f"Google Cloud Storage kept failing for {RETRY_SECONDS:.0f} s; last error: {cause}")
    if isinstance(exc, api_exceptions.PreconditionFailed):
        return PreconditionFailed(f"Google Cloud Storage refused a conditional write ({_api_message(exc)})")
    if isinstance(exc, api_exceptions.Unauthorized):
        return Unauthenticated(f"Google Cloud Storage rejected the credentials ({_api_message(exc)})")
    if isinstance(exc, api_exceptions.Forbidden):
        return Denied(f"permission denied ({_api_message(exc)})")
    if isinstance(exc, api_exceptions.NotFound):
        return NotFound(_api_message(exc))
    if isinstance(exc, api_exceptions.GoogleAPICallError):
        said = f"Google Cloud Storage answered {exc.code} ({_api_message(exc)})"
        return Unavailable(said) if exc.code in (429, 500, 502, 503, 504) else BucketError(said)
    if isinstance(exc, DataCorruption):
        return Corrupt("the bytes received do not match the object's checksum")
    return Unavailable(f"cannot reach Google Cloud Storage ({redacted(exc)})")


def _api_message(exc: api_exceptions.GoogleAPICallError) -> str:
    """GCS's own words ("x@p.iam.gserviceaccount.com does not have storage.objects.create access
    ..."), without the request URL the library prefixes them with."""
    errors = [e.get("message") for e in exc.errors or () if isinstance(e, dict) and e.get("message")]
    if not errors and isinstance(exc.response, requests.Response):
        try:
            errors = [exc.response.json()["error"]["message"]]
        except (ValueError, KeyError, TypeError):
            pass  # not GCS's JSON error document
    return redacted(errors[0] if errors else exc.message)
