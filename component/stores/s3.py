"""S3-compatible stores (AWS S3, and the SeaweedFS or MinIO of Kubeflow Pipelines, `minio://`): the
object-store verbs (stores.bucket.Bucket) on one bucket, one shared client and connection pool, the
retry policy, and the translation of what boto3 raises into the bucket errors (stores.bucket), at
this edge. Imported only when an s3:// or
minio:// location is involved.

Configuration is AWS's own: the default credential chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY,
web identity / IRSA, profiles), AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL for a store that is not AWS
(path-style addressing then, which every such store needs), AWS_REGION. minio:// uses the same.

Integrity: every upload carries the CRC32C of its bytes, which AWS, MinIO and SeaweedFS check
(BadDigest otherwise); where the store's ETag is the MD5 of what it stored (an unencrypted or
SSE-S3 single request or part), that is compared too, the one proof a store that does not check
checksums (moto) still gives. Big files go in multipart uploads whose parts are read from disk and
sent in parallel, at most PARTS_IN_FLIGHT at a time (memory stays flat), each with its CRC32C, which
the store checks. Their object gets the COMPOSITE checksum (a CRC32C of the parts' CRC32C, "...-N"),
the one kind every S3 store with checksums implements: FULL_OBJECT multipart checksums came late to
MinIO and SeaweedFS, and stores without them refuse one as BadDigest. The composite is computed here
from the same parts and compared with the store's. The CRC32C of the whole file goes with the object
as metadata (CRC32C_METADATA), so that every object of a version has a CRC32C in the same form as
GCS's and as a local file's, and a re-push recognises it without reading it back.
"""

from __future__ import annotations  # S3Bucket.list would shadow the builtin in annotations

import functools
import hashlib
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, BinaryIO, TypeVar

import boto3
import google_crc32c
from awscrt import checksums as crt_checksums
from botocore import exceptions as boto_exceptions
from botocore import handlers as botocore_handlers
from botocore.config import Config
from google.api_core import exceptions as api_exceptions

from component import settings
from component.runtime import stopping
from component.stores.checksums import b64_crc32c, crc32c_of_bytes, crc32c_of_file
from component.stores.progress import Progress, RetriedTransfer
from component.runtime.redact import redacted
from component.stores.bucket import (BucketError, Corrupt, Denied, Listing, NotFound, ObjectInfo,
                                     PreconditionFailed, Unauthenticated, Unavailable, split_uri)
from component.stores.retrying import bounded_retry, timeouts

log = logging.getLogger(__name__)
# botocore's own INFO lines ("Found credentials in environment variables.") say nothing a user needs.
logging.getLogger("botocore").setLevel(logging.WARNING)

# Every transfer thread (stores.parallel.WORKERS), every part in flight and the lease heartbeat
# get a connection without waiting.
POOL_SIZE = 64
# Files up to this size go in one PutObject; bigger ones in a multipart upload of parts this size
# (or bigger, to stay within S3's 10,000 parts).
PART_SIZE = 8 * 1024 * 1024
MAX_PARTS = 10_000
# Parts read into memory and being sent, across all files of the process: at most 64 MiB.
PARTS_IN_FLIGHT = 8
CHUNK = 1024 * 1024
# The user metadata (x-amz-meta-crc32c) in which a multipart upload records its whole file's CRC32C.
CRC32C_METADATA = "crc32c"

# Answers worth another try: S3's throttling and transient errors, and 409 ConditionalRequestConflict
# (two conditional writes of one key overlapped; AWS says retry), which botocore never retries.
RETRIED_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests",
                 "RequestTimeout", "InternalError", "ServiceUnavailable", "ConditionalRequestConflict",
                 "OperationAborted"}
RETRIED_STATUSES = {429, 500, 502, 503, 504}
CORRUPTED_CODES = {"BadDigest", "InvalidDigest", "XAmzContentChecksumMismatch", "InvalidChecksum"}
CREDENTIAL_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken",
                    "TokenRefreshRequired", "AuthorizationHeaderMalformed"}

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def endpoint() -> str | None:
    return settings.current().s3_endpoint


