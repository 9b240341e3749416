"""Pushing to gs:// through the real command, against a real fake-gcs-server (tests/support/gcs_emulator.py),
with a misbehaving proxy in front of it where a test needs faults (tests/support/gcs_faults.py)."""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np
import pytest

from component.push.rollback_note import NOTE
from component.push.versioning import numeric_versions
from tests.support.command import REPO, failed, run_cli, start_cli, stop_when
from tests.support.destinations import BASE, crcs, error_lines, gcs_at, push, via, with_big_files
from tests.support.gcs_faults import FaultProxy
from tests.support.savedmodels import serve

INPUTS = {"saved_model": [[1.0, 2.0, 3.0]], "keras_saved_model": [[1.0, 2.0, 3.0, 4.0]]}


@pytest.mark.parametrize("fixture", ["saved_model", "keras_saved_model"])
def test_push_then_download_and_serve(request, fixture, gcs_emulator, gcs_bucket, tmp_path):
    model = request.getfixturevalue(fixture)
    started = int(time.time())
    result = push(model, f"gs://{gcs_bucket}/{BASE}", "--pushed-model", f"gs://{gcs_bucket}/pipeline/pushed_model",
                  env=via(gcs_emulator.url))
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    version = int(record["pushed_version"])
    assert started <= version <= time.time()  # TFX's Unix-time versions
    assert record["pushed_destination"] == f"gs://{gcs_bucket}/{BASE}/{version}"

    gcs = gcs_at(gcs_emulator, gcs_bucket)
    assert gcs.versions() == {version: crcs(model)}
    # No lease, no staging, no claim left: only the version, the high-water mark and the archive copy.
    assert {n for n in gcs.names() if not n.startswith(f"{BASE}/{version}/")} == {
        f"pipeline/pushed_model/{rel}" for rel in crcs(model)
    } | {f"{BASE}/.claims/high-water"}
    served = gcs.download(f"{BASE}/{version}/", tmp_path / "downloaded")
    expected = serve(model, INPUTS[fixture])
    for name, values in serve(served, INPUTS[fixture]).items():
        np.testing.assert_allclose(values, expected[name])


def test_a_corrupted_upload_fails_the_push_and_publishes_nothing(saved_model, gcs_emulator, gcs_bucket):
    def decide(seen):
        upload = seen.method == "POST" and "uploadType=media" in seen.path
        return "corrupt-request" if upload and "variables.index" in unquote(seen.path) else None

    with FaultProxy(gcs_emulator.url, decide) as proxy:
        result = push(saved_model, f"gs://{gcs_bucket}/{BASE}", env=via(proxy.url))
    assert proxy.faults, "the upload was never corrupted"
    failed(result, "variables/variables.index", "corrupt", "nothing was published")  # no Traceback either
    gcs = gcs_at(gcs_emulator, gcs_bucket)
    assert gcs.versions() == {}  # what was written of the version was removed again
    assert not [n for n in gcs.names() if ".pushing-" in n]


def test_a_download_that_arrives_corrupted_fails_the_push(saved_model, gcs_emulator, gcs_bucket, tmp_path):
    gcs = gcs_at(gcs_emulator, gcs_bucket)
    gcs.upload("trainer/model/Format-Serving", saved_model)

    def decide(seen):
        media = seen.method == "GET" and "alt=media" in seen.path
        return "corrupt-response" if media and "variables.data" in unquote(seen.path) else None

    with FaultProxy(gcs_emulator.url, decide) as proxy:
        result = push(f"gs://{gcs_bucket}/trainer/model", str(tmp_path / "serving"), env=via(proxy.url))
    assert proxy.faults and result.returncode == 1, result.stderr
    [line] = error_lines(result.stderr)
    assert "do not match its CRC32C" in line and "nothing was published" in line
    assert not numeric_versions(os.listdir(tmp_path / "serving"))


