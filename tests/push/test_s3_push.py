"""What only S3-compatible stores need tested, through the real command against moto's S3 server
(tests/support/s3_server.py), with the misbehaving proxy (tests/support/gcs_faults.py, S3 dialect) in
front of it where a test needs faults. What every store guarantees is in test_stores.py."""

import itertools
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from urllib.parse import unquote

import pytest

from component.push.versioning import parse_version
from component.stores.checksums import crc32c_of_file
from tests.support.command import REPO, failed, start_cli, stop_when
from tests.support.destinations import BASE, crcs, error_lines, push, with_big_files
from tests.support.gcs_faults import FaultProxy
from tests.support.local_server import free_port
from tests.support.s3_server import CREDENTIALS


def no_secret(result: subprocess.CompletedProcess) -> None:
    assert CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_the_loser_of_a_claim_race_gets_412_and_takes_the_next_number(
    saved_model, keras_saved_model, s3_server, s3_bucket, s3_destination
):
    # Both pushes ask for version 1: both raise the high-water mark from nothing, create-only. The
    # second write reaches the store only after the first is written (moto's check-then-write has
    # no lock, so two writes sent at the very same moment would prove nothing about S3).
    barrier = threading.Barrier(2, timeout=60)
    arrivals = itertools.count()

    def hold() -> None:
        arrival = next(arrivals)
        if arrival > 1:
            return  # the loser raising the mark to 2
        barrier.wait()
        if arrival == 1:
            time.sleep(0.5)

    def decide(seen):
        if seen.method == "PUT" and seen.path.split("?")[0].endswith("/.claims/high-water"):
            return hold
        return None

    with FaultProxy(s3_server.url, decide, dialect="s3") as proxy:
        pushes = [
            start_cli("--model", str(model), "--push-destination", f"s3://{s3_bucket}/{BASE}", "--versioning", "SEQUENTIAL",
                      env=s3_server.env(proxy.url))
            for model in (saved_model, keras_saved_model)
        ]
        results = [(p.communicate(timeout=120), p.returncode) for p in pushes]
    for (_, stderr), code in results:
        assert code == 0, stderr
    raises = [status for seen, status in proxy.answers
              if seen.method == "PUT" and seen.path.split("?")[0].endswith("/.claims/high-water")]
    assert sorted(raises[:2]) == [200, 412] and raises[2:] == [200]
    assert sum("Another push claimed version 1 or a higher one meanwhile" in err for (_, err), _ in results) == 1
    records = [json.loads(out) for (out, _), _ in results]
    assert sorted(int(r["pushed_version"]) for r in records) == [1, 2]
    published = s3_destination.versions()
    for record, model in zip(records, (saved_model, keras_saved_model)):
        assert published[int(record["pushed_version"])] == crcs(model)


@pytest.mark.parametrize("target", ["variables.index", "partNumber=2"])
def test_a_corrupted_upload_fails_the_push_and_publishes_nothing(
    saved_model, s3_server, s3_bucket, s3_destination, target
):
    model = with_big_files(saved_model, big=1, size=20_000_000)  # 3 parts of 8 MiB

    def decide(seen):
        return "corrupt-request" if seen.method == "PUT" and target in unquote(seen.path) else None

    with FaultProxy(s3_server.url, decide, dialect="s3") as proxy:
        result = push(model, f"s3://{s3_bucket}/{BASE}", env=s3_server.env(proxy.url))
    assert proxy.faults, "nothing was corrupted"
    failed(result, "is corrupt: the store holds other bytes than were sent", "nothing was published")
    no_secret(result)
    assert not s3_destination.versions()
    assert not [k for k in s3_destination.names() if ".pushing-" in k]
    assert not s3_server.client().list_multipart_uploads(Bucket=s3_bucket).get("Uploads")  # aborted


