"""A model to push, as files: what every store reads and writes. The one place where a file's
relative path is checked, whatever listing or directory walk it came from."""

from dataclasses import dataclass

from component.errors import InputError

SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")
# Written last: TF Serving starts loading a version the moment it sees saved_model.pb.
LOAD_TRIGGER = "saved_model.pb"


@dataclass(frozen=True)
class ModelFile:
    rel: str  # POSIX path relative to the SavedModel directory, checked by safe_relative
    size: int
    source: str  # where to read it: a local path, or a gs:// / s3:// URI for a model in a store
    crc32c: str = ""  # base64 of the big-endian CRC32C, as GCS and S3 report it; "" when unknown
    modified: float = 0.0  # Unix time


@dataclass(frozen=True)
class Model:
    root: str  # the SavedModel directory: a local path or a gs:// / s3:// URI
    origin: str  # which input it came from, in words
    files: tuple[ModelFile, ...]
    empty_dirs: tuple[str, ...]

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def in_publish_order(self) -> list[ModelFile]:
        """Every file, the one that makes model servers load the version last."""
        return sorted(self.files, key=lambda f: f.rel == LOAD_TRIGGER)


# The longest name of one path component on Linux file systems (ext4, xfs, tmpfs), in bytes.
NAME_MAX = 255
PATH_MAX = 4096  # Linux's, with the terminating NUL


def long_component(path: str) -> str | None:
    """The first component of `path` too long for a file system to hold; None when none is."""
    return next((part for part in path.split("/") if len(part.encode("utf-8", "surrogateescape")) > NAME_MAX), None)


def check_fits_on_disk(model: Model, input_name: str) -> None:
    """A model read from a store may hold names no disk can: a component longer than NAME_MAX
    bytes, or one name that is both a file and a directory ("a" and "a/b"). Refused before
    anything is written, not found half-way through a copy."""
    files = {f.rel for f in model.files}
    for rel in sorted(files | set(model.empty_dirs)):
        part = long_component(rel)
        if part is not None:
            raise InputError(f"{input_name}: {rel[:80]!r} has a name of {len(part.encode())} bytes; a file system "
                             f"allows {NAME_MAX}, so the model cannot be written to a disk")
    directories = {rel.rsplit("/", 1)[0] for rel in files | set(model.empty_dirs) if "/" in rel}
    directories |= {d.rsplit("/", i)[0] for d in set(directories) for i in range(1, d.count("/") + 1)}
    both = sorted(files & (directories | set(model.empty_dirs)))
    if both:
        raise InputError(f"{input_name}: {both[0]!r} is both a file and a directory in the model, which no disk "
                         "can hold; refusing to push this model")


def safe_relative(rel: str, where: str) -> str:
    """`rel` if it can only ever name something inside the model directory; else a bad input.

    Names come from listings of stores that anyone with write access could fill: an object
    "m//etc/passwd" or "m/../../x" must never become a path outside a local version, an archive
    or a temporary copy, nor be copied as-is into a serving directory.
    """
    parts = rel.split("/")
    bad = (
        not rel
        or any(p in ("", ".", "..") for p in parts)
        or "\\" in rel
        or any(ord(c) < 0x20 or c == "\x7f" for c in rel)
    )
    if bad:
        raise InputError(
            f"{where}: holds a file named {rel!r}, which is not a plain relative path (empty, '.' or "
            "'..' segments, a backslash or a control character); refusing to push this model"
        )
    return rel
