"""Publish a SavedModel to a serving location as a new numbered version, atomically.

Every destination is a Store: local and mounted directories (local_store, rename-based) or an
object store (object_publish, over GCS or S3). The steps are the same for all: clean what crashed
pushes left, stage the model where model servers do not look, claim the next free version, make
it visible; then retention and rollback, written once here over the Store verbs.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from component.push.artifacts import OutputArtifact, local_path
from component.push.destination import Destination
from component.errors import AfterPublishError, InputError, Interrupted, PublishError, PusherError
from component.push.local_store import LocalStore, copy_model
from component.savedmodel.model import SAVED_MODEL_FILES, Model
from component.push.object_publish import ObjectStoreTarget
from component.stores.object_transfer import in_parallel, put_model
from component.stores.stores import is_remote, same_service
from component.runtime.progress import Progress, rate
from component.push.same_model import same_content
from component.push.versioning import next_version

log = logging.getLogger(__name__)

# Each failed claim means another push took that number first; this bound only matters in a storm.
MAX_CLAIM_ATTEMPTS = 100


class Store(Protocol):
    uri: str

    def version_uri(self, version: int) -> str: ...

    def versions(self) -> set[int]:
        """Every version number taken, including ones being claimed right now."""

    def clean_abandoned(self) -> None: ...

    def stage(self, model: Model, progress: Progress) -> Any:
        """Move the model's bytes where model servers do not look (on GCS: the files too big to
        upload while a version is half-visible); returns a handle for publish/discard."""

    def publish(self, staging: Any, version: int) -> bool:
        """Make the staged model visible as `version`; False when that number is already taken."""

    def discard(self, staging: Any) -> None:
        """Remove what is left of the staging area (after publish or after a failure)."""

    def version_model(self, version: int) -> Model:
        """A published version's files (with their CRC32C where the store keeps one), as a Model
        that can itself be pushed: that is how rollback republishes an old version."""

    def delete_version(self, version: int) -> None:
        """Remove a version so that servers see it disappear at once, not file by file."""

    def abandoned(self, version: int, newest_write: float) -> bool:
        """Whether an incomplete version is the remains of a dead push (safe to remove)."""


@dataclass(frozen=True)
class Published:
    version: int
    uri: str
    files: int
    bytes: int
    seconds: float
    reused: bool = False  # the newest version already held exactly this model
    removed: tuple[int, ...] = ()  # older versions deleted by retention
    retention_error: str = ""  # why retention could not finish; the version stands all the same


def open_store(base: str) -> Store:
    if is_remote(base):
        return ObjectStoreTarget(base)
    return LocalStore(Path(base))


def push(
    model: Model,
    destination: Destination,
    *,
    reuse: bool = True,
    keep: int = 0,
    clock: Callable[[], float] = time.time,
) -> Published:
    """Publish `model` as a new version; or, with `reuse`, point at the newest version when it
    already holds exactly this model (a retried step); then keep only the `keep` newest (0: all)."""
    store = open_store(destination.base)
    try:
        # Independent, so at once: on an object store each is a round trip of its own.
        _, taken = in_parallel([store.clean_abandoned, store.versions])
        published = find_reusable(store, model, taken) if reuse else None
        if published is None:
            published = _publish(store, model, destination, clock, taken)
    except OSError as exc:
        raise PublishError(f"push_destination: writing to {store.uri} failed: {exc}; nothing was published") from None
    if keep:
        published = _retain_after(store, keep, published)
    return published


def _retain_after(store: Store, keep: int, published: Published) -> Published:
    """Retention runs after the version stands: its failure is reported, never mistaken for a
    failed push; a stop request (SIGTERM) during it says the version was published."""
    try:
        return replace(published, removed=_retain(store, keep, published.version))
    except Interrupted as exc:
        raise AfterPublishError(
            f"version {published.version} was published at {published.uri}; then the step was stopped by "
            f"{exc.signal_name} during retention (older versions may remain)", exc.exit_code,
        ) from None
    except (PusherError, OSError) as exc:
        log.warning("Version %d was published at %s, but retention (keep_versions=%d) failed: %s",
                    published.version, published.uri, keep, exc)
        return replace(published, retention_error=str(exc))


def _publish(store: Store, model: Model, destination: Destination, clock: Callable[[], float],
             taken: set[int]) -> Published:
    progress = Progress(f"Publishing to {store.uri}", len(model.files), model.total_bytes)
    staging = store.stage(model, progress)
    try:
        version = _claim(store, staging, destination, clock, taken)
    finally:
        store.discard(staging)
        progress.done()
    published = Published(version, store.version_uri(version), len(model.files), model.total_bytes, progress.seconds)
    log.info(
        "Published version %d at %s: %d files, %.1f MB in %.2f s (%s).",
        version, published.uri, published.files, published.bytes / 1e6, published.seconds,
        rate(published.bytes, published.seconds),
    )
    return published


def find_reusable(store: Store, model: Model, taken: set[int]) -> Published | None:
    """The newest version, when it already holds exactly this model (a retried or re-run push)."""
    started = time.monotonic()
    newest = max(taken, default=None)
    if newest is None or not same_content(model, store.version_model(newest)):
        return None
    log.info(
        "Version %d at %s already holds exactly this model (same %d files, sizes and CRC32C): reusing it "
        "instead of publishing a copy (force_new_version=true publishes a new one).",
        newest, store.uri, len(model.files),
    )
    return Published(newest, store.version_uri(newest), len(model.files), model.total_bytes,
                     time.monotonic() - started, reused=True)


def _retain(store: Store, keep: int, pushed: int) -> tuple[int, ...]:
    """Delete complete versions beyond the `keep` newest, and the remains of dead pushes; never the
    one just pushed, and never an incomplete one a live push may be filling right now."""
    infos = list_versions(store)
    complete = [i.version for i in reversed(infos) if i.complete or i.version == pushed]
    doomed = [v for v in complete[keep:] if v != pushed]
    remains = [i.version for i in infos
               if not i.complete and i.version != pushed and store.abandoned(i.version, i.modified)]
    for version in doomed + remains:
        store.delete_version(version)
    if doomed:
        log.info("Retention (keep_versions=%d): removed versions %s from %s.", keep, ", ".join(map(str, doomed)), store.uri)
    if remains:
        log.info("Removed incomplete versions %s from %s: remains of pushes that died, untouched for a lease "
                 "period.", ", ".join(map(str, remains)), store.uri)
    return tuple(sorted(doomed + remains, reverse=True))


def _claim(store: Store, staging: Any, destination: Destination, clock: Callable[[], float], taken: set[int]) -> int:
    # `taken` was listed before staging: a number taken since makes the claim fail, then we list again.
    for _ in range(MAX_CLAIM_ATTEMPTS):
        version = next_version(destination.versioning, taken, clock)
        if store.publish(staging, version):
            return version
        log.info("Version %d was taken by another push meanwhile; trying the next free number.", version)
        taken = store.versions() | {version}
    raise PublishError(f"push_destination: no free version found at {store.uri} after {MAX_CLAIM_ATTEMPTS} tries")


def archive(model: Model, target: OutputArtifact) -> None:
    """TFX keeps a copy of the pushed model in the pushed_model artifact; so do we.

    An artifact in an object store is written through the store's API when the model is in the
    same service (copied server-side, where Vertex's /gcs FUSE mount would stream every byte
    through this container) or when there is no mount to write through (a laptop); otherwise at
    its mounted path, which KFP uploads after the step.
    """
    mount = local_path(target.uri.partition("://")[0] + "://") if is_remote(target.uri) else None
    through_api = mount is not None and (same_service(model.root, target.uri) or not mount.is_dir())
    where = target.uri if through_api else str(target.path)
    progress = Progress(f"Archiving to {where}", len(model.files), model.total_bytes)
    try:
        if through_api:
            put_model(model, target.uri, progress)
            if mount.is_dir():
                # KFP's launcher uploads this path after the step and fails if it is missing;
                # empty, it adds nothing to what is already in the store.
                target.path.mkdir(parents=True, exist_ok=True)
        else:
            copy_model(model, target.path, progress)
    except OSError as exc:
        raise PublishError(f"pushed_model: writing the archive copy to {where} failed: {exc}") from None
    progress.done()
    log.info("Archived the model in the pushed_model artifact at %s.", where)


@dataclass(frozen=True)
class VersionInfo:
    version: int
    uri: str
    files: int
    bytes: int
    modified: float  # Unix time of the newest file
    complete: bool  # has the file a model server loads


def list_versions(store: Store) -> list[VersionInfo]:
    """Every version at the store, oldest first, with what it holds. In an object store a number
    that holds no object is only claimed (a push failed there, or is starting): left out."""
    infos = []
    for version in sorted(store.versions()):
        model = store.version_model(version)
        if not model.files and is_remote(model.root):
            continue
        names = {f.rel for f in model.files}
        infos.append(VersionInfo(
            version, store.version_uri(version), len(model.files), model.total_bytes,
            max((f.modified for f in model.files), default=0.0),
            bool(names & set(SAVED_MODEL_FILES)),
        ))
    return infos


def rollback(destination: Destination, to_version: int | None) -> tuple[Model, Published]:
    """Republish an older version (default: the one before the newest) as the newest, through the
    same staged, atomic path as a push, so model servers that serve the newest switch back to it."""
    store = open_store(destination.base)
    complete = [v.version for v in list_versions(store) if v.complete]
    if len(complete) < 2 and to_version is None:
        raise InputError(f"rollback: {store.uri} has {len(complete)} complete version(s); nothing to roll back to")
    target = complete[-2] if to_version is None else to_version
    if target not in complete:
        raise InputError(
            f"rollback: version {target} is not a complete version at {store.uri} (complete: {', '.join(map(str, complete)) or 'none'})"
        )
    if target == complete[-1]:
        raise InputError(f"rollback: version {target} is already the newest version at {store.uri}")
    log.info("Rolling back %s to version %d: republishing it as a new version.", store.uri, target)
    source = store.version_model(target)
    return source, push(source, destination, reuse=False)