_CLIENT_LOCK = threading.Lock()


def client() -> Any:
    """The one client of this process, and once a stop was requested, one that waits only briefly
    (boto3 clients are thread-safe; making one is not, hence the lock)."""
    with _CLIENT_LOCK:
        return shared_client(stopping.requested())


@functools.cache
def shared_client(stopping_now: bool = False) -> Any:
    """Its connection pool is POOL_SIZE wide; its timeouts are retrying.timeouts'.

    botocore's own retries are off: they count attempts rather than time, do not retry 409
    ConditionalRequestConflict and sleep where a stop request cannot reach them; `_retrying` applies
    the stores' one retry policy (stores.retrying) to every call instead, bounded in time.
    """
    url = endpoint()
    region = settings.current().s3_region or ("us-east-1" if url else None)
    connect_timeout, read_timeout = timeouts(retry_seconds())
    config = Config(
        max_pool_connections=POOL_SIZE,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"mode": "standard", "total_max_attempts": 1},
        s3={"addressing_style": "path"} if url else {},
    )
    # boto3 reads the AWS_ENDPOINT_URL* variables itself; the session reads the credential chain.
    if not stopping_now:
        log.info("Using the S3 API at %s.", f"{redacted(url)} (path-style addresses)" if url else f"AWS (region {region or 'from the AWS configuration'})")
    s3 = boto3.session.Session().client("s3", region_name=region, config=config)
    # botocore asks before every upload body whether the store wants it ("Expect: 100-continue"),
    # which costs every PUT a second round trip. Its point is not sending a huge body the store
    # will refuse; ours are at most one 8 MiB part, so the round trip is the dearer of the two.
    s3.meta.events.unregister("before-call.s3", botocore_handlers.add_expect_header)
    return s3


def retry_seconds() -> float:
    return settings.current().s3_retry_seconds


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, boto_exceptions.ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return exc.response.get("Error", {}).get("Code") in RETRIED_CODES or status in RETRIED_STATUSES
    return isinstance(exc, (boto_exceptions.ConnectionError, boto_exceptions.HTTPClientError,
                            boto_exceptions.ResponseStreamingError))


def _retrying(call: Callable[[], T], what: str, retried: Callable[[BaseException], bool] = _transient) -> T:
    """`call()`, retried on transient failures with jittered exponential backoff from 0.5 s (so
    racing pushes spread out) for at most retry_seconds() in all. Writes stay safe to repeat: they
    carry conditions, or go to names no other push uses, and a retry that meets its own earlier
    write knows it by its checksum."""
    retry = bounded_retry(retried, retry_seconds(),
                          lambda exc: f"The store did not complete {what} ({_translated(exc).reason})")
    return retry(call)()


def _code(exc: BaseException) -> str:
    return exc.response.get("Error", {}).get("Code", "") if isinstance(exc, boto_exceptions.ClientError) else ""


def _status(exc: BaseException) -> int:
    if isinstance(exc, boto_exceptions.ClientError):
        return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return 0


def _precondition_failed(exc: BaseException) -> bool:
    return _status(exc) == 412 or _code(exc) == "PreconditionFailed"


def open_bucket(scheme: str, bucket: str) -> "S3Bucket":
    return S3Bucket(scheme, bucket)


@contextmanager
def errors_translated(bucket: str = "") -> Iterator[None]:
    """Raise what boto3 (and the retries around it) raise as bucket errors; `bucket` is its URI."""
    try:
        yield
    except (boto_exceptions.BotoCoreError, boto_exceptions.ClientError, api_exceptions.RetryError) as exc:
        raise _translated(exc, bucket) from None


