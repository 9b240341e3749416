"""Which object store serves a URI: gs:// is Google Cloud Storage, s3:// and minio:// (KFP's name
for its in-cluster store) are S3-compatible. Each store's module is imported only when one of its
URIs is used, so a local push loads no cloud library."""

import functools

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
