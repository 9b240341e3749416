"""Publish a SavedModel to a serving location as a new numbered version, atomically.

Every destination is a Store: local and mounted directories (local_store) or Google Cloud Storage
(gcs_store). The steps are the same for all: clean what crashed pushes left, stage the model
where model servers do not look, claim the next free version, make it visible in one step.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .destination import Destination
from .errors import PublishError
from .local_store import LocalStore, copy_model
from .model_source import Model
from .progress import Progress, rate
from .versioning import next_version

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
        """Put every file where model servers do not look; returns a handle for publish/discard."""

    def publish(self, staging: Any, version: int) -> bool:
        """Make the staged model visible as `version`; False when that number is already taken."""

    def discard(self, staging: Any) -> None:
        """Remove what is left of the staging area (after publish or after a failure)."""

    def version_model(self, version: int) -> Model:
        """A published version's files (with their CRC32C where the store keeps one), as a Model
        that can itself be pushed: that is how rollback republishes an old version."""

    def delete_version(self, version: int) -> None:
        """Remove a version so that servers see it disappear at once, not file by file."""


@dataclass(frozen=True)
class Published:
    version: int
    uri: str
    files: int
    bytes: int
    seconds: float
    reused: bool = False  # the newest version already held exactly this model
    removed: tuple[int, ...] = ()  # older versions deleted by retention


def open_store(base: str) -> Store:
    if base.startswith("gs://"):
        from .gcs_store import GcsStore  # only GCS pushes need google-cloud-storage loaded

        return GcsStore(base)
    return LocalStore(Path(base))


def push(model: Model, destination: Destination, clock: Callable[[], float] = time.time) -> Published:
    store = open_store(destination.base)
    try:
        store.clean_abandoned()
        progress = Progress(f"Publishing to {store.uri}", len(model.files), model.total_bytes)
        staging = store.stage(model, progress)
        try:
            version = _claim(store, staging, destination, clock)
        finally:
            store.discard(staging)
            progress.done()
    except OSError as exc:
        raise PublishError(f"push_destination: writing to {store.uri} failed: {exc}; nothing was published") from None
    published = Published(version, store.version_uri(version), len(model.files), model.total_bytes, progress.seconds)
    log.info(
        "Published version %d at %s: %d files, %.1f MB in %.2f s (%s).",
        version, published.uri, published.files, published.bytes / 1e6, published.seconds,
        rate(published.bytes, published.seconds),
    )
    return published


def _claim(store: Store, staging: Any, destination: Destination, clock: Callable[[], float]) -> int:
    taken = store.versions()
    for _ in range(MAX_CLAIM_ATTEMPTS):
        version = next_version(destination.versioning, taken, clock)
        if store.publish(staging, version):
            return version
        log.info("Version %d was taken by another push meanwhile; trying the next free number.", version)
        taken = store.versions() | {version}
    raise PublishError(f"push_destination: no free version found at {store.uri} after {MAX_CLAIM_ATTEMPTS} tries")


def archive(model: Model, target: Path) -> None:
    """TFX keeps a copy of the pushed model in the pushed_model artifact; so do we."""
    progress = Progress(f"Archiving to {target}", len(model.files), model.total_bytes)
    try:
        copy_model(model, target, progress)
    except OSError as exc:
        raise PublishError(f"pushed_model: writing the archive copy to {target} failed: {exc}") from None
    progress.done()
    log.info("Archived the model in the pushed_model artifact at %s.", target)