def translated(verb: F) -> F:
    """A verb of an S3Bucket (or of an upload into one) that raises only bucket errors."""

    @functools.wraps(verb)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        bucket = self if isinstance(self, S3Bucket) else self.bucket
        with errors_translated(f"{bucket.scheme}://{bucket.name}"):
            return verb(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


class S3Bucket:
    """Also HiddenUploads: multipart uploads are invisible until completed, so big files need no
    staging copy."""

    # Old MinIO and SeaweedFS accept If-None-Match / If-Match and ignore them: proved per push.
    conditions_guaranteed = False

    def __init__(self, scheme: str, bucket: str) -> None:
        self.scheme = scheme
        self.name = bucket

    @translated
    def list(self, prefix: str, recursive: bool = True) -> Listing:
        # S3 listings carry no CRC32C: files listed here have crc32c "", and whoever needs it asks
        # head() (transfer.file_crc32c).
        args = {"Bucket": self.name, "Prefix": prefix, **({} if recursive else {"Delimiter": "/"})}
        objects: list[ObjectInfo] = []
        folders: list[str] = []
        token = None
        while True:
            page = _retrying(lambda: client().list_objects_v2(**args, **({"ContinuationToken": token} if token else {})),
                             f"listing {self._uri(prefix)}")
            objects += [ObjectInfo(o["Key"], int(o["Size"]), "", o["LastModified"].timestamp(), o.get("ETag", ""))
                        for o in page.get("Contents", ())]
            folders += [p["Prefix"][len(prefix):].rstrip("/") for p in page.get("CommonPrefixes", ())]
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return Listing(objects, sorted(folders))

    @translated
    def head(self, key: str) -> ObjectInfo | None:
        try:
            head = _retrying(lambda: client().head_object(Bucket=self.name, Key=key, ChecksumMode="ENABLED"),
                             f"reading {self._uri(key)}")
        except boto_exceptions.ClientError as exc:
            if _status(exc) == 404:
                return None
            raise
        return ObjectInfo(key, int(head["ContentLength"]), _crc32c_of(head), head["LastModified"].timestamp(),
                          head.get("ETag", ""), dict(head.get("Metadata") or {}), _other_checksums(head))

    @translated
    def put_bytes(self, key: str, data: bytes, *, create_only: bool = False, if_tag: str = "",
                  metadata: Mapping[str, str] | None = None) -> ObjectInfo:
        conditions = {"IfNoneMatch": "*"} if create_only else {"IfMatch": if_tag} if if_tag else {}
        info, _ = self._put_one(key, data, conditions, dict(metadata or {}))
        return info

    @translated
    def put_file(self, key: str, path: str, size: int, *, create_only: bool,
                 progress: Progress | None) -> tuple[ObjectInfo, str]:
        conditions = {"IfNoneMatch": "*"} if create_only else {}
        if size > PART_SIZE:
            return self._put_multipart(key, path, size, conditions, progress)
        with open(path, "rb") as src:
            data = src.read()
        result = self._put_one(key, data, conditions, {})
        if progress is not None:
            progress.add(len(data))
        return result

    @translated
    def copy(self, source: str, key: str, *, create_only: bool) -> ObjectInfo:
        # One CopyObject, up to S3's 5 GiB limit for it (a multipart copy would lift that; models do
        # not need it yet). AWS honours If-None-Match on copies; emulators do not, which is why the
        # protocol claims a version before it copies into it.
        _, src_bucket, src_key = split_uri(source)
        _retrying(lambda: client().copy_object(
            Bucket=self.name, Key=key, CopySource={"Bucket": src_bucket, "Key": src_key},
            ChecksumAlgorithm="CRC32C", **({"IfNoneMatch": "*"} if create_only else {}),
        ), f"copying {source} to {self._uri(key)}")
        # A copy's answer has no size; the object's head has it, and the CRC32C the store computed.
        info = self.head(key)
        if info is None:
            raise Corrupt(f"the copy {self._uri(key)} is not there after the store reported it done")
        return info

    @translated
    def read(self, key: str) -> bytes | None:
        def attempt() -> bytes | None:
            # ChecksumMode: botocore checks the body against whatever checksum the store keeps.
            try:
                answer = client().get_object(Bucket=self.name, Key=key, ChecksumMode="ENABLED")
            except boto_exceptions.ClientError as exc:
                if _status(exc) == 404:
                    return None  # removed between a listing and this read (a lease, a claim)
                raise
            data = answer["Body"].read()
            stored = _crc32c_of(answer)
            if stored and stored != crc32c_of_bytes(data):
                raise Corrupt(f"the bytes read from {self._uri(key)} do not match its CRC32C")
            return data

        return _retrying(attempt, f"reading {self._uri(key)}")

    @translated
    def download(self, key: str, out: BinaryIO, progress: Progress | None) -> str:
        counted = RetriedTransfer(progress)
        start = out.tell()

        def attempt() -> str:
            out.seek(start)
            out.truncate()
            crc = google_crc32c.Checksum()
            received = 0
            answer = client().get_object(Bucket=self.name, Key=key, ChecksumMode="ENABLED")
            for block in answer["Body"].iter_chunks(CHUNK):
                crc.update(block)
                out.write(block)
                received += len(block)
                counted.reached(received)
            return b64_crc32c(crc.digest())

        return _retrying(attempt, f"downloading {self._uri(key)}")

    @translated
    def delete(self, key: str) -> None:
        # S3 answers 204 whether or not the object was there.
        _retrying(lambda: client().delete_object(Bucket=self.name, Key=key), f"deleting {self._uri(key)}")

    def _put_one(self, key: str, data: bytes, conditions: Mapping[str, str],
                 metadata: dict[str, str]) -> tuple[ObjectInfo, str]:
        crc = crc32c_of_bytes(data)
        md5 = hashlib.md5(data).hexdigest()
        answer = _retrying(lambda: client().put_object(
            Bucket=self.name, Key=key, Body=data, ChecksumAlgorithm="CRC32C", ChecksumCRC32C=crc,
            Metadata=metadata, **conditions,
        ), f"writing {self._uri(key)}")
        _check_md5(answer, md5, self._uri(key))
        return ObjectInfo(key, len(data), answer.get("ChecksumCRC32C", ""), time.time(), answer.get("ETag", ""),
                          metadata), crc

    def _put_multipart(self, key: str, path: str, size: int, conditions: Mapping[str, str],
                       progress: Progress | None) -> tuple[ObjectInfo, str]:
        upload = self.upload_hidden(key, path, size, progress)
        try:
            return upload.finish(bool(conditions))
        except BaseException:
            upload.abort()
            raise

    @translated
    def upload_hidden(self, key: str, path: str, size: int, progress: Progress | None) -> "S3HiddenUpload":
        """Upload a file's bytes as the parts of a multipart upload of `key`: S3 shows no object
        until the upload is completed, so a version can receive its big files unseen and appear
        with one completion request per file (HiddenUpload.finish), with no copy."""
        return _retrying(lambda: self._upload_parts(key, path, size, progress), f"uploading {self._uri(key)} in parts")

    @translated
    @translated
    def hidden(self, prefix: str) -> list[tuple[str, float]]:
        return [(upload["Key"], upload["Initiated"].timestamp()) for upload in self._unfinished(prefix)]

    @translated
    def abort_hidden(self, prefix: str, begun_before: float = math.inf) -> None:
        for upload in self._unfinished(prefix):
            if upload["Initiated"].timestamp() < begun_before:
                _abort(self.name, upload["Key"], upload["UploadId"])

    def _unfinished(self, prefix: str) -> list[dict[str, Any]]:
        uploads: list[dict[str, Any]] = []
        markers: dict[str, str] = {}
        while True:  # a page holds at most 1000 uploads
            listed = _retrying(lambda: client().list_multipart_uploads(Bucket=self.name, Prefix=prefix, **markers),
                               f"listing the unfinished uploads under {self._uri(prefix)}")
            uploads += listed.get("Uploads", ())
            if not listed.get("IsTruncated"):
                return uploads
            markers = {"KeyMarker": listed.get("NextKeyMarker", ""), "UploadIdMarker": listed.get("NextUploadIdMarker", "")}

    def _upload_parts(self, key: str, path: str, size: int, progress: Progress | None) -> "S3HiddenUpload":
        part_size = max(PART_SIZE, math.ceil(size / MAX_PARTS / CHUNK) * CHUNK)
        ranges = [(number, offset, min(part_size, size - offset))
                  for number, offset in enumerate(range(0, size, part_size), start=1)]
        counted = RetriedTransfer(progress)
        whole = crc32c_of_file(path)  # the object's metadata is given when its upload is created
        upload = client().create_multipart_upload(Bucket=self.name, Key=key, ChecksumAlgorithm="CRC32C",
                                                  Metadata={CRC32C_METADATA: whole})["UploadId"]
        futures = []
        try:
            futures = [_PARTS.submit(self._put_part, key, upload, path, r, counted) for r in ranges]
            parts = [f.result() for f in futures]
            combined = 0
            for (_, _, length), (_, crc) in zip(ranges, parts):
                combined = crt_checksums.combine_crc32c(combined, crc, length)
            if b64_crc32c(combined.to_bytes(4, "big")) != whole:
                raise Corrupt(f"{path} changed while it was being uploaded to {self._uri(key)}")
        except BaseException:
            for future in futures:
                future.cancel()
            _abort(self.name, key, upload)
            raise
        composite = crc32c_of_bytes(b"".join(crc.to_bytes(4, "big") for _, crc in parts))
        return S3HiddenUpload(self, key, path, upload, [p for p, _ in parts], whole, f"{composite}-{len(parts)}", size)

    def _put_part(self, key: str, upload: str, path: str, part: tuple[int, int, int],
                  counted: RetriedTransfer) -> tuple[dict[str, Any], int]:
        number, offset, length = part
        with open(path, "rb") as src:
            data = os.pread(src.fileno(), length, offset)
        crc = google_crc32c.value(data)
        b64 = b64_crc32c(crc.to_bytes(4, "big"))
        answer = _retrying(lambda: client().upload_part(
            Bucket=self.name, Key=key, UploadId=upload, PartNumber=number, Body=data,
            ChecksumAlgorithm="CRC32C", ChecksumCRC32C=b64,
        ), f"uploading part {number} of {self._uri(key)}")
        _check_md5(answer, hashlib.md5(data).hexdigest(), f"part {number} of {self._uri(key)}")
        counted.reached(length, number)
        return {"PartNumber": number, "ETag": answer["ETag"], "ChecksumCRC32C": b64}, crc

    def _complete(self, key: str, upload: str, parts: list[dict[str, Any]], crc: str,
                  conditions: Mapping[str, str]) -> dict[str, Any]:
        try:
            return client().complete_multipart_upload(
                Bucket=self.name, Key=key, UploadId=upload, MultipartUpload={"Parts": parts}, **conditions,
            )
        except boto_exceptions.ClientError as exc:
            if _code(exc) != "NoSuchUpload":
                raise
            # A completion whose answer was lost, retried: the upload is gone because it worked.
            head = self.head(key)
            if head is None or head.crc32c != crc:
                raise
            return {"ETag": head.tag}

    def _uri(self, key: str) -> str:
        return f"{self.scheme}://{self.name}/{key}"


# Shared by every multipart upload of the process: its size bounds the parts in memory. (Its
# threads start only when parts are submitted.)
_PARTS = ThreadPoolExecutor(PARTS_IN_FLIGHT, thread_name_prefix="s3-part")


class S3HiddenUpload:
    """A multipart upload whose parts are all in: `finish` makes the object exist, `abort` drops it."""

    def __init__(self, bucket: S3Bucket, key: str, path: str, upload: str, parts: list[dict[str, Any]], crc: str,
                 composite: str, size: int) -> None:
        self.bucket, self.key, self.path, self.size = bucket, key, path, size
        self.upload, self.parts, self.crc, self.composite = upload, parts, crc, composite

    @translated
    def finish(self, create_only: bool) -> tuple[ObjectInfo, str]:
        """Complete the upload; (the object's info, the CRC32C of the bytes sent). A retry after a
        lost answer finds the upload done; a 409 ConditionalRequestConflict (overlapping conditional
        writes) means S3 dropped the upload: its parts go up again and it is completed anew."""
        conditions = {"IfNoneMatch": "*"} if create_only else {}

        def attempt() -> dict[str, Any]:
            try:
                return _retrying(lambda: self.bucket._complete(self.key, self.upload, self.parts, self.crc, conditions),
                                 f"completing {self.bucket._uri(self.key)}",
                                 lambda exc: _transient(exc) and _code(exc) != "ConditionalRequestConflict")
            except boto_exceptions.ClientError as exc:
                if _code(exc) == "ConditionalRequestConflict":
                    self.abort()
                    again = self.bucket._upload_parts(self.key, self.path, self.size, None)
                    self.upload, self.parts, self.crc, self.composite = again.upload, again.parts, again.crc, again.composite
                raise

        answer = _retrying(attempt, f"uploading {self.bucket._uri(self.key)} in parts",
                           lambda exc: _code(exc) == "ConditionalRequestConflict")
        # What the store computed, where it says (some stores answer with no checksum; those that
        # offer FULL_OBJECT ones may compute one anyway): the composite, or the whole file's.
        stored = answer.get("ChecksumCRC32C") or ""
        if answer.get("ChecksumType") == "FULL_OBJECT":
            expected = {self.crc}
        else:  # a composite one, with its "-N" or (moto) without
            expected = {self.composite, self.composite.partition("-")[0], self.crc}
        if stored and stored not in expected:
            raise Corrupt(f"{self.bucket._uri(self.key)} is corrupt: the store computed its CRC32C as {stored}, "
                          f"which is not that of the parts sent ({self.composite})")
        return ObjectInfo(self.key, self.size, self.crc, time.time(), answer.get("ETag", "")), self.crc

    def abort(self) -> None:
        _abort(self.bucket.name, self.key, self.upload)


def _abort(bucket: str, key: str, upload: str) -> None:
    try:
        client().abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload)
    except Exception as exc:  # the parts stay billed until a lifecycle rule removes them; say so
        log.warning("Could not abort the unfinished multipart upload of s3 key %s (%s); its parts stay in "
                    "the bucket until a lifecycle rule for incomplete uploads removes them.", key, _translated(exc).reason)


