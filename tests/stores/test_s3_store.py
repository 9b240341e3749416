"""S3's one-line errors and retry decisions, which need no server; and the S3 verbs in-process
against moto's server and ministack where a detail is easier to see there than through the command."""

import time

import pytest
from botocore import exceptions as boto_exceptions
from google.api_core import exceptions as api_exceptions

from component.stores import s3
from component import settings
from component.errors import InputError, PublishError
from component.stores.bucket import PreconditionFailed, reported
from component.stores.progress import Progress
from tests.support.buckets import point_at

SECRET = "X-Amz-Signature=5ecret5ignature"


def client_error(status: int, code: str, message: str, operation: str = "PutObject") -> boto_exceptions.ClientError:
    return boto_exceptions.ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation)


@pytest.mark.parametrize("raised, reason", [
    (client_error(404, "NoSuchBucket", "The specified bucket does not exist", "ListObjectsV2"),
     "bucket s3://b does not exist"),
    (client_error(403, "AccessDenied", "User: arn:aws:iam::1:user/ci is not authorized to perform: s3:PutObject"),
     "access denied (User: arn:aws:iam::1:user/ci is not authorized to perform: s3:PutObject)"),
    (client_error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature "
                                                 "you provided. Check your key and signing method."),
     "the store rejected the credentials (SignatureDoesNotMatch: The request signature we calculated does not match "
     "the signature you provided. Check your key and signing method.)"),
    (boto_exceptions.EndpointConnectionError(endpoint_url=f"http://minio-service.kubeflow:9000/b/k?{SECRET}"),
     'cannot reach the S3 endpoint of AWS (Could not connect to the endpoint URL: '
     '"http://minio-service.kubeflow:9000/b/k?..."); check AWS_ENDPOINT_URL'),
    (api_exceptions.RetryError("Timeout of 120.0s exceeded",
                               client_error(503, "SlowDown", "Please reduce your request rate.")),
     "the store kept failing for 120 s; last error: the store answered 503 SlowDown (Please reduce your request rate.)"),
    (client_error(400, "BadDigest", "The CRC32C you specified did not match the calculated checksum."),
     "the store received bytes that do not match the checksum sent (BadDigest); they were corrupted on the way"),
])
def test_errors_become_one_line_without_secrets(monkeypatch, raised, reason):
    for name in settings.S3_ENDPOINT_ENVS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv(settings.S3_RETRY_SECONDS_ENV, raising=False)
    with pytest.raises(PublishError) as info, reported("push_destination: s3://b/m", PublishError,
                                                       "nothing was published"), s3.errors_translated("s3://b"):
        raise raised
    assert str(info.value) == f"push_destination: s3://b/m: {reason}; nothing was published"
    assert "5ecret" not in str(info.value)


def test_no_credentials_says_where_they_come_from():
    with pytest.raises(InputError) as info, reported("model: cannot read s3://b/m", InputError), \
            s3.errors_translated():
        raise boto_exceptions.NoCredentialsError()
    assert str(info.value).startswith("model: cannot read s3://b/m: no usable AWS credentials (Unable to locate "
                                      "credentials); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")


