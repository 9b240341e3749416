"""Publish to a local or mounted directory: stage hidden, flush, then one atomic rename.

A model server polling the base directory sees either nothing or a complete version, because a
version directory only ever appears through rename(2), which is atomic and never replaces a
non-empty directory, so it also settles which of two racing pushes gets a number.

A number is published only under an exclusive flock of the base's `.high-water` file, and only
above every version present and above the high-water mark it holds (the highest number ever
published there, written before the rename): a version removed by retention never gets its number back, and a push that stalled
while others published takes a number above theirs.
"""

import errno
import fcntl
import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from component.errors import InputError, PublishError
from component.model import Model
from component.push.versioning import STAGING_PREFIX, numeric_versions, parse_version
from component.runtime import stopping
from component.stores.progress import Progress
from component.stores.local_files import copy_model, fsync, remove_entry, remove_tree
from component.stores.trees import local_model

log = logging.getLogger(__name__)

# Hidden, so model servers (which load only numeric names) never look inside.
DELETING_PREFIX = ".deleting-"
LOCK_SUFFIX = ".lock"
NOTHING_PUBLISHED = "nothing was published"
HIGH_WATER = ".high-water"


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

    def highest_used(self) -> int:
        return read_high_water(self.base)

    def clean_abandoned(self) -> None:
        """Remove what pushes that crashed or were killed left behind: their flock died with them."""
        for name in base_entries(self.base):
            if name.startswith(DELETING_PREFIX):  # a deletion interrupted half-way (or under way): finish it
                _remove_left(self.base / name)
            if not (name.startswith(STAGING_PREFIX) and name.endswith(LOCK_SUFFIX)):
                continue
            lock = self.base / name
            try:
                # Never following a link, never waiting on a FIFO: only a plain file is a lock of ours.
                fd = os.open(lock, os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK)
            except FileNotFoundError:
                continue  # its owner finished meanwhile
            except OSError as exc:
                log.warning("Leaving %s alone: it is not a push's lock file (%s).", lock, exc.strerror)
                continue
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    log.warning("Leaving %s alone: it is not a push's lock file.", lock)
                    continue
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a live push holds it
                staging = self.base / name[: -len(LOCK_SUFFIX)]
                _remove_left(staging)
                lock.unlink(missing_ok=True)
            finally:
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
        """False when `version` is taken or overtaken: not above every version present and every
        number ever published here."""
        target = self.base / str(version)
        with _high_water(self.base) as mark:
            if version <= max(self.versions() | {mark.read()}):
                return False
            mark.write(version)  # first: a rename that then fails only burns a number
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
        except InputError as exc:
            if os.path.lexists(path):
                # Name the version: the walk's message names only the entry inside it.
                raise InputError(f"push_destination: version {version} at {self.uri}: "
                                 f"{str(exc).removeprefix('push_destination: ')}") from None
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
        if exc.errno in (errno.ENOTDIR, errno.ELOOP, errno.ENAMETOOLONG):
            raise InputError(f"push_destination: {base} is not a directory ({exc.strerror})") from None
        raise PublishError(f"push_destination: cannot read {base} ({exc.strerror})") from None


class HighWater:
    """The base's high-water mark, an open `.high-water` file: the highest number ever published
    there, as fixed-width decimal digits rewritten in place (one small write at offset 0, which a
    crash cannot tear), so the file itself can be the publish lock."""

    WIDTH = 19  # digits of the largest int64

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd

    def read(self) -> int:
        text = os.pread(self.fd, self.WIDTH + 1, 0).decode("ascii", "replace")
        if not text:
            return 0  # just made
        number = parse_version(text)
        if number is None:
            raise PublishError(f"push_destination: {self.path} does not hold a version number; remove it; "
                               f"{NOTHING_PUBLISHED}")
        return number

    def write(self, number: int) -> None:
        os.pwrite(self.fd, f"{number:0{self.WIDTH}d}\n".encode(), 0)
        os.fsync(self.fd)


def read_high_water(base: Path) -> int:
    """The base's high-water mark (0 when it has none), without waiting for the lock: a hint for
    choosing a number, which publish checks again under the lock."""
    if not os.path.lexists(base / HIGH_WATER):
        return 0
    with _high_water(base, lock=False) as mark:
        return mark.read()


@contextmanager
def _high_water(base: Path, lock: bool = True) -> Iterator[HighWater]:
    """The mark, held under an exclusive flock from the check of the numbers to the rename. A stop
    request interrupts the wait (the signal handler raises out of flock); a holder that dies
    releases it with its descriptor. Opened without following a link or blocking on a FIFO: a
    base may hold anything."""
    path = base / HIGH_WATER
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
    except OSError as exc:
        raise PublishError(f"push_destination: cannot open {path} ({exc.strerror}); remove it; "
                           f"{NOTHING_PUBLISHED}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise PublishError(f"push_destination: {path} is not a file; remove it; {NOTHING_PUBLISHED}")
        if lock:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.info("Another push is publishing at %s; waiting for it to finish (%s is its lock).", base, path)
                fcntl.flock(fd, fcntl.LOCK_EX)
        yield HighWater(path, fd)
    finally:
        os.close(fd)


def _remove_left(path: Path) -> None:
    """Remove what an interrupted push or deletion left under one of our hidden names; anything
    there that is not a directory is not ours, and is named in a warning."""
    if remove_entry(path):
        log.warning("Removed %s: a push never makes one that is not a directory.", path)


def _is_real_directory(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _random_token() -> str:
    # What uuid4().hex gives, without importing uuid (and platform) at every start.
    return os.urandom(16).hex()