def test_two_pushes_racing_for_one_version_both_publish_under_distinct_versions(
    saved_model, keras_saved_model, gcs_emulator, gcs_bucket
):
    # Hold the first two claims until both pushes have sent theirs: both ask for version 1.
    barrier = threading.Barrier(2, timeout=30)
    claims = []

    def decide(seen):
        if seen.method == "POST" and "/.claims/" in unquote(seen.path) + seen.body.decode("latin-1"):
            claims.append(seen)
            if len(claims) <= 2:
                return barrier.wait
        return None

    base = f"gs://{gcs_bucket}/{BASE}"
    with FaultProxy(gcs_emulator.url, decide) as proxy:
        pushes = [
            start_cli("--model", str(model), "--push-destination", base, "--versioning", "SEQUENTIAL",
                      env={"STORAGE_EMULATOR_HOST": proxy.url})
            for model in (saved_model, keras_saved_model)
        ]
        results = [(p.communicate(timeout=120), p.returncode) for p in pushes]
    for (_, stderr), code in results:
        assert code == 0, stderr
    records = [json.loads(out) for (out, _), _ in results]
    assert sorted(int(r["pushed_version"]) for r in records) == [1, 2]
    assert sum("Another push claimed version 1 or a higher one meanwhile" in err for (_, err), _ in results) == 1
    published = gcs_at(gcs_emulator, gcs_bucket).versions()
    for record, model in zip(records, (saved_model, keras_saved_model)):
        assert published[int(record["pushed_version"])] == crcs(model)


def test_pushes_killed_at_random_points_never_leave_a_loadable_incomplete_version(
    saved_model, gcs_emulator, gcs_bucket
):
    model = with_big_files(saved_model, big=2, small=20)
    expected = crcs(model)
    gcs = gcs_at(gcs_emulator, gcs_bucket)
    base = f"gs://{gcs_bucket}/{BASE}"
    args = ["--model", str(model), "--push-destination", base, "--versioning", "SEQUENTIAL", "--force-new-version", "true"]
    rng = random.Random(2024)
    killed_mid_version = 0

    def slow(seen):  # slow uploads, so that a kill can land while a version is being filled
        return (lambda: time.sleep(0.1)) if seen.path.startswith("/upload/") else None

    with FaultProxy(gcs_emulator.url, slow) as proxy:
        env = {"STORAGE_EMULATOR_HOST": proxy.url, "MODEL_PUSHER_GCS_LEASE_SECONDS": "1"}
        for run in range(6):
            push_process = start_cli(*args, env=env, quiet=True)
            if run % 2:  # at a random moment of the whole push
                time.sleep(rng.uniform(0.3, 3.0))
            else:  # while the version is being filled
                known = set(gcs.versions())
                deadline = time.monotonic() + 30
                while not set(gcs.versions()) - known and time.monotonic() < deadline:
                    time.sleep(0.02)
                time.sleep(rng.uniform(0, 0.3))
            push_process.send_signal(signal.SIGKILL)
            push_process.wait()
            for version, files in gcs.versions().items():
                if "saved_model.pb" in files:
                    assert files == expected, f"run {run}: version {version} is loadable but incomplete"
                else:
                    killed_mid_version += 1

        time.sleep(1.5)  # every killed push's lease is stale now
        result = run_cli(*args, env=env)
    assert result.returncode == 0, result.stderr
    assert killed_mid_version, "no kill landed while a version was being filled"
    left = gcs.versions()
    assert all(files == expected for files in left.values()), "an incomplete version was not cleaned up"
    assert int(json.loads(result.stdout)["pushed_version"]) in left
    assert not [n for n in gcs.names() if ".pushing-" in n]