@pytest.mark.parametrize("raised, retried", [
    (client_error(503, "SlowDown", "Please reduce your request rate."), True),
    (client_error(409, "ConditionalRequestConflict", "A conflicting conditional operation"), True),
    (client_error(500, "InternalError", "We encountered an internal error."), True),
    (boto_exceptions.ConnectionClosedError(endpoint_url="http://127.0.0.1:1/b"), True),
    (client_error(409, "BucketNotEmpty", "The bucket you tried to delete is not empty"), False),
    (client_error(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold"), False),
    (client_error(403, "AccessDenied", "Access Denied"), False),
])
def test_what_is_retried(raised, retried):
    assert s3._transient(raised) is retried


@pytest.fixture(params=["moto", "ministack"])
def server_and_bucket(request):
    """An S3 server and one of its buckets: moto's, or ministack (a second implementation, which
    verifies the checksums a client sends)."""
    if request.param == "moto":
        return request.getfixturevalue("s3_server"), request.getfixturevalue("s3_bucket")
    return request.getfixturevalue("ministack_server"), request.getfixturevalue("ministack_bucket")


@pytest.fixture
def bucket(request, monkeypatch, server_and_bucket):
    """This process's shared client, pointed at the server."""
    server, name = server_and_bucket
    point_at(request, monkeypatch, server.env(), "s3")
    return s3.S3Bucket("s3", name)


def test_create_only_and_if_tag_writes(bucket):
    first = bucket.put_bytes("lease", b"one", create_only=True)
    with pytest.raises(PreconditionFailed):
        bucket.put_bytes("lease", b"two", create_only=True)
    second = bucket.put_bytes("lease", b"two", if_tag=first.tag)
    assert second.tag != first.tag
    with pytest.raises(PreconditionFailed):
        bucket.put_bytes("lease", b"three", if_tag=first.tag)
    assert bucket.read("lease") == b"two"


def test_a_multipart_upload_keeps_memory_to_its_parts_and_records_the_whole_crc32c(bucket, tmp_path):
    from component.stores.checksums import crc32c_of_file

    path = tmp_path / "shard"
    path.write_bytes(bytes(range(256)) * (33 * 1024 * 1024 // 256 + 7))  # 5 parts, the last a short one
    progress = Progress("test", 1, path.stat().st_size)
    info, sent = bucket.put_file("m/shard", str(path), path.stat().st_size, create_only=True, progress=progress)
    assert sent == info.crc32c == crc32c_of_file(str(path)) == bucket.head("m/shard").crc32c
    assert progress.bytes == path.stat().st_size
    with pytest.raises(PreconditionFailed):  # completed with If-None-Match too
        bucket.put_file("m/shard", str(path), path.stat().st_size, create_only=True, progress=None)
    assert not s3.client().list_multipart_uploads(Bucket=bucket.name).get("Uploads")  # the refused one aborted
    listed = bucket.list("m/", recursive=False)
    assert [(o.key, o.size, o.crc32c) for o in listed.objects] == [("m/shard", path.stat().st_size, "")]


def test_a_lease_removed_by_the_push_that_took_it_over_is_lost(bucket):
    # S3 answers an If-Match write of a missing object 404 NoSuchKey, not 412.
    from component.push.bucket_base import Lease, LeaseLost

    lease = Lease.create(bucket, "m/.pushing-x.lease", 300)
    lease.stop()
    bucket.delete(lease.key)
    with pytest.raises(LeaseLost, match="another push took over its lease"):
        lease.explain()


def test_a_probe_write_whose_answer_was_lost_is_recognised_as_its_own(request, monkeypatch, server_and_bucket):
    from component.push.bucket_base import _PROVEN, BucketBase
    from tests.support.gcs_faults import FaultProxy

    server, name = server_and_bucket
    lost = []

    def decide(seen):
        if seen.method == "PUT" and "/.claims/probe-" in seen.path and len(lost) < 2:
            lost.append(seen.path)
            return "reset-after"  # the store wrote it; the client never hears so
        return None

    with FaultProxy(server.url, decide, dialect="s3") as proxy:
        point_at(request, monkeypatch, server.env(proxy.url), "s3")
        BucketBase(f"s3://{name}/m")._require_conditional_writes()
    assert len(lost) == 2 and f"s3://{name}/m" in _PROVEN
    assert not server.client().list_objects_v2(Bucket=name).get("Contents")  # the probe is gone


def test_uploads_no_live_push_owns_are_aborted_once_a_lease_period_old(bucket):
    from component.push.bucket_base import BucketBase, Lease

    client = s3.client()
    lease = Lease.create(bucket, "m/.pushing-live.lease", 0.5)  # renewed every 0.05 s
    try:
        lease.write_version(3)
        live = client.create_multipart_upload(Bucket=bucket.name, Key="m/3/variables/data")["UploadId"]
        client.create_multipart_upload(Bucket=bucket.name, Key="m/4/variables/data")  # its push is gone
        # Another tool's uploads under the base, outside any numbered version: never ours to abort.
        others = {client.create_multipart_upload(Bucket=bucket.name, Key=key)["UploadId"]
                  for key in ("m/backups/db-dump.tar", "m/notes/big.bin", "m/007x/data")}
        time.sleep(1.1)  # S3 keeps the time an upload began to the second
        BucketBase(f"s3://{bucket.name}/m", lease_seconds=1).clean_abandoned()
        left = {u["UploadId"] for u in client.list_multipart_uploads(Bucket=bucket.name).get("Uploads", ())}
        assert left == {live} | others
    finally:
        lease.release()