def _crc32c_of(answer: Mapping[str, Any]) -> str:
    """The object's CRC32C: the store's, when it keeps one for the whole object; else the one a
    multipart upload of this pusher recorded in its metadata; "" when there is neither (a COMPOSITE
    one, "...-N", is a CRC of the parts' CRCs: comparable only with a composite of the same parts)."""
    value = answer.get("ChecksumCRC32C") or ""
    # A multipart object's ETag ends in "-N"; its checksum is of the whole object only where the store
    # says so (moto answers a composite one without its "-N").
    kind = answer.get("ChecksumType") or ("COMPOSITE" if re.search(r'-\d+"?$', answer.get("ETag", "")) else "FULL_OBJECT")
    if "-" in value or kind != "FULL_OBJECT":
        value = ""
    return value or (answer.get("Metadata") or {}).get(CRC32C_METADATA, "")


_MD5_ETAG = re.compile(r'^"?([0-9a-f]{32})"?$')
_ANY_MD5_ETAG = re.compile(r'^"?([0-9a-f]{32}(-\d+)?)"?$')


def _other_checksums(head: Mapping[str, Any]) -> dict[str, str]:
    """What else identifies the object's bytes: the CRC32 that boto3 sends by default, a composite
    CRC32C of another client's parts, and the ETag where it is an MD5 (of the object, or of its
    parts' MD5 for a multipart one; not under KMS or customer-key encryption)."""
    parts = re.search(r'-(\d+)"?$', head.get("ETag", ""))

    def with_parts(value: str) -> str:
        # A multipart object's checksum is a composite one unless the store says otherwise; moto
        # leaves out its "-N".
        if value and parts and "-" not in value and head.get("ChecksumType") != "FULL_OBJECT":
            return f"{value}-{parts.group(1)}"
        return value

    found = {"crc32": with_parts(head.get("ChecksumCRC32") or "")}
    if "-" in with_parts(head.get("ChecksumCRC32C") or ""):
        found["crc32c"] = with_parts(head["ChecksumCRC32C"])
    encrypted = head.get("SSECustomerAlgorithm") or str(head.get("ServerSideEncryption", "")).startswith("aws:kms")
    match = _ANY_MD5_ETAG.match(head.get("ETag", ""))
    if match and not encrypted:
        found["md5"] = match.group(1)
    return {kind: value for kind, value in found.items() if value}


