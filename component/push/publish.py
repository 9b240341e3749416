"""Publish a model at a serving base as a new numbered version, atomically; or reuse the newest
version when it already holds exactly this model. The same steps for every kind of base: clean
what crashed pushes left, stage the model where model servers do not look, claim the next free
version, make it visible; then retention."""

import logging
import time
from collections.abc import Callable
from typing import Any

from component.errors import PublishError
from component.model import Model
from component.push.base import ServingBase, open_base
from component.push.destination import Destination
from component.push.outcome import Published
from component.push.retention import retain_after
from component.push.reuse import find_reusable
from component.push.versioning import next_version
from component.stores.parallel import in_parallel
from component.stores.progress import Progress, rate

log = logging.getLogger(__name__)

# Each failed claim means another push took that number first; this bound only matters in a storm.
MAX_CLAIM_ATTEMPTS = 100


def push(
    model: Model,
    destination: Destination,
    *,
    reuse: bool = True,
    keep: int = 0,
    clock: Callable[[], float] = time.time,
    before_writing: Callable[[], None] = lambda: None,
) -> Published:
    """Publish `model` as a new version; or, with `reuse`, point at the newest version when it
    already holds exactly this model (a retried step); then keep only the `keep` newest (0: all).
    `before_writing` runs once every check that can refuse the push has passed, before anything
    is written to the base (the pushed_model archive: a refused push writes nothing anywhere)."""
    base = open_base(destination.base)
    try:
        # Independent, so at once: in a bucket each is a round trip of its own.
        _, taken, highest = in_parallel([base.clean_abandoned, base.versions, base.highest_used])
        published = find_reusable(base, model, taken) if reuse else None
        if published is None:
            next_version(destination.versioning, taken | {highest}, clock)  # refuses a number beyond int64
        before_writing()
        if published is None:
            published = _publish(base, model, destination, clock, taken | {highest})
    except OSError as exc:
        raise PublishError(f"push_destination: writing to {base.uri} failed: {exc}; nothing was published") from None
    if keep:
        published = retain_after(base, keep, published)
    return published


def _publish(base: ServingBase, model: Model, destination: Destination, clock: Callable[[], float],
             taken: set[int]) -> Published:
    progress = Progress(f"Publishing to {base.uri}", len(model.files), model.total_bytes)
    staging = base.stage(model, progress)
    try:
        version = _claim(base, staging, destination, clock, taken)
    finally:
        base.discard(staging)
        progress.done()
    published = Published(version, base.version_uri(version), len(model.files), model.total_bytes, progress.seconds)
    log.info(
        "Published version %d at %s: %d files, %.2f MB in %.2f s (%s).",
        version, published.uri, published.files, published.bytes / 1e6, published.seconds,
        rate(published.bytes, published.seconds),
    )
    return published


def _claim(base: ServingBase, staging: Any, destination: Destination, clock: Callable[[], float],
           taken: set[int]) -> int:
    # `taken` was listed before staging: a number taken (or overtaken) since makes the publish
    # refuse it, then we look again and go above everything published meanwhile.
    for _ in range(MAX_CLAIM_ATTEMPTS):
        version = next_version(destination.versioning, taken, clock)
        if base.publish(staging, version):
            return version
        log.info("Another push claimed version %d or a higher one meanwhile; trying a number above it.", version)
        taken = base.versions() | {version, base.highest_used()}
    raise PublishError(f"push_destination: no free version found at {base.uri} after {MAX_CLAIM_ATTEMPTS} tries")
