"""CRC32C of model files, in the base64 form GCS and S3 report, to tell whether two models are the same."""

import base64
from concurrent.futures import ThreadPoolExecutor

import google_crc32c

from .model import Model, ModelFile

CHUNK = 8 * 1024 * 1024


def b64_crc32c(digest: bytes) -> str:
    """A CRC32C as GCS and S3 write it: base64 of its 4 big-endian bytes."""
    return base64.b64encode(digest).decode()


def crc32c_of_file(path: str) -> str:
    checksum = google_crc32c.Checksum()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            checksum.update(chunk)
    return b64_crc32c(checksum.digest())


def crc32c(f: ModelFile) -> str:
    """The file's CRC32C: the one the store already keeps, else computed from the local file."""
    return f.crc32c or crc32c_of_file(f.source)


def same_content(a: Model, b: Model) -> bool:
    """Same relative paths, sizes and CRC32C. Sizes are compared first, so different models
    usually cost no reading at all; checksums are computed in parallel (outside the GIL)."""
    by_rel = {f.rel: f for f in b.files}
    if {(f.rel, f.size) for f in a.files} != {(f.rel, f.size) for f in b.files}:
        return False
    with ThreadPoolExecutor(4) as pool:
        return all(pool.map(lambda f: crc32c(f) == crc32c(by_rel[f.rel]), a.files))