def test_a_download_that_arrives_corrupted_fails_the_push(saved_model, s3_server, s3_bucket, s3_destination, tmp_path):
    s3_destination.upload("trainer/model", saved_model)

    def decide(seen):
        return "corrupt-response" if seen.method == "GET" and "variables.data" in unquote(seen.path) else None

    with FaultProxy(s3_server.url, decide, dialect="s3") as proxy:
        result = push(f"s3://{s3_bucket}/trainer/model", str(tmp_path / "serving"), env=s3_server.env(proxy.url))
    assert proxy.faults and result.returncode == 1, result.stderr
    [line] = error_lines(result.stderr)
    assert "do not match the checksum the store keeps" in line
    assert not [n for n in os.listdir(tmp_path / "serving") if parse_version(n)]


def test_slowdown_conflicts_and_resets_are_retried(saved_model, s3_server, s3_bucket, s3_destination):
    model = with_big_files(saved_model, big=2, size=9_000_000)  # multipart uploads too
    kinds = ["503", "500", "reset", "reset-after"]
    claims = itertools.count()

    def decide(seen):
        # S3 answers 409 ConditionalRequestConflict to conditional writes, such as a claim.
        if seen.method == "PUT" and "/.claims/" in seen.path and "probe" not in seen.path and next(claims) == 0:
            return "409"
        return None if seen.number % 3 else kinds[(seen.number // 3) % len(kinds)]

    with FaultProxy(s3_server.url, decide, dialect="s3") as proxy:
        result = push(model, f"s3://{s3_bucket}/{BASE}", env=s3_server.env(proxy.url))
    assert result.returncode == 0, result.stderr
    assert {kind for _, kind in proxy.faults} == {*kinds, "409"}
    version = int(json.loads(result.stdout)["pushed_version"])
    assert s3_destination.versions() == {version: crcs(model)}


def test_a_store_that_ignores_conditional_writes_is_refused(saved_model, s3_server, s3_bucket, s3_destination):
    model = with_big_files(saved_model, big=1)
    with FaultProxy(s3_server.url, lambda seen: "strip-conditions", dialect="s3") as proxy:
        result = push(model, f"s3://{s3_bucket}/{BASE}", env=s3_server.env(proxy.url))
    assert result.returncode == 1, result.stderr
    [line] = error_lines(result.stderr)
    assert "it ignores If-None-Match and If-Match" in line and "a store that honours conditional writes" in line
    assert line.endswith("nothing was published")
    assert not s3_destination.names()  # the probe was removed, nothing was staged
    assert sum(s.method == "PUT" for s in proxy.requests) == 4  # the probe's writes only


def test_a_store_that_forbids_deletes_still_gets_the_push_and_retention_fails_clearly(
    saved_model, keras_saved_model, s3_server, s3_bucket, s3_destination
):
    with FaultProxy(s3_server.url, lambda seen: "403" if seen.method == "DELETE" else None, dialect="s3") as proxy:
        env = s3_server.env(proxy.url)
        first = push(saved_model, f"s3://{s3_bucket}/{BASE}", "--versioning", "SEQUENTIAL", env=env)
        assert first.returncode == 0, first.stderr
        warnings = [line for line in first.stderr.splitlines() if " WARNING " in line and "Could not remove" in line]
        # The probe, the claim, and the staging lease: each reported, none fatal.
        assert len(warnings) == 3 and all("access denied" in w or "AccessDenied" in w for w in warnings)
        assert s3_destination.versions() == {1: crcs(saved_model)}

        second = push(keras_saved_model, f"s3://{s3_bucket}/{BASE}", "--versioning", "SEQUENTIAL",
                      "--keep-versions", "1", env=env)
    assert second.returncode == 0, second.stderr  # published and recorded; retention is reported
    [line] = [w for w in second.stderr.splitlines() if "retention (--keep-versions 1) failed" in w]
    assert "Version 2 was published at" in line and "access denied (Access Denied)" in line
    assert "access denied" in json.loads(second.stdout)["retention_error"]
    assert s3_destination.versions() == {1: crcs(saved_model), 2: crcs(keras_saved_model)}


def test_a_big_file_goes_in_parallel_parts_with_its_whole_crc32c_recorded(
    saved_model, s3_server, s3_bucket, s3_destination
):
    model = with_big_files(saved_model, big=1, size=50_000_000)  # 6 parts of 8 MiB
    in_flight, most, seen_in_version = [0], [0], set()
    lock = threading.Lock()

    def slow_part() -> None:
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        # While the parts go up, the version shows nothing: a multipart upload is unseen until completed.
        listed = s3_server.client().list_objects_v2(Bucket=s3_bucket, Prefix=f"{BASE}/")
        seen_in_version.update(o["Key"] for o in listed.get("Contents", ()) if "/.claims/" not in o["Key"]
                               and ".pushing-" not in o["Key"])
        time.sleep(0.3)
        with lock:
            in_flight[0] -= 1

    def decide(seen):
        return slow_part if seen.method == "PUT" and "partNumber=" in seen.path else None

    with FaultProxy(s3_server.url, decide, dialect="s3") as proxy:
        result = push(model, f"s3://{s3_bucket}/{BASE}", env=s3_server.env(proxy.url))
    assert result.returncode == 0, result.stderr
    parts = [s for s in proxy.requests if "partNumber=" in s.path]
    assert len(parts) == 6 and most[0] >= 4
    version = int(json.loads(result.stdout)["pushed_version"])
    assert s3_destination.versions() == {version: crcs(model)}
    # Uploaded straight into the claimed version, unseen until completed: no staging copy.
    assert all(f"/{BASE}/{version}/assets/big-0.bin" in unquote(s.path) for s in parts)
    assert not seen_in_version
    assert not [s for s in proxy.requests if ".pushing-" in unquote(s.path) and s.method == "PUT" and "lease" not in s.path]
    # Composite multipart checksums (what every S3 store with checksums offers), and the whole
    # file's CRC32C as metadata, which a re-push compares without reading the object back.
    head = s3_server.client().head_object(Bucket=s3_bucket, Key=f"{BASE}/{version}/assets/big-0.bin",
                                          ChecksumMode="ENABLED")
    assert head["ETag"].endswith('-6"')
    assert head["Metadata"]["crc32c"] == crc32c_of_file(str(model / "assets" / "big-0.bin"))


def test_an_s3_model_pushed_to_s3_is_copied_server_side(saved_model, s3_server, s3_bucket, s3_destination):
    model = with_big_files(saved_model, big=1)
    s3_destination.upload("trainer/model/Format-Serving", model)
    with FaultProxy(s3_server.url, dialect="s3") as proxy:
        result = push(f"s3://{s3_bucket}/trainer/model", f"s3://{s3_bucket}/{BASE}",
                      "--pushed-model", f"s3://{s3_bucket}/pipeline/pushed_model", env=s3_server.env(proxy.url))
    assert result.returncode == 0, result.stderr
    assert proxy.upload_bytes < 20_000  # probe, lease and claim only: the model's 3+ MB never went through us
    version = int(json.loads(result.stdout)["pushed_version"])
    assert s3_destination.versions() == {version: crcs(model)}
    archived = s3_destination.names("pipeline/pushed_model/")
    assert {k[len("pipeline/pushed_model/"):] for k in archived} == set(crcs(model))


def test_minio_artifacts_and_destination(saved_model, s3_server, s3_bucket, s3_destination):
    s3_destination.upload("v2/artifacts/trainer/model", saved_model)
    s3_destination.put("v2/artifacts/evaluator/blessing/BLESSED", b"")
    result = push(f"minio://{s3_bucket}/v2/artifacts/trainer/model", f"minio://{s3_bucket}/{BASE}",
                  "--model-blessing", f"minio://{s3_bucket}/v2/artifacts/evaluator/blessing", env=s3_server.env())
    record = json.loads(result.stdout)
    assert record["pushed"] == 1, result.stderr
    assert record["blessings"]["model_blessing"]["evidence"] == "marker file BLESSED"
    assert record["pushed_destination"] == f"minio://{s3_bucket}/{BASE}/{record['pushed_version']}"
    assert s3_destination.versions() == {int(record["pushed_version"]): crcs(saved_model)}


@pytest.mark.parametrize("base", ["s3://user:topsecret@bucket/x", "s3://host:9000/x", "s3://Not_A_Bucket/x",
                                  "s3://192.168.1.2/x", "minio://a..b/x"])
def test_a_uri_naming_no_valid_bucket_is_an_input_error_that_echoes_no_credentials(saved_model, s3_server, base):
    result = push(saved_model, base, env=s3_server.env("http://127.0.0.1:9"))  # nothing may be sent
    assert result.returncode == 2, result.stderr
    [line] = error_lines(result.stderr)
    assert "names no valid bucket" in line and "topsecret" not in result.stderr + result.stdout
    no_secret(result)


def test_a_missing_bucket_is_one_line_and_exit_1(saved_model, s3_server, s3_bucket):
    result = push(saved_model, "s3://no-such-bucket-here/serving/m", env=s3_server.env())
    assert result.returncode == 1
    [line] = error_lines(result.stderr)
    assert line.endswith("--push-destination: s3://no-such-bucket-here/serving/m: bucket s3://no-such-bucket-here "
                         "does not exist")
    no_secret(result)


def test_access_denied_is_one_line_and_exit_1(saved_model, s3_server, s3_bucket, s3_destination):
    with FaultProxy(s3_server.url, lambda seen: "403" if seen.method == "PUT" else None, dialect="s3") as proxy:
        result = push(saved_model, f"s3://{s3_bucket}/{BASE}", env=s3_server.env(proxy.url))
    assert result.returncode == 1
    [line] = error_lines(result.stderr)
    assert f"--push-destination: s3://{s3_bucket}/{BASE}: access denied (Access Denied); nothing was published" in line
    no_secret(result)
    assert not s3_destination.names()


def test_no_credentials_is_one_line_and_exit_1(saved_model, s3_server, s3_bucket, s3_destination, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL=s3_server.url, AWS_EC2_METADATA_DISABLED="true", HOME=str(tmp_path),
               AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    result = subprocess.run([sys.executable, "-m", "component", "--model", str(saved_model), "--push-destination",
                             f"s3://{s3_bucket}/{BASE}"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    [line] = error_lines(result.stderr)
    assert "no usable AWS credentials" in line and "AWS_ACCESS_KEY_ID" in line
    assert not s3_destination.names()


def test_a_wrong_endpoint_is_one_line_and_exit_1(saved_model):
    nowhere = f"http://127.0.0.1:{free_port()}"
    result = push(saved_model, f"s3://bucket/{BASE}", env={**CREDENTIALS, "AWS_ENDPOINT_URL": nowhere,
                                                           "MODEL_PUSHER_S3_RETRY_SECONDS": "1"})
    assert result.returncode == 1
    [line] = error_lines(result.stderr)
    assert f"the store kept failing for 1 s; last error: cannot reach the S3 endpoint {nowhere}" in line
    no_secret(result)


def test_a_not_blessed_model_reads_its_s3_blessing_and_writes_nothing(
    saved_model, s3_server, s3_bucket, s3_destination
):
    s3_destination.put("evaluator/blessing/NOT_BLESSED", b"")
    result = push(saved_model, f"s3://{s3_bucket}/{BASE}", "--model-blessing", f"s3://{s3_bucket}/evaluator/blessing",
                  env=s3_server.env())
    assert json.loads(result.stdout)["pushed"] == 0, result.stderr
    assert s3_destination.names() == {"evaluator/blessing/NOT_BLESSED"}


@pytest.mark.parametrize("fault, uploads", [("reset-after", 1), ("409", 2)])
def test_a_lost_completion_is_recognised_and_a_conflict_restarts_the_upload(
    saved_model, s3_server, s3_bucket, s3_destination, fault, uploads
):
    # A completion whose answer was lost is retried and finds its upload done (no second upload);
    # 409 ConditionalRequestConflict on completion means, as AWS says, upload again.
    model = with_big_files(saved_model, big=1, size=9_000_000)
    completions = itertools.count()

    def decide(seen):
        completing = seen.method == "POST" and "uploadId=" in seen.path
        return fault if completing and next(completions) == 0 else None

    with FaultProxy(s3_server.url, decide, dialect="s3") as proxy:
        result = push(model, f"s3://{s3_bucket}/{BASE}", env=s3_server.env(proxy.url))
    assert result.returncode == 0, result.stderr
    assert proxy.faults and len([s for s in proxy.requests if s.path.endswith("?uploads")]) == uploads
    version = int(json.loads(result.stdout)["pushed_version"])
    assert s3_destination.versions() == {version: crcs(model)}
    assert not s3_server.client().list_multipart_uploads(Bucket=s3_bucket).get("Uploads")


def test_unseen_uploads_of_a_killed_push_are_aborted_by_the_next(saved_model, s3_server, s3_bucket, s3_destination):
    model = with_big_files(saved_model, big=1, size=50_000_000)
    started = threading.Event()

    def slow_part():
        started.set()
        time.sleep(0.5)

    def decide(seen):
        return slow_part if seen.method == "PUT" and "partNumber=" in seen.path else None

    base = f"s3://{s3_bucket}/{BASE}"
    with FaultProxy(s3_server.url, decide, dialect="s3") as proxy:
        killed = start_cli("--model", str(model), "--push-destination", base, "--versioning", "SEQUENTIAL",
                           env={**s3_server.env(proxy.url), "MODEL_PUSHER_LEASE_SECONDS": "1"}, quiet=True)
        assert started.wait(60), "the push never began its multipart upload"
        killed.kill()
        killed.wait()
    client = s3_server.client()
    assert client.list_multipart_uploads(Bucket=s3_bucket, Prefix=f"{BASE}/").get("Uploads")
    time.sleep(1.5)  # its lease is stale now
    result = push(saved_model, base, "--versioning", "SEQUENTIAL",
                  env={**s3_server.env(s3_server.url), "MODEL_PUSHER_LEASE_SECONDS": "1"})
    assert result.returncode == 0, result.stderr
    assert "incomplete version 1" in result.stderr
    assert not client.list_multipart_uploads(Bucket=s3_bucket, Prefix=f"{BASE}/").get("Uploads")
    assert s3_destination.versions() == {2: crcs(saved_model)}


@pytest.mark.parametrize("fault", ["503", "hang"])
def test_a_stop_takes_effect_within_seconds_while_requests_fail_or_hang(saved_model, s3_server, s3_bucket, fault):
    model = with_big_files(saved_model, big=1, size=50_000_000)
    failing, release = threading.Event(), threading.Event()

    def decide(seen):
        if seen.method == "PUT" and "partNumber=" in seen.path:
            failing.set()
        if not failing.is_set():
            return None
        return "503" if fault == "503" else (lambda: release.wait(120))  # accepted, never answered

    with FaultProxy(s3_server.url, decide, dialect="s3") as proxy:
        pushing = start_cli("--model", str(model), "--push-destination", f"s3://{s3_bucket}/{BASE}",
                            env=s3_server.env(proxy.url))
        # Stopped 1.5 s on: parts are being retried, or waiting for answers.
        took, _, stderr, _ = stop_when(pushing, failing, 1.5, never="the push never began its multipart upload",
                                       afterwards=release.set)
    assert pushing.returncode == 143, stderr
    assert took < 20, f"the push stopped {took:.0f} s after SIGTERM; Kubernetes kills it after 30 s"
    assert "stopped by SIGTERM" in error_lines(stderr)[-1]
    no_secret(pushing_result(pushing, stderr))


def test_a_hung_store_is_given_up_on_within_the_retry_budget(saved_model, s3_server, s3_bucket):
    release = threading.Event()
    with FaultProxy(s3_server.url, lambda seen: (lambda: release.wait(120)), dialect="s3") as proxy:
        started = time.monotonic()
        try:
            result = push(saved_model, f"s3://{s3_bucket}/{BASE}",
                          env={**s3_server.env(proxy.url), "MODEL_PUSHER_S3_RETRY_SECONDS": "5"})
        finally:
            release.set()
        took = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert "kept failing for 5 s" in error_lines(result.stderr)[-1]
    assert took < 20, f"a 5 s retry budget took {took:.0f} s"


def pushing_result(process: subprocess.Popen, stderr: str) -> subprocess.CompletedProcess:
    return subprocess.CompletedProcess(process.args, process.returncode, "", stderr)


def another_client(s3_server, client_kind: str):
    """Plain boto3, as another program (a trainer, a user's script) writes to the store: the checksums
    it sends by default, or only an MD5 (`md5_only`, as older SDKs do); not the pusher's own client."""
    import boto3
    from botocore.config import Config

    checksums = "when_required" if client_kind == "md5_only" else "when_supported"
    return boto3.client("s3", endpoint_url=s3_server.url, region_name="us-east-1",
                        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                        config=Config(s3={"addressing_style": "path"}, request_checksum_calculation=checksums))


@pytest.mark.parametrize("client_kind", ["put_object", "upload_file", "md5_only"])
def test_a_model_another_client_uploaded_is_recognised_without_reading_it_back(
    saved_model, s3_server, s3_bucket, s3_destination, client_kind
):
    model = with_big_files(saved_model, big=1, size=20_000_000)  # 3 parts for upload_file
    client = another_client(s3_server, client_kind)
    for path in model.rglob("*"):
        if path.is_file():
            key = f"{BASE}/1/{path.relative_to(model)}"
            if client_kind == "upload_file":
                client.upload_file(str(path), s3_bucket, key)
            else:
                client.put_object(Bucket=s3_bucket, Key=key, Body=path.read_bytes())
    head = client.head_object(Bucket=s3_bucket, Key=f"{BASE}/1/assets/big-0.bin", ChecksumMode="ENABLED")
    assert not head.get("ChecksumCRC32C")  # what makes it a test: no CRC32C to compare
    with FaultProxy(s3_server.url, dialect="s3") as proxy:
        result = push(model, f"s3://{s3_bucket}/{BASE}", env=s3_server.env(proxy.url))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["pushed_version"] == "1" and "reusing it" in result.stderr
    # By name: the store keeps no CRC32C of these objects for Destination.versions to compare.
    in_versions = {k for k in s3_destination.names(f"{BASE}/") if parse_version(k.split("/")[2]) is not None}
    assert in_versions == {f"{BASE}/1/{name}" for name in crcs(model)}
    assert not [s for s in proxy.requests if s.method == "GET" and "/1/" in unquote(s.path)
                and "list-type" not in s.path]  # nothing read back


def test_on_a_store_that_forbids_deletes_warnings_do_not_grow_push_after_push(
    saved_model, s3_server, s3_bucket, s3_destination
):
    warned = []
    with FaultProxy(s3_server.url, lambda seen: "403" if seen.method == "DELETE" else None, dialect="s3") as proxy:
        env = {**s3_server.env(proxy.url), "MODEL_PUSHER_LEASE_SECONDS": "1"}
        for _ in range(3):
            result = push(saved_model, f"s3://{s3_bucket}/{BASE}", "--versioning", "SEQUENTIAL",
                          "--force-new-version", "true", env=env)
            assert result.returncode == 0, result.stderr
            assert "interrupted push" not in result.stderr  # the leases left are finished pushes'
            warned.append(len([line for line in result.stderr.splitlines() if " WARNING " in line]))
            time.sleep(1.5)  # every lease left is stale for the next push
    assert warned[2] == warned[1] <= warned[0], warned
    assert s3_destination.versions() == {v: crcs(saved_model) for v in (1, 2, 3)}
    assert len([k for k in s3_destination.names() if "/.claims/probe-" in k]) == 1  # used again, not one a push


def test_a_push_without_the_permission_to_list_unfinished_uploads_still_publishes(
    saved_model, s3_server, s3_bucket, s3_destination
):
    # A narrow policy (Get, Put, Delete, ListBucket) has no s3:ListBucketMultipartUploads: only the
    # cleaning of what killed pushes left unseen is skipped, with a warning that names the permission.
    denied = lambda seen: "403" if seen.method == "GET" and "uploads" in seen.path.partition("?")[2].split("&") else None
    with FaultProxy(s3_server.url, denied, dialect="s3") as proxy:
        result = push(saved_model, f"s3://{s3_bucket}/{BASE}", "--versioning", "SEQUENTIAL", env=s3_server.env(proxy.url))
    assert result.returncode == 0, result.stderr
    assert "s3:ListBucketMultipartUploads" in result.stderr
    assert s3_destination.versions() == {1: crcs(saved_model)}


@pytest.mark.parametrize("client_kind", ["put_object", "md5_only"])
def test_a_model_in_s3_that_another_client_uploaded_is_reused_when_pushed_again(
    saved_model, s3_server, s3_bucket, client_kind
):
    # KFP's usual case: the trainer's artifact is already in the store, written by plain boto3
    # (CRC32, or only an MD5), and a retried step pushes it again from there.
    client = another_client(s3_server, client_kind)
    for path in saved_model.rglob("*"):
        if path.is_file():
            client.put_object(Bucket=s3_bucket, Key=f"trainer/model/{path.relative_to(saved_model)}", Body=path.read_bytes())
    source = f"s3://{s3_bucket}/trainer/model"
    first = push(source, f"s3://{s3_bucket}/{BASE}", env=s3_server.env())
    assert first.returncode == 0, first.stderr
    again = push(source, f"s3://{s3_bucket}/{BASE}", env=s3_server.env())
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["pushed_version"] == json.loads(first.stdout)["pushed_version"]
    assert json.loads(again.stdout)["reused"] == 1


def test_a_rerun_with_another_model_publishes_it_though_a_file_of_the_newest_version_cannot_be_read(
        saved_model, tmp_path, s3_server, s3_bucket, s3_destination):
    # Same files and sizes, one byte apart: only checksums tell the two models apart.
    other = tmp_path / "other"
    shutil.copytree(saved_model, other)
    (saved_model / "assets").mkdir(exist_ok=True)
    (saved_model / "assets" / "push.txt").write_text("A")
    (other / "assets").mkdir(exist_ok=True)
    (other / "assets" / "push.txt").write_text("B")
    assert push(saved_model, s3_destination, "--versioning", "SEQUENTIAL").returncode == 0

    def decide(seen):
        forbidden = unquote(seen.path).split("?")[0].endswith(f"{BASE}/1/variables/variables.index")
        return "403" if seen.method == "HEAD" and forbidden else None

    with FaultProxy(s3_server.url, decide, dialect="s3") as proxy:
        result = push(other, s3_destination, "--versioning", "SEQUENTIAL", env=s3_server.env(proxy.url))
    assert proxy.faults, "the version's file was never looked at"
    assert result.returncode == 0, result.stderr
    assert result.record["pushed_version"] == "2" and not result.record.get("reused")
    assert s3_destination.versions() == {1: crcs(saved_model), 2: crcs(other)}
