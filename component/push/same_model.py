"""Whether two models are the same, wherever their files are: same relative paths, sizes and CRC32C."""

from concurrent.futures import ThreadPoolExecutor

from component.runtime.checksums import crc32c_of_file
from component.errors import PublishError
from component.savedmodel.model import Model, ModelFile
from component.stores.stores import is_remote, locate

REMOTE_LOOKUPS = 32


def file_crc32c(f: ModelFile) -> str:
    """The file's CRC32C: the one its listing gave; else, for a file in a store, the one the store
    keeps (S3 listings carry none, its HEAD does); else computed from the local file. "" when the
    store keeps no CRC32C of the whole object (uploaded without one, or a multipart COMPOSITE one)."""
    if f.crc32c:
        return f.crc32c
    if is_remote(f.source):
        store, key = locate(f.source)
        with store.errors(f"cannot read the checksum of {f.source}", PublishError):
            info = store.head(key)
        return info.crc32c if info is not None else ""
    return crc32c_of_file(f.source)


def same_content(a: Model, b: Model) -> bool:
    """Same relative paths, sizes and CRC32C. Sizes are compared first, so different models
    usually cost no reading at all; checksums are computed or asked for in parallel. A file whose
    CRC32C nobody knows cannot be proved the same, so its model is not."""
    by_rel = {f.rel: f for f in b.files}
    if {(f.rel, f.size) for f in a.files} != {(f.rel, f.size) for f in b.files}:
        return False

    def same(f: ModelFile) -> bool:
        mine = file_crc32c(f)
        return bool(mine) and mine == file_crc32c(by_rel[f.rel])

    # Computing checksums of local files is CPU work (4 threads keep 2 cores busy); asking a store
    # for them (one HEAD per file on S3) is waiting on round trips: many more in flight pays.
    remote = any(is_remote(f.source) and not f.crc32c for f in (*a.files, *b.files))
    with ThreadPoolExecutor(REMOTE_LOOKUPS if remote else 4) as pool:
        return all(pool.map(same, a.files))
