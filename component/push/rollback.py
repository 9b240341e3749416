"""Go back to an older version by republishing it as the newest one.

Without a version to go to, a rollback undoes the newest push: it republishes the version that
came before it. When the newest version is itself a rollback copy, the newest push was already
undone: nothing changes, so a rollback run twice (or retried) rolls back once. Going further back
takes an explicit version, and rolling back to the version the newest copy already holds is
likewise nothing to do.

The copy is numbered as the destination says; when neither its JSON nor --versioning says, as the
base already is: SEQUENTIAL when no version there is a Unix time, so a base numbered 1, 2, 3
stays so (AUTO would jump to the current Unix time, and every later SEQUENTIAL push after it)."""

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path

from component.errors import InputError
from component.model import Model
from component.push.base import ServingBase, open_base
from component.push.destination import Destination, Versioning
from component.push.outcome import Published
from component.push.publish import push
from component.push.rollback_note import RollbackNote, with_note
from component.push.versions import VersionInfo, list_versions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RolledBack:
    source: Model  # the version republished (or, when nothing changed, the newest)
    published: Published  # reused: nothing was published, the newest already is the rollback
    reason: str


def rollback(destination: Destination, to_version: int | None) -> RolledBack:
    """Republish an older version as the newest, through the same staged, atomic path as a push,
    so model servers that serve the newest switch back to it."""
    started = time.monotonic()
    base = open_base(destination.base)
    infos = list_versions(base, read_notes=True)
    if not destination.versioning_stated:
        destination = replace(destination, versioning=_numbering_of(infos))
    complete = [v for v in infos if v.complete]
    numbers = [v.version for v in complete]
    if not complete or (to_version is None and len(complete) < 2):
        raise InputError(f"rollback: {base.uri} has {len(complete)} complete version(s); nothing to roll back to")
    newest = complete[-1]
    if to_version is None:
        if newest.rollback is not None:
            return _unchanged(base, newest, started, f"the newest push was already rolled back: version {newest.version} "
                              f"is a {newest.rollback.text()}; give --to VERSION to go further back")
        target = complete[-2]
    else:
        if to_version not in numbers:
            raise InputError(f"rollback: version {to_version} is not a complete version at {base.uri} "
                             f"(complete: {', '.join(map(str, numbers))})")
        target = complete[numbers.index(to_version)]
        if target is newest:
            raise InputError(f"rollback: version {to_version} is already the newest version at {base.uri}")
        if newest.rollback is not None and newest.rollback.copy_of == _pushed_as(target):
            return _unchanged(base, newest, started, f"already rolled back to version {to_version}: version "
                              f"{newest.version} is a {newest.rollback.text()}")
    log.info("Rolling back %s from version %d to version %d: republishing it as a new version.",
             base.uri, newest.version, target.version)
    source = base.version_model(target.version)
    note = RollbackNote(_pushed_as(target), newest.version, time.time())
    import tempfile  # every push imports this module; only a rollback needs a temporary folder

    with tempfile.TemporaryDirectory(prefix="model-pusher-rollback-") as folder:
        published = push(with_note(source, note, Path(folder)), destination, reuse=False)
    return RolledBack(source, published, f"rolled back: republished {source.origin} as version {published.version}")


# 2001-09-09 in Unix seconds: a version below it was not numbered by the clock.
_FIRST_TEN_DIGIT_TIME = 1_000_000_000


def _numbering_of(infos: list[VersionInfo]) -> Versioning:
    if infos and all(i.version < _FIRST_TEN_DIGIT_TIME for i in infos):
        log.info("Numbering the copy SEQUENTIAL, like the versions already at the base (give --versioning to choose).")
        return Versioning.SEQUENTIAL
    return Versioning.AUTO


def _pushed_as(info: VersionInfo) -> int:
    """The version a push made that holds this model."""
    return info.rollback.copy_of if info.rollback is not None else info.version


def _unchanged(base: ServingBase, newest: VersionInfo, started: float, reason: str) -> RolledBack:
    log.info("Nothing to roll back at %s: %s.", base.uri, reason)
    published = Published(newest.version, newest.uri, newest.files, newest.bytes, time.monotonic() - started,
                          reused=True)
    return RolledBack(base.version_model(newest.version), published, reason)
