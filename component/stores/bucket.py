"""The seam every object store implements: a handful of verbs on one bucket.

The publish protocol (push.bucket_base), model reading (savedmodel.locate) and transfers
(stores.transfer) are written once against these verbs; GCS (gcs.py) and S3-compatible stores
(s3.py) each implement only them. A new store (Azure Blob, say) is one module with a class that
satisfies Bucket and an `open_bucket` function, plus its scheme in registry.SCHEMES.

Each store translates its library's exceptions at its own edge: its verbs raise only the
BucketError family below, each with a one-line reason that holds no secret, and callers add what
they were doing with `reported()`. Two outcomes the protocol decides on: PreconditionFailed (a
create-only or if-tag write met another object) and a missing object (head and read return None,
delete does nothing; other verbs raise NotFound).
"""

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol, runtime_checkable

from component.errors import PusherError
from component.stores.progress import Progress


class BucketError(Exception):
    """A store's failure, as one line that says why and shows no secret."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotFound(BucketError):
    """The bucket, or an object a verb other than head/read/delete needs, does not exist."""


class PreconditionFailed(BucketError):
    """A create-only write found the object there, or an if-tag write found another generation."""


class Denied(BucketError):
    """The credentials are valid but not allowed to do this."""


class Unauthenticated(BucketError):
    """No usable credentials, or the store rejected them."""


class Corrupt(BucketError):
    """What the store holds is not what was sent, or what arrived is not what it holds."""


class Unavailable(BucketError):
    """The store could not be reached, or kept failing for the whole retry budget."""


@contextmanager
def reported(what: str, error: type[PusherError], outcome: str = "") -> Iterator[None]:
    """Turn a bucket error into one line of `error`: "<what>: <reason>[; <outcome>]"."""
    try:
        yield
    except BucketError as exc:
        text = f"{what}: {exc.reason}"
        raise error(f"{text}; {outcome}" if outcome else text) from None


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    crc32c: str = ""  # base64 big-endian CRC32C of the whole object; "" when the store has none
    updated: float = 0.0  # Unix time of the last write
    tag: str = ""  # what an if-tag write must match: GCS's generation, S3's ETag
    metadata: Mapping[str, str] = field(default_factory=dict)
    # Other checksums the store keeps, for objects other clients wrote: "crc32", "crc32c" (base64;
    # a composite one of N parts ends in "-N"), "md5" (hex, "-N" likewise: an S3 ETag).
    checksums: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Listing:
    objects: list[ObjectInfo]
    folders: list[str]  # names of the sub-directories, only when listed with a delimiter


class Bucket(Protocol):
    scheme: str  # "gs", "s3", "minio"
    name: str  # the bucket's name
    # True where the service always honours create-only and if-tag writes (GCS); False where some
    # implementations silently ignore them (S3-compatible: old MinIO, SeaweedFS), so a push proves
    # them before it relies on them.
    conditions_guaranteed: bool

    def list(self, prefix: str, recursive: bool = True) -> Listing:
        """Objects under `prefix`; or, not recursive, its direct children and sub-directories."""

    def head(self, key: str) -> ObjectInfo | None: ...

    def put_bytes(self, key: str, data: bytes, *, create_only: bool = False, if_tag: str = "",
                  metadata: Mapping[str, str] | None = None) -> ObjectInfo:
        """One request. `create_only`: PreconditionFailed when `key` exists; `if_tag`: when it
        no longer has that tag. The returned info's crc32c is what the store computed."""

    def put_file(self, key: str, path: str, size: int, *, create_only: bool,
                 progress: Progress | None) -> tuple[ObjectInfo, str]:
        """Upload a local file (streamed or in parts, memory flat); returns the store's info and
        the CRC32C of the bytes sent, which the caller compares."""

    def copy(self, source: str, key: str, *, create_only: bool) -> ObjectInfo:
        """Server-side copy of `source` (a URI in this same service) to `key`."""

    def read(self, key: str) -> bytes | None:
        """A small object's bytes, verified against the checksum the store keeps; None when it is
        not there (another push may remove a lease or claim between a listing and this read)."""

    def download(self, key: str, out: BinaryIO, progress: Progress | None) -> str:
        """Write the object into `out`; returns the CRC32C of the bytes received."""

    def delete(self, key: str) -> None:
        """Remove `key`; nothing happens when it is not there."""


def join(*parts: str) -> str:
    """The key prefix of a directory: "a/b/", or "" for a bucket's top."""
    path = "/".join(p.strip("/") for p in parts if p.strip("/"))
    return f"{path}/" if path else ""


def split_uri(uri: str) -> tuple[str, str, str]:
    """"gs://bucket/a/b/" -> ("gs", "bucket", "a/b")."""
    scheme, _, rest = uri.partition("://")
    bucket, _, path = rest.partition("/")
    return scheme, bucket, path.strip("/")


def children(listing: Listing, prefix: str) -> Iterator[tuple[str, bool]]:
    """(name, is a directory) for each direct child in a non-recursive listing of `prefix`."""
    for info in listing.objects:
        name = info.key[len(prefix):]
        if name and not name.endswith("/"):
            yield name, False
    for name in listing.folders:
        yield name, True


class HiddenUpload(Protocol):
    """An upload whose bytes are all at the store but that no listing shows yet."""

    def finish(self, create_only: bool) -> tuple[ObjectInfo, str]:
        """Make the object exist in one request; (its info, the CRC32C of the bytes sent)."""

    def abort(self) -> None: ...


@runtime_checkable
class HiddenUploads(Protocol):
    """A bucket where a big upload can be made whole and unseen, then appear in one request (S3's
    multipart uploads). A bucket without it (GCS) gets big files staged under a hidden prefix and
    copied into the version."""

    def upload_hidden(self, key: str, path: str, size: int, progress: Progress | None) -> HiddenUpload: ...

    def hidden(self, prefix: str) -> list[tuple[str, float]]:
        """(key, Unix time it began) of every unfinished hidden upload under `prefix`."""

    def abort_hidden(self, prefix: str, begun_before: float = math.inf) -> None:
        """Abort every unfinished hidden upload under `prefix` begun before `begun_before`."""
