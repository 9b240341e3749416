"""Publish to a local or mounted directory: stage hidden, flush, then one atomic rename.

A model server polling the base directory sees either nothing or a complete version, because a
version directory only ever appears through rename(2), which is atomic and never replaces a
non-empty directory, so it also settles which of two racing pushes gets a number.
"""

import errno
import fcntl
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from component.errors import InputError, PublishError
from component.model import Model
from component.push.versioning import STAGING_PREFIX, numeric_versions
from component.runtime import stopping
from component.runtime.progress import Progress
from component.savedmodel.locate import local_model
from component.stores.local_files import copy_model, fsync, remove_tree

log = logging.getLogger(__name__)

# Hidden, so model servers (which load only numeric names) never look inside.
DELETING_PREFIX = ".deleting-"
LOCK_SUFFIX = ".lock"


@dataclass
class LocalStaging:
    directory: Path
    lock: Path
    lock_fd: int


class LocalBase:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.uri = str(base)

    def version_uri(self, version: int) -> str:
        return str(self.base / str(version))

    def versions(self) -> set[int]:
        return numeric_versions(base_entries(self.base))

    def clean_abandoned(self) -> None:
        """Remove what pushes that crashed or were killed left behind: their flock died with them."""
        for name in base_entries(self.base):
            if name.startswith(DELETING_PREFIX):  # a deletion interrupted half-way (or under way): finish it
                remove_tree(self.base / name)
            if not (name.startswith(STAGING_PREFIX) and name.endswith(LOCK_SUFFIX)):
                continue
            lock = self.base / name
            try:
                fd = os.open(lock, os.O_RDWR)
            except FileNotFoundError:
                continue  # its owner finished meanwhile
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue  # a live push holds it
            staging = self.base / name[: -len(LOCK_SUFFIX)]
            remove_tree(staging)
            lock.unlink(missing_ok=True)
            os.close(fd)
            log.info("Removed %s, left by an interrupted push.", staging)

    def stage(self, model: Model, progress: Progress) -> LocalStaging:
        self.base.mkdir(parents=True, exist_ok=True)
        staging = self._claim_staging()
        try:
            copy_model(model, staging.directory, progress)
        except BaseException:
            self.discard(staging)  # a failed copy leaves nothing behind, not even hidden
            raise
        return staging

    def publish(self, staging: LocalStaging, version: int) -> bool:
        target = self.base / str(version)
        if os.path.lexists(target):
            return False
        try:
            with stopping.committing(str(target)):
                os.rename(staging.directory, target)
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
                return False
            raise
        fsync(self.base)
        return True

    def discard(self, staging: LocalStaging) -> None:
        if staging.directory.exists():  # after a publish it is the version now
            remove_tree(staging.directory)
        staging.lock.unlink(missing_ok=True)
        os.close(staging.lock_fd)

    def version_model(self, version: int) -> Model:
        # A number is taken by any name a model server reads as it, but only a real directory with
        # the plain decimal name is a version the pusher reads, reuses, rolls back to or deletes.
        # A numeric file or symlink (dangling, looping, or to a directory anywhere), or "007" or " 7", is
        # someone else's: it shows as a version with no files, so it is never complete, and new
        # versions go above it (a server that reads it as a version then still switches to ours).
        origin = f"version {version} at {self.uri}"
        path = self.base / str(version)
        if not _is_real_directory(path):
            log.info("Version number %d at %s is taken by something that is not a version directory (a file, "
                     "a symlink, or another spelling of the number such as 007); it is left alone.", version, self.uri)
            return Model(str(path), origin, (), ())
        try:
            return local_model(path, "push_destination", origin)
        except InputError:
            if os.path.lexists(path):
                raise
            # Another push's retention renamed it away while we looked: it holds nothing now.
            return Model(str(path), origin, (), ())

    def delete_version(self, version: int) -> None:
        path = self.base / str(version)
        if not _is_real_directory(path):
            # Not a directory this pusher made: a link is never followed to delete what it points at.
            log.warning("Not deleting %s: it is not a version directory.", path)
            return
        # Renamed away first, so a model server sees the version vanish at once, not file by file.
        doomed = self.base / f"{DELETING_PREFIX}{version}-{_random_token()}"
        try:
            os.rename(path, doomed)
        except FileNotFoundError:
            return  # another push's retention removed it first
        fsync(self.base)
        remove_tree(doomed)

    def abandoned(self, version: int, newest_write: float) -> bool:
        """Never here: a local version appears complete in one rename, so an incomplete numeric
        directory is someone else's, not garbage of ours."""
        return False

    def _claim_staging(self) -> LocalStaging:
        while True:
            token = f"{STAGING_PREFIX}{_random_token()}"
            lock = self.base / f"{token}{LOCK_SUFFIX}"
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
            # A cleaner may have taken the lock between our create and flock, and removed it.
            if os.fstat(fd).st_nlink:
                directory = self.base / token
                directory.mkdir()
                return LocalStaging(directory, lock, fd)
            os.close(fd)


def base_entries(base: Path) -> list[str]:
    """The names in a local base directory; [] when it does not exist yet. A base that is a file,
    under a file, or a symlink loop is a bad input, refused before anything is written."""
    try:
        return os.listdir(base)
    except FileNotFoundError:
        # Not there yet: it will be made, unless what is there instead of a parent is no directory
        # (a dangling symlink), which mkdir would trip over only after the archive is written.
        existing = next((p for p in base.absolute().parents if os.path.lexists(p)), None)
        if existing is not None and not existing.is_dir():
            raise InputError(f"push_destination: {base} cannot be made: {existing} is not a directory") from None
        return []
    except OSError as exc:
        if exc.errno in (errno.ENOTDIR, errno.ELOOP):
            raise InputError(f"push_destination: {base} is not a directory ({exc.strerror})") from None
        raise PublishError(f"push_destination: cannot read {base} ({exc.strerror})") from None


def _is_real_directory(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _random_token() -> str:
    # What uuid4().hex gives, without importing uuid (and platform) at every start.
    return os.urandom(16).hex()
