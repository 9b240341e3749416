"""Move one model file into, within or out of an object store, and prove it arrived intact:
every object written is checked against the CRC32C of what was sent, every download against the
CRC32C the store keeps. Written once over the bucket verbs, for every store."""

import functools
import os
from collections.abc import Sequence
from typing import BinaryIO

from component.errors import InputError, PublishError
from component.model import Model, ModelFile
from component.stores.checksums import checksum_of_file, crc32c_of_file
from component.stores.parallel import in_parallel
from component.stores.progress import Progress
from component.stores.bucket import ObjectInfo, Bucket, PreconditionFailed, join, reported
from component.stores.registry import is_remote, locate, same_service


def put(f: ModelFile, store: Bucket, key: str, progress: Progress | None, *, create_only: bool = True) -> ModelFile:
    """Make object `key` hold the bytes of `f` and return it as a ModelFile read from there.

    `create_only`: an existing object is never replaced; a retry that finds its own earlier
    write (same bytes) is fine, anything else fails. `progress` counts the bytes moved.
    """
    target = f"{store.scheme}://{store.name}/{key}"
    try:
        if same_service(f.source, target):
            info, sent = store.copy(f.source, key, create_only=create_only), file_crc32c(f)
            if progress is not None:
                progress.add(f.size)
        elif "://" in f.source:
            info, sent = _put_via_temp(f, store, key, create_only, progress)
        else:
            # Checked before too: a store told to expect f.size bytes may wait for the missing ones.
            check_unchanged(f, os.stat(f.source))
            info, sent = store.put_file(key, f.source, f.size, create_only=create_only, progress=progress)
            check_unchanged(f, os.stat(f.source), info.size)
    except PreconditionFailed:
        sent = file_crc32c(f)
        existing = store.head(key)
        if existing is None or existing.crc32c != sent:
            raise PublishError(f"{target} already exists with other content; refusing to overwrite it") from None
        info = existing
    check_arrived(f.rel, target, info, sent)
    return ModelFile(f.rel, info.size, target, info.crc32c or sent, f.modified)


def check_arrived(rel: str, uri: str, info: ObjectInfo, sent: str) -> None:
    """The object written at `uri` holds the bytes sent, as far as both CRC32C are known."""
    if sent and info.crc32c and info.crc32c != sent:
        raise PublishError(f"{rel}: the copy at {uri} is corrupt (its CRC32C is {info.crc32c}, the bytes sent "
                           f"have {sent}); nothing was published")


def check_unchanged(f: ModelFile, now: os.stat_result, moved: int | None = None) -> None:
    """A local model file read whole (`moved` bytes arrived) must still be the file listed: a file
    that shrank, grew or was rewritten (its modification time moves, to the nanosecond) while it
    was read would be published as something nobody exported, under the size the record states."""
    if moved not in (None, f.size) or now.st_size != f.size or (f.modified and now.st_mtime != f.modified):
        read = "" if moved is None else f", {moved} read"
        raise PublishError(
            f"{f.rel}: the model file {f.source} changed while it was being pushed ({f.size} bytes when the "
            f"push began{read}, {now.st_size} now); nothing was published"
        )


def _put_via_temp(f: ModelFile, store: Bucket, key: str, create_only: bool,
                  progress: Progress | None) -> tuple[ObjectInfo, str]:
    """A file in another service: through a temporary local copy (disk, not memory)."""
    import tempfile  # it brings shutil and more; only pushes from another service need it

    with tempfile.NamedTemporaryFile(prefix="model-pusher-") as tmp:
        download(f, tmp, None)
        tmp.flush()
        return store.put_file(key, tmp.name, f.size, create_only=create_only, progress=progress)


def download(f: ModelFile, out: BinaryIO, progress: Progress | None) -> None:
    """Write the remote file `f.source` into `out`, checked against the CRC32C the store keeps."""
    store, key = locate(f.source)
    with reported(f"model: downloading {f.source} failed", PublishError):
        received = store.download(key, out, progress)
    expected = file_crc32c(f)
    if expected and received != expected:
        raise PublishError(
            f"{f.rel}: the bytes downloaded from {f.source} do not match its CRC32C "
            f"({received} received, {expected} in the store); nothing was published"
        )


