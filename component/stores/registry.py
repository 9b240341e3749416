"""Which object store serves a URI: gs:// is Google Cloud Storage, s3:// and minio:// (KFP's name
for its in-cluster store) are S3-compatible. Each store's module is imported only when one of its
URIs is used, so a local push loads no cloud library."""

import functools
import re

from component.stores.bucket import Bucket, split_uri

# scheme -> the module that implements stores.bucket.Bucket for it (its open_bucket function).
SCHEMES = ("gs", "s3", "minio")


def is_remote(uri: str) -> bool:
    return uri.partition("://")[0] in SCHEMES and "://" in uri


@functools.cache
def bucket_of(scheme: str, bucket: str) -> Bucket:
    if scheme == "gs":
        from component.stores import gcs

        return gcs.open_bucket(scheme, bucket)
    from component.stores import s3

    return s3.open_bucket(scheme, bucket)


# The bucket names each service allows (S3: 3-63 lowercase letters, digits, dots and hyphens; GCS
# also underscores, and up to 222 characters with dots), so that a mistyped URI is refused as an
# input before anything is sent, and a "user:password@host:port" written into it is never echoed.
_BUCKET_NAMES = {
    "gs": re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]"),
    "s3": re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"),
}
_IP_ADDRESS = re.compile(r"\d+\.\d+\.\d+\.\d+")


def bucket_name_problem(scheme: str, bucket: str) -> str:
    """Why `bucket` is no bucket name of the service behind `scheme`; "" when it is one."""
    if "@" in bucket or ":" in bucket:
        return ("it holds credentials or a port, which a bucket name cannot; credentials come from the "
                "environment (AWS_ACCESS_KEY_ID, GOOGLE_APPLICATION_CREDENTIALS), an endpoint from AWS_ENDPOINT_URL")
    pattern = _BUCKET_NAMES["gs" if scheme == "gs" else "s3"]
    if not pattern.fullmatch(bucket) or ".." in bucket or _IP_ADDRESS.fullmatch(bucket):
        rule = ("3-222 lowercase letters, digits, '-', '_' and '.'" if scheme == "gs" else
                "3-63 lowercase letters, digits, '-' and '.', not an IP address")
        return f"bucket names are {rule}, beginning and ending with a letter or digit"
    return ""


def locate(uri: str) -> tuple[Bucket, str]:
    """The store holding `uri` and the key of its object (or key prefix of its directory)."""
    scheme, bucket, key = split_uri(uri)
    if scheme not in SCHEMES:
        raise ValueError(f"not an object store URI: {uri}")
    return bucket_of(scheme, bucket), key


def same_service(a: str, b: str) -> bool:
    """Whether a server-side copy from `a` to `b` is possible: both in one service (s3:// and
    minio:// share one endpoint and its credentials)."""
    kind = {"gs": "gs", "s3": "s3", "minio": "s3"}
    return is_remote(a) and is_remote(b) and kind[a.partition("://")[0]] == kind[b.partition("://")[0]]
