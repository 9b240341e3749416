"""CRC32C in the base64 form GCS and S3 report, of bytes and of local files."""

import base64

import google_crc32c

CHUNK = 8 * 1024 * 1024


def b64_crc32c(digest: bytes) -> str:
    """A CRC32C as GCS and S3 write it: base64 of its 4 big-endian bytes."""
    return base64.b64encode(digest).decode()


def crc32c_of_bytes(data: bytes) -> str:
    return b64_crc32c(google_crc32c.value(data).to_bytes(4, "big"))


def crc32c_of_file(path: str) -> str:
    checksum = google_crc32c.Checksum()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            checksum.update(chunk)
    return b64_crc32c(checksum.digest())
