"""Copy a model's files into a local directory, durably: what a local version, the pushed_model
archive and the deep check's copy are made with, whether the model is on this disk or in a bucket."""

import errno
import functools
import os
import stat
from pathlib import Path

from component.model import LOAD_TRIGGER, Model, ModelFile
from component.stores.parallel import in_parallel
from component.stores.progress import Progress
from component.stores.transfer import check_unchanged, download

# Copied at a time; the disk starts writing each block as soon as it is copied.
CHUNK = 16 * 1024 * 1024


def copy_model(model: Model, dest: Path, progress: Progress) -> None:
    """Copy every file and empty directory of `model` into `dest`, flushed to disk.

    Files are copied in parallel (the kernel does the copying, outside the GIL), each one's
    writeback to disk started as soon as it is copied, so the disk writes while the next files
    are copied; then all are flushed (fsync) together, so the filesystem commits its journal once
    for many of them. The file that makes TF Serving load a version is written last, after all
    others are on disk.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for rel in {str(Path(f.rel).parent) for f in model.files} | set(model.empty_dirs):
        (dest / rel).mkdir(parents=True, exist_ok=True)
    ordered = model.in_publish_order()
    trigger = [f for f in ordered if f.rel == LOAD_TRIGGER]
    rest = ordered[: len(ordered) - len(trigger)]
    in_parallel([functools.partial(_copy_file, f, dest / f.rel, progress) for f in rest])
    in_parallel([functools.partial(fsync, dest / f.rel) for f in rest])
    for f in trigger:
        _copy_file(f, dest / f.rel, progress)
        fsync(dest / f.rel)
    directories = {dest / Path(f.rel).parent for f in model.files} | {dest / d for d in model.empty_dirs}
    in_parallel([functools.partial(fsync, d) for d in directories])


def _copy_file(f: ModelFile, target: Path, progress: Progress) -> None:
    """Copy one file, starting to write it to disk as it goes; copy_model waits for that (fsync) later."""
    # Create-only ("x"): a destination is always new, and a link found there is never written through.
    with open(target, "xb") as dst:
        if "://" in f.source:  # a model read from an object store
            download(f, dst, progress)
            dst.flush()
            _start_writeback(dst.fileno(), 0, 0)
        else:
            with open(f.source, "rb") as src:
                check_unchanged(f, os.fstat(src.fileno()), _copy_stream(src.fileno(), dst.fileno(), progress))
    progress.add(files=1)


def _copy_stream(src: int, dst: int, progress: Progress) -> int:
    """Copy to the end of `src`; returns the bytes copied."""
    done = 0
    try:
        while n := os.copy_file_range(src, dst, CHUNK):
            _start_writeback(dst, done, n)
            done += n
            progress.add(n)
        return done
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL):
            raise
    # Filesystems the kernel cannot copy between: plain reads and writes, 8 MiB at a time, so
    # memory stays bounded with every copy thread reading.
    while data := os.read(src, 8 * 1024 * 1024):
        view = memoryview(data)
        while view:
            view = view[os.write(dst, view):]
        _start_writeback(dst, done, len(data))
        done += len(data)
        progress.add(len(data))
    return done


def remove_entry(path: Path) -> bool:
    """Remove whatever `path` is: a directory as a tree (its entries without following the links
    among them), anything else (a file, a link itself, a FIFO) unlinked, never opened or followed.
    True when it was something other than a directory."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(mode):
        remove_tree(path)
        return False
    path.unlink(missing_ok=True)
    return True


def remove_tree(path: Path) -> None:
    """rmtree that tolerates another push removing the same tree at the same time."""
    import shutil  # its compression imports would slow every start; most pushes remove nothing

    def gone_already(function, name, exc_info) -> None:
        if not issubclass(exc_info[0], FileNotFoundError):
            raise exc_info[1]

    shutil.rmtree(path, onerror=gone_already)


def _start_writeback(fd: int, offset: int, length: int) -> None:
    # On Linux, POSIX_FADV_DONTNEED starts writing a file's dirty pages to disk without waiting
    # (then drops the pages already clean): the disk works while other files are copied, and the
    # fsync that follows finds little left to wait for. Elsewhere it is a mere hint.
    if hasattr(os, "posix_fadvise"):
        os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)


def fsync(path: Path) -> None:
    """Wait until a file's (or a directory's entries') bytes are on disk. A new descriptor is
    enough: Linux reports a writeback error not yet seen to the next fsync of the file, whichever
    descriptor it comes through (since 4.16), and a model may have more files than a process may
    keep open."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_file(path: Path, text: str) -> None:
    """Put `text` at `path` as a new file: written beside it under a name created exclusively (never
    through a link someone left there), then renamed over `path`. Whatever `path` was (a symlink,
    or a hard link into a live version or into the model) is replaced, never written through."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.urandom(8).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