def test_transient_failures_are_retried(saved_model, gcs_emulator, gcs_bucket):
    model = with_big_files(saved_model, big=1, small=10)
    kinds = ["503", "429", "reset", "reset-after"]

    def decide(seen):
        return kinds[(seen.number // 3) % len(kinds)] if seen.number % 3 == 0 else None

    with FaultProxy(gcs_emulator.url, decide) as proxy:
        result = push(model, f"gs://{gcs_bucket}/{BASE}", env=via(proxy.url))
    assert result.returncode == 0, result.stderr
    assert {kind for _, kind in proxy.faults} == set(kinds)
    version = int(json.loads(result.stdout)["pushed_version"])
    assert gcs_at(gcs_emulator, gcs_bucket).versions() == {version: crcs(model)}


def test_missing_bucket_is_one_line_and_exit_1(saved_model, gcs_emulator):
    result = push(saved_model, "gs://no-such-bucket-here/serving/m", env=via(gcs_emulator.url))
    assert result.returncode == 1
    [line] = error_lines(result.stderr)
    assert line.endswith("--push-destination: gs://no-such-bucket-here/serving/m: bucket gs://no-such-bucket-here does not exist")
    assert "Traceback" not in result.stderr


def test_no_permission_is_one_line_and_exit_1(saved_model, gcs_emulator, gcs_bucket):
    with FaultProxy(gcs_emulator.url, lambda seen: "403" if seen.path.startswith("/upload/") else None) as proxy:
        result = push(saved_model, f"gs://{gcs_bucket}/{BASE}", env=via(proxy.url))
    assert result.returncode == 1
    [line] = error_lines(result.stderr)
    assert "permission denied (tester@example.iam.gserviceaccount.com does not have storage.objects.create" in line
    assert "nothing was published" in line
    assert not gcs_at(gcs_emulator, gcs_bucket).versions()


@pytest.mark.parametrize("credentials", ["none at all", "a key file that does not exist"])
def test_no_credentials_is_one_line_and_exit_1(saved_model, tmp_path, credentials):
    env = {k: v for k, v in os.environ.items() if k not in ("STORAGE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS")}
    env.update(HOME=str(tmp_path), NO_GCE_CHECK="True", CLOUDSDK_CONFIG=str(tmp_path / "gcloud"))
    if credentials != "none at all":
        env["GOOGLE_APPLICATION_CREDENTIALS"] = str(tmp_path / "missing-key.json")
    result = subprocess.run(
        [sys.executable, "-m", "component", "--model", str(saved_model), "--push-destination", "gs://bucket/m"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    [line] = error_lines(result.stderr)
    assert "no usable Google Cloud credentials" in line and "GOOGLE_APPLICATION_CREDENTIALS" in line


def test_gcs_model_to_gcs_is_copied_server_side(saved_model, gcs_emulator, gcs_bucket, tmp_path):
    model = with_big_files(saved_model, big=1, small=3)
    gcs = gcs_at(gcs_emulator, gcs_bucket)
    gcs.upload("trainer/model/Format-Serving", model)
    with FaultProxy(gcs_emulator.url) as proxy:
        result = push(f"gs://{gcs_bucket}/trainer/model", f"gs://{gcs_bucket}/{BASE}",
                      "--pushed-model", f"gs://{gcs_bucket}/pipeline/pushed_model", env=via(proxy.url))
    assert result.returncode == 0, result.stderr
    copies = [s for s in proxy.requests if "/rewriteTo/" in s.path]
    assert len(copies) >= 2 * len(crcs(model))  # into the version (big file via staging) and the archive
    assert proxy.upload_bytes < 20_000  # leases and claims only: the model's 3+ MB never went through us
    version = int(json.loads(result.stdout)["pushed_version"])
    assert gcs.versions() == {version: crcs(model)}
    archived = gcs.objects("pipeline/pushed_model/")
    assert {name[len("pipeline/pushed_model/"):]: kept for name, _, kept in archived} == crcs(model)
    served = gcs.download(f"{BASE}/{version}/", tmp_path / "downloaded")
    np.testing.assert_allclose(serve(served, INPUTS["saved_model"])["y"], serve(model, INPUTS["saved_model"])["y"])


def test_gcs_model_to_a_local_directory_is_downloaded(saved_model, gcs_emulator, gcs_bucket, tmp_path):
    gcs_at(gcs_emulator, gcs_bucket).upload("trainer/model/Format-Serving", saved_model)
    result = push(f"gs://{gcs_bucket}/trainer/model", str(tmp_path / "serving"), env=via(gcs_emulator.url))
    assert result.returncode == 0, result.stderr
    version_dir = Path(json.loads(result.stdout)["pushed_destination"])
    assert crcs(version_dir) == crcs(saved_model)
    np.testing.assert_allclose(serve(version_dir, INPUTS["saved_model"])["y"],
                               serve(saved_model, INPUTS["saved_model"])["y"])


def test_reuse_list_rollback_and_retention_on_gcs(saved_model, gcs_emulator, gcs_bucket, tmp_path):
    base = f"gs://{gcs_bucket}/{BASE}"
    first = shutil.copytree(saved_model, tmp_path / "first")
    second = with_big_files(saved_model, big=0, small=2)
    sequential = ("--versioning", "SEQUENTIAL")
    assert push(first, base, *sequential, env=via(gcs_emulator.url)).returncode == 0
    assert push(second, base, *sequential, env=via(gcs_emulator.url)).returncode == 0
    again = push(second, base, *sequential, env=via(gcs_emulator.url))
    assert json.loads(again.stdout)["reused"] == 1 and json.loads(again.stdout)["pushed_version"] == "2"

    listed = run_cli("list", "--push-destination", base, "--json", env=via(gcs_emulator.url))
    assert [(v["version"], v["complete"]) for v in json.loads(listed.stdout)] == [(1, True), (2, True)]

    with FaultProxy(gcs_emulator.url) as proxy:
        rolled = run_cli("rollback", "--push-destination", base, env=via(proxy.url))
    assert rolled.returncode == 0, rolled.stderr
    # Numbered as the base is (SEQUENTIAL), the note written beside the copied model.
    assert json.loads(rolled.stdout)["pushed_version"] == "3"
    assert proxy.upload_bytes < 20_000  # republished by server-side copies
    gcs = gcs_at(gcs_emulator, gcs_bucket)
    published = gcs.versions()
    assert published[3].pop(NOTE) and published == {1: crcs(first), 2: crcs(second), 3: crcs(first)}

    kept = push(second, base, "--keep-versions", "1", env=via(gcs_emulator.url))
    assert kept.returncode == 0, kept.stderr
    assert gcs.versions() == {int(json.loads(kept.stdout)["pushed_version"]): crcs(second)}


@pytest.mark.parametrize("marker, pushed", [("BLESSED", 1), ("NOT_BLESSED", 0)])
def test_gcs_blessing_marker_files_are_read_through_the_api(saved_model, gcs_emulator, gcs_bucket, marker, pushed):
    gcs_at(gcs_emulator, gcs_bucket).put(f"evaluator/blessing/{marker}", b"")
    result = push(saved_model, f"gs://{gcs_bucket}/{BASE}", "--model-blessing", f"gs://{gcs_bucket}/evaluator/blessing",
                  env=via(gcs_emulator.url))
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["pushed"] == pushed
    assert record["blessings"]["model_blessing"]["evidence"] == f"marker file {marker}"


def test_deep_validation_of_a_gcs_model_loads_a_downloaded_copy(saved_model, gcs_emulator, gcs_bucket):
    gcs_at(gcs_emulator, gcs_bucket).upload("trainer/model", saved_model)
    result = push(f"gs://{gcs_bucket}/trainer/model", f"gs://{gcs_bucket}/{BASE}", "--deep-validation", "true",
                  env=via(gcs_emulator.url))
    assert result.returncode == 0, result.stderr
    assert "TensorFlow loaded the model" in result.stderr



def test_finding_a_model_in_a_bucket_lists_each_of_its_directories_once(saved_model, gcs_emulator, gcs_bucket):
    gcs_at(gcs_emulator, gcs_bucket).upload("trainer/model/Format-Serving", saved_model)
    with FaultProxy(gcs_emulator.url) as proxy:
        result = push(f"gs://{gcs_bucket}/trainer/model", f"gs://{gcs_bucket}/{BASE}", env=via(proxy.url))
    assert result.returncode == 0, result.stderr
    listings = [parse_qs(urlsplit(seen.path).query) for seen in proxy.requests
                if seen.method == "GET" and urlsplit(seen.path).path == f"/storage/v1/b/{gcs_bucket}/o"]
    of_model = [tuple(q.get(key, [""])[0] for key in ("prefix", "delimiter", "pageToken")) for q in listings
                if q.get("prefix", [""])[0].startswith("trainer/model")]
    assert of_model and len(of_model) == len(set(of_model)), of_model


def test_gcs_destination_inside_the_gcs_model_is_refused(saved_model, gcs_emulator, gcs_bucket):
    gcs = gcs_at(gcs_emulator, gcs_bucket)
    gcs.upload("trainer/model", saved_model)
    result = push(f"gs://{gcs_bucket}/trainer/model", f"gs://{gcs_bucket}/trainer/model/serving",
                  env=via(gcs_emulator.url))
    assert result.returncode == 2
    assert error_lines(result.stderr)[0].endswith(
        f"--push-destination: gs://{gcs_bucket}/trainer/model/serving is inside the model directory "
        f"gs://{gcs_bucket}/trainer/model; choose a location outside it")
    assert not gcs.names("trainer/model/serving")


def test_gcs_model_with_a_renamed_signature_is_refused(saved_model, gcs_emulator, gcs_bucket):
    gcs = gcs_at(gcs_emulator, gcs_bucket)
    gcs.upload("trainer/model", saved_model)
    result = push(f"gs://{gcs_bucket}/trainer/model", f"gs://{gcs_bucket}/{BASE}", "--required-signatures",
                  "predict", env=via(gcs_emulator.url))
    assert result.returncode == 2
    assert error_lines(result.stderr)[0].endswith(
        "model: required signature 'predict' is missing; the model has: 'serving_default'")
    assert not gcs.names(BASE)


def test_a_rollback_on_gcs_serves_the_old_model(saved_model, gcs_emulator, gcs_bucket, tmp_path):
    from tests.support.savedmodels import make_module_model

    other = make_module_model(tmp_path / "other", scale=3.0)
    base = f"gs://{gcs_bucket}/{BASE}"
    assert push(saved_model, base, "--versioning", "SEQUENTIAL", env=via(gcs_emulator.url)).returncode == 0
    assert push(other, base, "--versioning", "SEQUENTIAL", env=via(gcs_emulator.url)).returncode == 0
    rolled = run_cli("rollback", "--push-destination", base, "--to", "1", env=via(gcs_emulator.url))
    assert rolled.returncode == 0, rolled.stderr
    version = json.loads(rolled.stdout)["pushed_version"]
    served = gcs_at(gcs_emulator, gcs_bucket).download(f"{BASE}/{version}/", tmp_path / "served")
    x = INPUTS["saved_model"]
    np.testing.assert_allclose(serve(served, x)["y"], serve(saved_model, x)["y"])
    assert not np.allclose(serve(served, x)["y"], serve(other, x)["y"])


def test_retention_on_gcs_leaves_an_incomplete_version_alone(saved_model, gcs_emulator, gcs_bucket, tmp_path):
    # A version with no saved_model.pb yet may be another push filling it right now.
    gcs = gcs_at(gcs_emulator, gcs_bucket)
    gcs.put(f"{BASE}/1/variables/variables.index", b"in progress")
    base = f"gs://{gcs_bucket}/{BASE}"
    for _ in range(3):
        result = push(saved_model, base, "--versioning", "SEQUENTIAL", "--force-new-version", "true",
                      "--keep-versions", "1", env=via(gcs_emulator.url))
        assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["removed_versions"] == [3]
    assert sorted(gcs.versions()) == [1, 4]


def test_a_stop_takes_effect_within_seconds_while_gcs_hangs(saved_model, gcs_emulator, gcs_bucket):
    (saved_model / "assets").mkdir(exist_ok=True)
    (saved_model / "assets" / "big.bin").write_bytes(random.Random(3).randbytes(5_000_000))  # staged, streamed
    hanging, release = threading.Event(), threading.Event()

    def decide(seen):
        if "big.bin" in unquote(seen.path) or hanging.is_set():  # uploaded by a transfer thread
            hanging.set()
            return lambda: release.wait(120)  # accepted, never answered
        return None

    with FaultProxy(gcs_emulator.url, decide) as proxy:
        pushing = start_cli("--model", str(saved_model), "--push-destination", f"gs://{gcs_bucket}/{BASE}",
                            env={"STORAGE_EMULATOR_HOST": proxy.url})
        took, _, stderr, _ = stop_when(pushing, hanging, 1.5, never="the push never began to upload",
                                       afterwards=release.set)
    assert pushing.returncode == 143, stderr
    assert took < 20, f"the push stopped {took:.0f} s after SIGTERM; Kubernetes kills it after 30 s"
    assert "stopped by SIGTERM" in error_lines(stderr)[-1]


def test_a_stop_takes_effect_within_seconds_while_gcs_trickles_an_answer(saved_model, gcs_emulator, gcs_bucket,
                                                                        tmp_path):
    # One byte every 2 s: each read of the socket returns well within its timeout, so only the
    # stop's own deadline ends the wait.
    gcs_at(gcs_emulator, gcs_bucket).upload("trainer/model", saved_model)
    trickling = threading.Event()

    def decide(seen):
        if seen.method == "GET" and "saved_model.pb" in unquote(seen.path) and "alt=media" in seen.path:
            trickling.set()
            return "trickle"
        return None

    with FaultProxy(gcs_emulator.url, decide) as proxy:
        pushing = start_cli("--model", f"gs://{gcs_bucket}/trainer/model", "--push-destination", str(tmp_path / "serving"),
                            env=via(proxy.url))
        took, _, stderr, _ = stop_when(pushing, trickling, 1, never="the model was never read")
    assert pushing.returncode == 143, stderr
    assert took < 25, f"the push stopped {took:.0f} s after SIGTERM; Kubernetes kills it after 30 s"
    (line,) = error_lines(stderr)
    assert "stopped by SIGTERM: nothing was published" in line and "a request still in flight" in line, line
    assert not (tmp_path / "serving").exists() or not numeric_versions(os.listdir(tmp_path / "serving"))


def test_a_stop_whose_cleanup_gcs_does_not_answer_says_what_is_left(saved_model, gcs_emulator, gcs_bucket):
    assert push(saved_model, gcs_at(gcs_emulator, gcs_bucket), "--versioning", "SEQUENTIAL").returncode == 0
    writing, release = threading.Event(), threading.Event()

    def decide(seen):
        into_version_2 = f"{BASE}/2/" in unquote(seen.path) + seen.body[:4096].decode("utf-8", "replace")
        if writing.is_set() or (seen.path.startswith("/upload/") and into_version_2):
            writing.set()
            return lambda: release.wait(120)  # from the first write into the version on, nothing is answered
        return None

    with FaultProxy(gcs_emulator.url, decide) as proxy:
        pushing = start_cli("--model", str(saved_model), "--push-destination", f"gs://{gcs_bucket}/{BASE}",
                            "--versioning", "SEQUENTIAL", "--force-new-version", "true", env=via(proxy.url))
        took, _, stderr, _ = stop_when(pushing, writing, 0.5, never="the push never wrote into version 2",
                                       afterwards=release.set)
    assert pushing.returncode == 143, stderr
    assert took < 25, f"the push stopped {took:.0f} s after SIGTERM; Kubernetes kills it after 30 s"
    (line,) = error_lines(stderr)
    assert "stopped by SIGTERM: nothing was published" in line and "was removed" not in line, line
    assert "left" in line and "the next push there removes it" in line, line


def test_a_stop_while_a_published_push_cleans_up_ends_it_there_and_says_the_version_stands(
        saved_model, gcs_emulator, gcs_bucket):
    gcs = gcs_at(gcs_emulator, gcs_bucket)
    assert push(saved_model, gcs, "--versioning", "SEQUENTIAL").returncode == 0
    cleaning, release = threading.Event(), threading.Event()

    def decide(seen):
        if seen.method == "DELETE" and unquote(seen.path).split("?")[0].endswith(f"{BASE}/.claims/2"):  # after the .pb
            cleaning.set()
            return lambda: release.wait(60)
        return None

    with FaultProxy(gcs_emulator.url, decide) as proxy:
        pushing = start_cli("--model", str(saved_model), "--push-destination", f"gs://{gcs_bucket}/{BASE}",
                            "--versioning", "SEQUENTIAL", "--force-new-version", "true", "--keep-versions", "1",
                            env=via(proxy.url))
        _, _, stderr, _ = stop_when(pushing, cleaning, 0.5, never="the push never cleaned up after version 2",
                                    then=lambda: (time.sleep(1), release.set()), afterwards=release.set)
    assert pushing.returncode == 143, stderr
    (line,) = error_lines(stderr)
    assert f"version gs://{gcs_bucket}/{BASE}/2 was published; then the step was stopped by SIGTERM" in line, line
    assert sorted(gcs.versions()) == [1, 2]  # stopped before retention


def test_a_stop_while_a_version_is_made_visible_ends_within_the_grace_period_and_says_it_may_stand(
        saved_model, gcs_emulator, gcs_bucket):
    committing = threading.Event()

    def decide(seen):
        loader = seen.path.startswith("/upload/") and f"{BASE}/1/saved_model.pb" in (
            unquote(seen.path) + seen.body[:4096].decode("utf-8", "replace"))
        if loader:
            committing.set()
            return "trickle"  # written, and its answer never ends
        return None

    with FaultProxy(gcs_emulator.url, decide) as proxy:
        pushing = start_cli("--model", str(saved_model), "--push-destination", f"gs://{gcs_bucket}/{BASE}",
                            "--versioning", "SEQUENTIAL", env=via(proxy.url))
        took, _, stderr, _ = stop_when(pushing, committing, 1, never="the push never wrote saved_model.pb")
    assert pushing.returncode == 143, stderr
    assert took < 30, f"the push stopped {took:.0f} s after SIGTERM; Kubernetes kills it after 30 s"
    (line,) = error_lines(stderr)
    assert f"while gs://{gcs_bucket}/{BASE}/1 was being made visible" in line and "may or may not be published" in line


def test_a_stop_while_a_failed_push_cleans_up_keeps_the_failure_as_its_line(saved_model, gcs_emulator, gcs_bucket):
    cleaning, release = threading.Event(), threading.Event()

    def decide(seen):
        written = unquote(seen.path) + seen.body[:4096].decode("utf-8", "replace")
        if seen.path.startswith("/upload/") and f"{BASE}/1/variables/variables.index" in written:
            return "403"  # the push fails here
        if seen.method == "DELETE" and f"/{BASE}/1/" in unquote(seen.path):
            cleaning.set()
            return lambda: release.wait(60)
        return None

    with FaultProxy(gcs_emulator.url, decide) as proxy:
        pushing = start_cli("--model", str(saved_model), "--push-destination", f"gs://{gcs_bucket}/{BASE}",
                            "--versioning", "SEQUENTIAL", env=via(proxy.url))
        _, _, stderr, _ = stop_when(pushing, cleaning, 0.5, never="the failed push never cleaned up",
                                    then=lambda: (time.sleep(1), release.set()), afterwards=release.set)
    assert pushing.returncode == 1, stderr
    (line,) = error_lines(stderr)
    assert "permission denied" in line and "nothing was published" in line, line


def test_a_stop_while_list_reads_a_rollback_note_stops_it(saved_model, gcs_emulator, gcs_bucket):
    gcs = gcs_at(gcs_emulator, gcs_bucket)
    for again in ((), ("--force-new-version", "true")):
        assert push(saved_model, gcs, "--versioning", "SEQUENTIAL", *again).returncode == 0
    assert run_cli("rollback", "--push-destination", f"gs://{gcs_bucket}/{BASE}", env=gcs.env).returncode == 0
    reading, release = threading.Event(), threading.Event()

    def decide(seen):
        if seen.method == "GET" and NOTE.rsplit("/", 1)[-1] in unquote(seen.path):
            reading.set()
            return lambda: release.wait(60)
        return None

    with FaultProxy(gcs_emulator.url, decide) as proxy:
        listing = start_cli("list", "--push-destination", f"gs://{gcs_bucket}/{BASE}", env=via(proxy.url))
        _, stdout, stderr, _ = stop_when(listing, reading, 0.5, never="list never read the rollback note",
                                         afterwards=release.set)
    assert listing.returncode == 143, stderr + stdout
    assert "stopped by SIGTERM" in error_lines(stderr)[-1] and not stdout
