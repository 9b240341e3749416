"""A retried or re-run push finds the newest version already holding exactly its model, and reuses it."""

import functools
import logging
import time

from component.errors import InputError, Interrupted, PusherError
from component.model import Model, ModelFile
from component.push.base import ServingBase
from component.push.outcome import Published
from component.push.rollback_note import without_note
from component.stores.parallel import in_parallel
from component.stores.registry import is_remote
from component.stores.transfer import both_stored_alike, file_crc32c, same_as_stored

log = logging.getLogger(__name__)

REMOTE_LOOKUPS = 32


def find_reusable(base: ServingBase, model: Model, taken: set[int]) -> Published | None:
    """The newest version, when it already holds exactly this model (a retried or re-run push)."""
    started = time.monotonic()
    newest = max(taken, default=None)
    if newest is None:
        return None
    try:
        found = base.version_model(newest)
    except InputError as exc:
        log.warning("Version %d cannot be reused: %s.", newest, exc)
        return None
    # A rollback copy holds its version's model plus the rollback's note.
    if not same_content(model, without_note(found)):
        return None
    log.info(
        "Version %d at %s already holds exactly this model (same %d files, sizes and CRC32C): reusing it "
        "instead of publishing a copy (force_new_version=true publishes a new one).",
        newest, base.uri, len(model.files),
    )
    return Published(newest, base.version_uri(newest), len(model.files), model.total_bytes,
                     time.monotonic() - started, reused=True)


def same_content(a: Model, b: Model) -> bool:
    """Same relative paths, sizes and CRC32C. Sizes are compared first, so different models
    usually cost no reading at all; checksums are computed or asked for in parallel. A file whose
    CRC32C nobody knows cannot be proved the same, so its model is not, unless it is a local file
    and the other an object another client wrote, with another checksum (transfer.same_as_stored)."""
    by_rel = {f.rel: f for f in b.files}
    if {(f.rel, f.size) for f in a.files} != {(f.rel, f.size) for f in b.files}:
        return False

    def same(f: ModelFile) -> bool:
        other = by_rel[f.rel]
        theirs = file_crc32c(other)
        if not theirs and "://" not in f.source and is_remote(other.source):
            return same_as_stored(f, other)
        mine = file_crc32c(f)
        if mine and theirs:
            return mine == theirs
        # Both in stores, one without a CRC32C (another client wrote the model): the checksums both
        # keep, compared without reading either (a server-side copy keeps the source's MD5).
        return is_remote(f.source) and is_remote(other.source) and both_stored_alike(f, other)

    def compared(f: ModelFile) -> bool | Exception:
        try:
            return same(f)
        except Interrupted:
            raise
        except (PusherError, OSError) as exc:
            return exc

    # Computing checksums of local files is CPU work (4 threads keep 2 cores busy); asking a store
    # for them (one HEAD per file on S3) is waiting on round trips: many more in flight pays.
    remote = any(is_remote(f.source) and not f.crc32c for f in (*a.files, *b.files))
    results = in_parallel([functools.partial(compared, f) for f in a.files], workers=REMOTE_LOOKUPS if remote else 4)
    # A file that differs settles it, whatever else could not be read; otherwise a file that
    # could not be compared is the push's failure.
    if any(r is False for r in results):
        return False
    failure = next((r for r in results if isinstance(r, Exception)), None)
    if failure is not None:
        raise failure
    return True
