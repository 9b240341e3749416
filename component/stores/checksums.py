"""CRC32C in the base64 form GCS and S3 report, of bytes and of local files."""

import base64
import hashlib
import zlib

import google_crc32c

CHUNK = 8 * 1024 * 1024


def b64_crc32c(digest: bytes) -> str:
    """A CRC32C as GCS and S3 write it: base64 of its 4 big-endian bytes."""
    return base64.b64encode(digest).decode()


def crc32c_of_bytes(data: bytes) -> str:
    return b64_crc32c(google_crc32c.value(data).to_bytes(4, "big"))


def checksum_of_file(path: str, kind: str, parts: int, part_size: int) -> str:
    """The checksum `kind` ("crc32", "crc32c" or "md5") of a local file in the form S3 reports it:
    of the whole file when `parts` is 0, else of `parts` parts of `part_size` bytes (the checksum of
    the parts' checksums, with "-N")."""
    def new():
        return {"crc32": _Crc32, "crc32c": google_crc32c.Checksum, "md5": hashlib.md5}[kind]()

    def encoded(digest: bytes) -> str:
        return digest.hex() if kind == "md5" else b64_crc32c(digest)

    whole, part, in_part = new(), new(), 0
    with open(path, "rb") as f:
        while chunk := f.read(min(CHUNK, part_size - in_part) if parts else CHUNK):
            if not parts:
                whole.update(chunk)
                continue
            part.update(chunk)
            in_part += len(chunk)
            if in_part == part_size:
                whole.update(part.digest())
                part, in_part = new(), 0
    if parts and in_part:
        whole.update(part.digest())
    return encoded(whole.digest()) + (f"-{parts}" if parts else "")


class _Crc32:
    """zlib's CRC32 with the interface of hashlib's and google_crc32c's checksums."""

    def __init__(self) -> None:
        self._value = 0

    def update(self, data: bytes) -> None:
        self._value = zlib.crc32(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(4, "big")


def crc32c_of_file(path: str) -> str:
    checksum = google_crc32c.Checksum()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            checksum.update(chunk)
    return b64_crc32c(checksum.digest())