def read_bytes(f: ModelFile) -> bytes:
    """A small file's bytes (saved_model.pb, the warmup file, a note), wherever it is."""
    return read_small([f])[0]


def read_small(files: Sequence[ModelFile]) -> list[bytes]:
    """The bytes of a few small files, wherever they are; those in a store are asked at once."""
    def one(f: ModelFile) -> bytes:
        if "://" not in f.source:
            with open(f.source, "rb") as src:
                return src.read()
        store, key = locate(f.source)
        with reported(f"model: cannot read {f.source}", InputError):
            data = store.read(key)
        if data is None:
            raise InputError(f"model: {f.source} disappeared while the model was being read")
        return data

    return in_parallel([functools.partial(one, f) for f in files])


def put_model(model: Model, uri: str, progress: Progress) -> None:
    """Copy every file of `model` under the directory `uri`, as the pushed_model archive: an
    artifact of this step that no model server watches, so no staging and no versions."""
    store, prefix = locate(uri)

    def one(f: ModelFile) -> None:
        put(f, store, join(prefix) + f.rel, progress, create_only=False)
        progress.add(files=1)

    with reported(f"pushed_model: writing the archive copy to {uri} failed", PublishError):
        in_parallel([functools.partial(one, f) for f in model.files])


# The part size of boto3's upload_file (s3transfer's multipart_chunksize), which most S3 clients share.
CLIENT_PART_SIZE = 8 * 1024 * 1024


def same_as_stored(local: ModelFile, stored: ModelFile) -> bool:
    """Whether the local file `local` holds the bytes of `stored`, an object in a store that keeps
    no CRC32C of it (another client wrote it): by the first other checksum the store keeps that can
    be computed here (CRC32, MD5 of a single upload, or a composite one of CLIENT_PART_SIZE parts).
    Reads the local file once; the object is never read back."""
    store, key = locate(stored.source)
    with reported(f"cannot read the checksums of {stored.source}", PublishError):
        info = store.head(key)
    for kind, value in (info.checksums if info is not None else {}).items():
        parts = value.rpartition("-")[2] if "-" in value else "0"
        if parts.isdigit() and (parts == "0" or int(parts) == -(-local.size // CLIENT_PART_SIZE)):
            return checksum_of_file(local.source, kind, int(parts), CLIENT_PART_SIZE) == value
    return False


def both_stored_alike(a: ModelFile, b: ModelFile) -> bool:
    """Whether two objects hold the same bytes by the checksums their stores keep: every kind both
    keep (CRC32C, CRC32, an MD5 ETag, composite ones of the same parts) agrees, and there is one."""
    def kept(f: ModelFile) -> dict[str, str]:
        store, key = locate(f.source)
        with reported(f"cannot read the checksums of {f.source}", PublishError):
            info = store.head(key)
        if info is None:
            return {}
        return {**info.checksums, **({"crc32c": info.crc32c} if info.crc32c else {})}

    mine, theirs = kept(a), kept(b)
    common = set(mine) & set(theirs)
    return bool(common) and all(mine[kind] == theirs[kind] for kind in common)


def file_crc32c(f: ModelFile) -> str:
    """The file's CRC32C: the one its listing gave; else, for a file in a store, the one the store
    keeps (S3 listings carry none, its HEAD does); else computed from the local file. "" when the
    store keeps no CRC32C of the whole object (uploaded without one, or a multipart COMPOSITE one)."""
    if f.crc32c:
        return f.crc32c
    if is_remote(f.source):
        store, key = locate(f.source)
        with reported(f"cannot read the checksum of {f.source}", PublishError):
            info = store.head(key)
        return info.crc32c if info is not None else ""
    return crc32c_of_file(f.source)