def _check_md5(answer: Mapping[str, Any], md5: str, where: str) -> None:
    """Where the ETag is the MD5 of the bytes stored (no KMS or customer-key encryption), it must
    be the MD5 of the bytes sent."""
    if answer.get("SSECustomerAlgorithm") or str(answer.get("ServerSideEncryption", "")).startswith("aws:kms"):
        return
    match = _MD5_ETAG.match(answer.get("ETag", ""))
    if match and match.group(1) != md5:
        raise Corrupt(f"{where} is corrupt: the store holds other bytes than were sent (its MD5 is "
                        f"{match.group(1)}, the bytes sent have {md5})")


def _translated(exc: BaseException, bucket: str = "") -> BucketError:
    if isinstance(exc, BucketError):
        return exc
    if isinstance(exc, api_exceptions.RetryError):
        last = _translated(exc.cause, bucket).reason if exc.cause is not None else "no answer"
        return Unavailable(f"the store kept failing for {retry_seconds():.0f} s; last error: {last}")
    if isinstance(exc, boto_exceptions.FlexibleChecksumError):
        return Corrupt("the bytes received do not match the checksum the store keeps for them")
    if isinstance(exc, (boto_exceptions.NoCredentialsError, boto_exceptions.PartialCredentialsError,
                        boto_exceptions.CredentialRetrievalError)):
        return Unauthenticated(
            f"no usable AWS credentials ({redacted(exc)}); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (on "
            "Kubeflow, from the mlpipeline-minio-artifact secret with kubernetes.use_secret_as_env), a profile, "
            "or a web identity (IRSA)"
        )
    if isinstance(exc, boto_exceptions.EndpointConnectionError):
        return Unavailable(f"cannot reach the S3 endpoint {redacted(endpoint() or 'of AWS')} ({redacted(exc)}); "
                           "check AWS_ENDPOINT_URL")
    if isinstance(exc, boto_exceptions.ClientError):
        code, message = _code(exc), exc.response.get("Error", {}).get("Message") or ""
        if _precondition_failed(exc):
            return PreconditionFailed(f"the store refused a conditional write ({code or 412})")
        if code == "NoSuchBucket":
            return NotFound(f"bucket {bucket or 'named'} does not exist")
        if code in CREDENTIAL_CODES:
            return Unauthenticated(f"the store rejected the credentials ({code}: {redacted(message)})")
        if code == "AccessDenied" or _status(exc) == 403:
            return Denied(f"access denied ({redacted(message or code)})")
        if code in CORRUPTED_CODES:
            return Corrupt(f"the store received bytes that do not match the checksum sent ({code}); they were "
                           "corrupted on the way")
        said = f"the store answered {_status(exc)} {code} ({redacted(message or exc.operation_name)})"
        if _status(exc) == 404:
            return NotFound(said)
        return Unavailable(said) if _transient(exc) else BucketError(said)
    return Unavailable(f"cannot talk to the S3 store ({redacted(exc)})")
