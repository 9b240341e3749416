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
