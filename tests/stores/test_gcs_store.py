"""The object-store protocol's leases and the transfers' checks on GCS, in-process against the
real emulator; and GCS's one-line errors, which need no server."""

import time

import pytest
import requests
from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions

from component.errors import InputError, PublishError
from component.push.bucket_base import BucketBase
from component.stores.progress import Progress
from component.stores import gcs
from component.stores.bucket import reported
from component.stores.gcs import client, errors_translated
from component.stores.transfer import download
from component.stores.trees import local_model
from component.stores.trees import model_under
from tests.support.buckets import point_at


@pytest.fixture
def gcs_env(request, monkeypatch, gcs_emulator):
    """This process's shared client, pointed at the emulator."""
    point_at(request, monkeypatch, {"STORAGE_EMULATOR_HOST": gcs_emulator.url}, "gcs")


def names(bucket: str) -> set[str]:
    return {b.name for b in client().list_blobs(bucket)}


def progress_for(model) -> Progress:
    return Progress("test", len(model.files), model.total_bytes)


def test_a_live_push_is_left_alone_and_a_stalled_one_loses_its_lease(gcs_env, gcs_bucket, saved_model):
    base = f"gs://{gcs_bucket}/serving/m"
    # A file to stage, so the lease is written while staging (a push with none writes it with its claim).
    (saved_model / "assets" / "big.bin").write_bytes(b"x" * 3_000_000)
    model = local_model(saved_model, "model", "a test model")

    alive = BucketBase(base, lease_seconds=30)
    staging = alive.stage(model, progress_for(model))
    BucketBase(base, lease_seconds=30).clean_abandoned()  # another push starting: this lease is fresh
    assert alive.publish(staging, 1)
    alive.discard(staging)
    assert names(gcs_bucket) == {f"serving/m/1/{f.rel}" for f in model.files} | {"serving/m/.claims/high-water"}

    stalled = BucketBase(base, lease_seconds=0.5)
    staging = stalled.stage(model, progress_for(model))
    staging.lease.stop()  # the push stalls: its lease is no longer renewed
    time.sleep(0.8)
    BucketBase(base, lease_seconds=0.5).clean_abandoned()  # takes the stale lease over, removes its files
    with pytest.raises(PublishError, match="took over its lease"):
        stalled.publish(staging, 2)
    stalled.discard(staging)
    assert names(gcs_bucket) == {f"serving/m/1/{f.rel}" for f in model.files} | {"serving/m/.claims/high-water"}


def test_a_download_whose_bytes_do_not_match_the_listed_crc32c_fails(gcs_env, gcs_bucket, tmp_path):
    blob = client().bucket(gcs_bucket).blob("model/variables/variables.index")
    blob.upload_from_string(b"what was listed")
    [listed] = model_under(gcs.GcsBucket(gcs_bucket), "model/", f"gs://{gcs_bucket}/model", "test", "model").files
    blob.upload_from_string(b"what is there now")  # tampered with after the listing
    with open(tmp_path / "variables.index", "wb") as out, pytest.raises(PublishError, match="do not match its CRC32C"):
        download(listed, out, Progress("test", 1, listed.size))


def test_a_gcs_model_lists_files_with_crc32c_and_keeps_empty_directories(gcs_env, gcs_bucket):
    bucket = client().bucket(gcs_bucket)
    bucket.blob("m/saved_model.pb").upload_from_string(b"graph")
    bucket.blob("m/variables/").upload_from_string(b"")  # directory markers, as some tools write them
    bucket.blob("m/variables/variables.index").upload_from_string(b"index")
    bucket.blob("m/assets/").upload_from_string(b"")
    model = model_under(gcs.GcsBucket(gcs_bucket), "m/", f"gs://{gcs_bucket}/m", "test", "model")
    assert {f.rel: f.source for f in model.files} == {
        "saved_model.pb": f"gs://{gcs_bucket}/m/saved_model.pb",
        "variables/variables.index": f"gs://{gcs_bucket}/m/variables/variables.index",
    }
    assert all(f.crc32c for f in model.files)
    assert model.empty_dirs == ("assets",)


SECRET = "upload_id=AEnB2Uo-secret-session"


@pytest.mark.parametrize("raised, reason", [
    (api_exceptions.Forbidden(f"POST https://storage.googleapis.com/upload/storage/v1/b/b/o?{SECRET}: denied",
                              errors=[{"message": "sa@p.iam.gserviceaccount.com does not have storage.objects.create access"}]),
     "permission denied (sa@p.iam.gserviceaccount.com does not have storage.objects.create access)"),
    (requests.ConnectionError(f"Max retries exceeded with url: /upload/storage/v1/b/b/o?uploadType=resumable&{SECRET}"),
     "cannot reach Google Cloud Storage (Max retries exceeded with url: /upload/storage/v1/b/b/o?...)"),
    (api_exceptions.RetryError("Timeout of 120.0s exceeded", api_exceptions.ServiceUnavailable("Backend Error")),
     "Google Cloud Storage kept failing for 120 s; last error: Google Cloud Storage answered 503 (Backend Error)"),
    (auth_exceptions.RefreshError("invalid_grant: Invalid JWT Signature.\n  details follow"),
     "the Google Cloud credentials found could not get an access token (invalid_grant: Invalid JWT Signature. details follow)"),
])
def test_errors_become_one_line_without_secrets(raised, reason):
    with pytest.raises(PublishError) as info, reported("push_destination: gs://b/m", PublishError,
                                                       "nothing was published"), errors_translated():
        raise raised
    assert str(info.value) == f"push_destination: gs://b/m: {reason}; nothing was published"


def test_reading_a_model_reports_an_input_error():
    with pytest.raises(InputError, match=r"^model: cannot read gs://b/m: bucket gs://b does not exist$"), \
            reported("model: cannot read gs://b/m", InputError), errors_translated():
        raise api_exceptions.NotFound("bucket gs://b does not exist")
