"""The hardening guarantees that live in the publish protocol, for local and GCS destinations:
SIGTERM stops a push cleanly, names from a store's listing cannot leave the model directory,
retention never turns a published push into a failure and removes what dead pushes left, and a
bounded soak of concurrent pushes with retention and random SIGTERM / SIGKILL."""

import hashlib
import itertools
import json
import os
import random
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.support.command import Stopped, run_cli, start_cli, stop_when, wait_until
from tests.support.destinations import BASE, Destination, error_lines, gcs_at, with_big_files
from tests.support.gcs_faults import FaultProxy, Seen


def slow_uploads_and_downloads(seen):
    writes = seen.path.startswith("/upload/") or "/rewriteTo/" in seen.path
    reads = "alt=media" in seen.path
    return (lambda: time.sleep(0.15)) if writes or reads else None


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


# --- SIGTERM ------------------------------------------------------------------------------------


def holding(matches):
    """A proxy decision that holds the requests `matches` picks until `go_on` is set, and says
    (`held`) when the first one arrived: a signal then lands while the push is in the middle."""
    held, go_on = threading.Event(), threading.Event()

    def decide(seen):
        if matches(seen):
            return lambda: (held.set(), go_on.wait(60))
        return None

    return decide, held, go_on


def stop_while_held(emulator_url: str, matches: Callable[[Seen], bool], *args: str, never: str, settle: float = 0,
                    env: dict | None = None, before_stop: Callable[[], object] | None = None
                    ) -> tuple[subprocess.Popen, Stopped]:
    """Push (`args`) through a proxy that holds the requests `matches` picks; once the first is held
    (and `settle` s on), call `before_stop`, send SIGTERM and let the held requests go on: the stop
    lands while the push is in the middle of what they do. The SIGTERM tests of this section set this up."""
    decide, held, go_on = holding(matches)

    def ready() -> bool:  # asked once by stop_when, which kills the push if this fails
        wait_until(held, never=never)
        if before_stop is not None:
            before_stop()
        return True

    with FaultProxy(emulator_url, decide) as proxy:
        push = start_cli(*args, env={"STORAGE_EMULATOR_HOST": proxy.url, **(env or {})})
        return push, stop_when(push, ready, settle, then=go_on.set, timeout=30)


def test_sigterm_mid_gcs_push_removes_what_it_wrote_and_says_so(saved_model, gcs_emulator, gcs_bucket):
    model = with_big_files(saved_model, big=2, small=40)
    gcs = gcs_at(gcs_emulator, gcs_bucket)
    push, stopped = stop_while_held(
        gcs_emulator.url, lambda seen: seen.path.startswith("/upload/") and f"{BASE}/1/" in unquote(seen.path),
        "--model", str(model), "--push-destination", f"gs://{gcs_bucket}/{BASE}", "--versioning", "SEQUENTIAL",
        never="the push never began to fill a version")
    stderr = stopped.stderr
    assert time.monotonic() - stopped.signalled < 10
    assert push.returncode == 128 + signal.SIGTERM
    [line] = error_lines(stderr)
    assert "stopped by SIGTERM" in line and "nothing was published" in line
    assert "Traceback" not in stderr
    left = gcs.names(f"{BASE}/")
    assert not gcs.versions(), "an incomplete version survived the stop"
    assert not [n for n in left if ".pushing-" in n], f"staging or lease left: {sorted(left)}"


def test_sigterm_mid_local_push_removes_staging_and_lock(saved_model, gcs_emulator, gcs_bucket, tmp_path):
    # A model read from GCS, its downloads held: the local staging directory is half filled.
    model = with_big_files(saved_model, big=0, small=40)
    gcs_at(gcs_emulator, gcs_bucket).upload("trainer/model", model)
    base = tmp_path / "serving"
    push, (_, _, stderr, _) = stop_while_held(
        gcs_emulator.url, lambda seen: "alt=media" in seen.path and "small-" in unquote(seen.path),
        "--model", f"gs://{gcs_bucket}/trainer/model", "--push-destination", str(base),
        never="the push never began to copy the model")
    assert push.returncode == 128 + signal.SIGTERM, stderr
    assert "stopped by SIGTERM" in error_lines(stderr)[0]
    assert sorted(p.name for p in base.iterdir()) == []


# --- names from a store's listing ------------------------------------------------------------------


@pytest.mark.parametrize("evil", ["../../escaped.txt", "/etc-like/passwd", "variables/../../../x", "a//b"])
@pytest.mark.parametrize("to", ["local", "gcs"])
def test_a_store_model_with_a_name_that_leaves_its_directory_is_refused(
    saved_model, gcs_emulator, gcs_bucket, tmp_path, evil, to
):
    gcs = gcs_at(gcs_emulator, gcs_bucket)
    gcs.upload("trainer/model", saved_model)
    gcs.put(f"trainer/model/{evil}", b"not yours")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("untouched")
    before = tree_digest(tmp_path)
    base = str(tmp_path / "serving") if to == "local" else f"gs://{gcs_bucket}/{BASE}"
    result = run_cli("--model", f"gs://{gcs_bucket}/trainer/model", "--push-destination", base,
                     "--pushed-model", str(tmp_path / "archive"), env={"STORAGE_EMULATOR_HOST": gcs_emulator.url})
    assert result.returncode == 2, result.stderr
    [line] = error_lines(result.stderr)
    assert f"object gs://{gcs_bucket}/trainer/model/{evil}" in line and "refusing to push" in line
    assert tree_digest(tmp_path) == before
    assert not gcs.versions()


# --- retention and what dead pushes left ----------------------------------------------------


def test_incomplete_remains_without_lease_are_removed_once_stale_and_fresh_ones_are_not(
    saved_model, gcs_emulator, gcs_bucket
):
    gcs = gcs_at(gcs_emulator, gcs_bucket)
    bucket = gcs.client.bucket(gcs_bucket)
    base = f"gs://{gcs_bucket}/{BASE}"
    env = {"STORAGE_EMULATOR_HOST": gcs_emulator.url, "MODEL_PUSHER_LEASE_SECONDS": "1"}
    args = ("--model", str(saved_model), "--push-destination", base, "--versioning", "SEQUENTIAL")
    assert run_cli(*args, env=env).returncode == 0  # version 1
    # What a push killed during retention leaves: a version without saved_model.pb, claim or lease.
    bucket.blob(f"{BASE}/1/variables/variables.data-00000-of-00001").delete()
    bucket.blob(f"{BASE}/1/saved_model.pb").delete()
    # A lease whose note is not JSON at all, stale too: it must not crash the next push.
    bucket.blob(f"{BASE}/.pushing-garbage.lease").upload_from_string(b"\xff not json")
    # Staged files whose lease is gone (their push lost it to a cleaner, then died).
    bucket.blob(f"{BASE}/.pushing-orphan/assets/big.bin").upload_from_string(b"staged")
    time.sleep(1.5)
    result = run_cli(*args, "--force-new-version", "true", "--keep-versions", "5", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["removed_versions"] == [1], result.stderr
    assert set(gcs.versions()) == {2}
    assert not [n for n in gcs.names() if ".pushing-" in n]

    # Fresh remains (another push may be filling them) stay.
    bucket.blob(f"{BASE}/9/variables/variables.index").upload_from_string(b"being written")
    result = run_cli(*args, "--force-new-version", "true", "--keep-versions", "5",
                     env={**env, "MODEL_PUSHER_LEASE_SECONDS": "60"})
    assert result.returncode == 0, result.stderr
    assert 9 in gcs.versions()


def test_list_leaves_out_burned_claims(saved_model, gcs_emulator, gcs_bucket):
    gcs = gcs_at(gcs_emulator, gcs_bucket)
    base = f"gs://{gcs_bucket}/{BASE}"
    env = {"STORAGE_EMULATOR_HOST": gcs_emulator.url}
    gcs.put(f"{BASE}/.claims/4", b".pushing-dead")
    result = run_cli("--model", str(saved_model), "--push-destination", base, "--versioning", "SEQUENTIAL", env=env)
    assert json.loads(result.stdout)["pushed_version"] == "5"  # the burned number is never reused
    listed = json.loads(run_cli("list", "--push-destination", base, "--json", env=env).stdout)
    assert [v["version"] for v in listed] == [5]


def test_retention_that_cannot_delete_leaves_the_push_standing(saved_model, gcs_emulator, gcs_bucket):
    base = f"gs://{gcs_bucket}/{BASE}"
    args = ("--model", str(saved_model), "--push-destination", base, "--force-new-version", "true",
            "--versioning", "SEQUENTIAL")
    for _ in range(2):
        assert run_cli(*args, env={"STORAGE_EMULATOR_HOST": gcs_emulator.url}).returncode == 0

    def deny_deletes_of_versions(seen):
        return "403" if seen.method == "DELETE" and "/o/serving%2Fmy_model%2F1%2F" in seen.path else None

    with FaultProxy(gcs_emulator.url, deny_deletes_of_versions) as proxy:
        result = run_cli(*args, "--keep-versions", "1", env={"STORAGE_EMULATOR_HOST": proxy.url})
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["pushed_version"] == "3" and "permission denied" in record["retention_error"]
    assert "Version 3 was published at" in result.stderr and "retention (--keep-versions 1) failed" in result.stderr


# --- the soak -----------------------------------------------------------------------------------


MARKER = "assets/push-id.txt"


@dataclass
class Pushed:
    push: int  # which push: its model holds MARKER with this number
    version: int
    started: float
    exited: float


def soak(model: Path, base: str, env: dict, listing, marker, staging, rounds: int, seed: int, work: Path) -> None:
    """Rounds of pushes with retention, each of its own model: one stalled by SIGSTOP once it is
    staging (it has chosen its number), then 4 concurrent pushes, one stopped by SIGTERM and one
    by SIGKILL at random moments, and 2 more, which publish and remove older versions; then the
    stalled one is resumed. Then asserts the invariants. `marker(version)` is the MARKER a version
    holds now (None when it is gone); `staging()` the names of staging areas at the base."""
    rng = random.Random(seed)
    common = ("--push-destination", base, "--versioning", "SEQUENTIAL", "--force-new-version", "true",
              "--keep-versions", "3")
    numbers = itertools.count()
    published: list[Pushed] = []

    def start(lease: dict | None = None) -> tuple[int, subprocess.Popen, float]:
        number = next(numbers)
        own = Path(shutil.copytree(model, work / f"model-{number}"))
        (own / MARKER).write_text(str(number))
        return number, start_cli("--model", str(own), *common, env={**env, **(lease or {})}), time.monotonic()

    def finish(number: int, push: subprocess.Popen, started: float, how: str = "") -> None:
        stdout, stderr = push.communicate(timeout=180)
        exited = time.monotonic()
        assert "Traceback" not in stderr, stderr
        version = None
        if push.returncode == 0:
            version = int(json.loads(stdout)["pushed_version"])
        elif how == "SIGTERM" and push.returncode == -signal.SIGTERM:
            # Before Python had started the command, or after it had finished (record printed).
            if stdout.strip():
                version = int(json.loads(stdout)["pushed_version"])
            else:
                assert not stderr.strip(), stderr
        elif how == "SIGTERM":
            assert push.returncode == 128 + signal.SIGTERM, stderr
            [line] = error_lines(stderr)
            assert "stopped by SIGTERM" in line
            if "nothing was published" not in line:  # stopped after its version became visible
                version = int(line.split("version ")[1].split()[0].rstrip("/").rsplit("/", 1)[-1])
        elif how == "SIGKILL":
            assert push.returncode == -signal.SIGKILL
        elif how == "SIGSTOP" and push.returncode == 1:
            # Stalled past its lease: another push cleaned up after it (on S3 an upload it was
            # sending may have been aborted under it, which it finds before its lease).
            [line] = error_lines(stderr)
            assert "nothing was published" in line, line
        else:
            pytest.fail(f"push {number} ({how or 'not stopped'}) exited {push.returncode}: {stderr}")
        if version is not None:
            # The version held this push's model when it exited, unless retention had removed it.
            assert marker(version) in (str(number), None), f"version {version} holds another push's model"
            published.append(Pushed(number, version, started, exited))

    for _ in range(rounds):
        before = staging()
        stalled_push = start()
        deadline = time.monotonic() + 20
        while not staging() - before and stalled_push[1].poll() is None and time.monotonic() < deadline:
            time.sleep(0.001)
        stalled_push[1].send_signal(signal.SIGSTOP)  # a slow disk, a descheduled pod
        during_stall = len(published)
        pushes = [start() for _ in range(4)]
        time.sleep(rng.uniform(0.2, 1.5))
        pushes[0][1].send_signal(signal.SIGTERM)
        pushes[1][1].send_signal(signal.SIGKILL)
        finish(*pushes[0], how="SIGTERM")
        finish(*pushes[1], how="SIGKILL")
        for push in pushes[2:]:
            finish(*push)
        for _ in range(2):  # more versions, and retention, while the stalled push sleeps
            finish(*start())
        overtaking = [p.version for p in published[during_stall:]]
        stalled_push[1].send_signal(signal.SIGCONT)
        finish(*stalled_push, how="SIGSTOP")
        stalled = published[-1] if published[-1].push == stalled_push[0] else None
        if stalled is not None and overtaking:  # published before its stop, or after it, above everything since
            assert stalled.version < min(overtaking) or stalled.version > max(overtaking), (stalled, overtaking)
    time.sleep(2.5)  # every killed push's lease is stale now for a push that waits 2 s
    finish(*start({"MODEL_PUSHER_LEASE_SECONDS": "2"}))
    complete, incomplete = listing()
    assert not incomplete, f"incomplete versions survived the next push: {incomplete}"
    versions = [p.version for p in published]
    assert len(set(versions)) == len(versions), f"a version number was published twice: {sorted(versions)}"
    for earlier in published:  # numbers only go up: a push that began later publishes higher
        for later in published:
            if earlier.exited < later.started:
                assert later.version > earlier.version, (earlier, later)
    # Exactly keep_versions, the newest (a SIGKILLed push may have published one it never recorded).
    assert len(complete) == 3 and max(complete) == published[-1].version, (complete, versions)
    assert all(v in complete for v in versions if v >= min(complete)), (complete, versions)
    for pushed in published:
        assert marker(pushed.version) in (str(pushed.push), None)


def test_soak_local(saved_model, tmp_path):
    model = with_big_files(saved_model, big=2, small=30)
    base = tmp_path / "serving"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "1").mkdir()
    before = tree_digest(outside)

    def listing():
        names = [p.name for p in base.iterdir()]
        versions = [n for n in names if n.isdigit()]
        return ([int(v) for v in versions if (base / v / "saved_model.pb").exists()],
                [v for v in versions if not (base / v / "saved_model.pb").exists()]
                + [n for n in names if n.startswith(".") and n != ".high-water"])

    def marker(version: int) -> str | None:
        try:
            return (base / str(version) / MARKER).read_text()
        except FileNotFoundError:
            return None

    def staging() -> set[str]:
        return {n for n in os.listdir(base) if n.startswith(".pushing-")} if base.exists() else set()

    soak(model, str(base), {}, listing, marker, staging, rounds=3, seed=11, work=tmp_path)
    assert tree_digest(outside) == before


def bucket_staging(destination: Destination) -> list[str]:
    """The names of the staging areas at the base in a bucket."""
    return [n for n in destination.names(f"{BASE}/") if ".pushing-" in n]


def bucket_listing(destination: Destination) -> tuple[list[int], list]:
    """soak's `listing` for a bucket (the same on every bucket store): the complete versions, and
    what is incomplete (versions without saved_model.pb, staging areas)."""
    found = destination.versions()
    return ([v for v, files in found.items() if "saved_model.pb" in files],
            [v for v, files in found.items() if "saved_model.pb" not in files] + bucket_staging(destination))


def test_soak_gcs(saved_model, gcs_emulator, gcs_bucket, tmp_path):
    model = with_big_files(saved_model, big=2, small=30)
    gcs = gcs_at(gcs_emulator, gcs_bucket)

    def marker(version: int) -> str | None:
        blob = gcs.client.bucket(gcs_bucket).get_blob(f"{BASE}/{version}/{MARKER}")
        return None if blob is None else blob.download_as_bytes().decode()

    with FaultProxy(gcs_emulator.url, slow_uploads_and_downloads) as proxy:
        # Leases of the default length during the rounds: a stall shorter than a lease is the one
        # that can outlast other pushes' publishing and retention without losing its lease.
        soak(model, f"gs://{gcs_bucket}/{BASE}", {"STORAGE_EMULATOR_HOST": proxy.url},
             lambda: bucket_listing(gcs), marker, lambda: set(bucket_staging(gcs)),
             rounds=2, seed=5, work=tmp_path)


def test_soak_s3(saved_model, s3_destination, tmp_path):
    model = with_big_files(saved_model, big=2, small=30)
    s3 = s3_destination
    client = s3.client

    def marker(version: int) -> str | None:
        try:
            return client.get_object(Bucket=s3.bucket, Key=f"{BASE}/{version}/{MARKER}")["Body"].read().decode()
        except client.exceptions.NoSuchKey:
            return None

    soak(model, s3.uri(), s3.env,
         lambda: bucket_listing(s3), marker, lambda: set(bucket_staging(s3)),
         rounds=2, seed=7, work=tmp_path)


def test_a_push_stalled_past_its_lease_stops_writing_when_it_wakes(saved_model, gcs_emulator, gcs_bucket):
    model = with_big_files(saved_model, big=2, small=60)
    gcs = gcs_at(gcs_emulator, gcs_bucket)
    base = f"gs://{gcs_bucket}/{BASE}"
    decide, filling, go_on = holding(lambda seen: seen.path.startswith("/upload/") and f"{BASE}/1/" in unquote(seen.path))
    with FaultProxy(gcs_emulator.url, decide) as proxy:
        stalled = start_cli("--model", str(model), "--push-destination", base, "--versioning", "SEQUENTIAL",
                            env={"STORAGE_EMULATOR_HOST": proxy.url, "MODEL_PUSHER_LEASE_SECONDS": "2"})
        assert filling.wait(60), "the push never began to fill its version"
        stalled.send_signal(signal.SIGSTOP)  # mid-fill: a paused VM, a debugger, a stuck node
        go_on.set()
        time.sleep(2.5)
        other = run_cli("--model", str(saved_model), "--push-destination", base, "--versioning", "SEQUENTIAL",
                        env={"STORAGE_EMULATOR_HOST": gcs_emulator.url, "MODEL_PUSHER_LEASE_SECONDS": "2"})
        assert other.returncode == 0, other.stderr
        assert "Removed what an interrupted push left" in other.stderr and "incomplete version 1" in other.stderr
        theirs = int(json.loads(other.stdout)["pushed_version"])
        stalled.send_signal(signal.SIGCONT)
        _, stderr = stalled.communicate(timeout=60)
    assert stalled.returncode == 1, stderr
    assert "took over its lease" in error_lines(stderr)[0]
    assert set(gcs.versions()) == {theirs}
    assert not [n for n in gcs.names() if ".pushing-" in n]


def test_sigterm_mid_archive_copy_in_a_store_removes_it(saved_model, gcs_emulator, gcs_bucket):
    model = with_big_files(saved_model, big=0, small=40)
    gcs = gcs_at(gcs_emulator, gcs_bucket)
    push, (_, _, stderr, _) = stop_while_held(  # 0.5 s on: some uploads of the archive finish meanwhile
        gcs_emulator.url, lambda seen: seen.path.startswith("/upload/") and "pipeline/pushed_model/" in unquote(seen.path),
        "--model", str(model), "--push-destination", f"gs://{gcs_bucket}/{BASE}",
        "--pushed-model", f"gs://{gcs_bucket}/pipeline/pushed_model",
        never="the push never began to write the archive copy", settle=0.5, env={"MODEL_PUSHER_MOUNT_ROOT": "/nonexistent"})
    assert push.returncode == 128 + signal.SIGTERM, stderr
    [line] = error_lines(stderr)
    assert "stopped by SIGTERM" in line and "nothing was published" in line
    assert not gcs.names("pipeline/"), "a half archive copy was left"


def test_sigterm_mid_local_archive_copy_removes_it(saved_model, gcs_emulator, gcs_bucket, tmp_path):
    # A model read from GCS, its downloads held: the archive copy is half written when the stop comes.
    model = with_big_files(saved_model, big=0, small=40)
    gcs_at(gcs_emulator, gcs_bucket).upload("trainer/model", model)
    push, (_, _, stderr, _) = stop_while_held(
        gcs_emulator.url, lambda seen: "alt=media" in seen.path and "small-" in unquote(seen.path),
        "--model", f"gs://{gcs_bucket}/trainer/model", "--push-destination", str(tmp_path / "serving"),
        "--pushed-model", str(tmp_path / "pushed_model"), never="the push never began to copy the model")
    assert push.returncode == 128 + signal.SIGTERM, stderr
    assert "stopped by SIGTERM" in error_lines(stderr)[0]
    assert not (tmp_path / "pushed_model").exists() and not (tmp_path / "serving").exists()


def test_sigterm_after_the_archive_copy_while_the_version_fills_removes_the_archive_too(
    saved_model, gcs_emulator, gcs_bucket, tmp_path
):
    # The archive copy is complete when the stop comes (the version's first writes are held): the
    # line says nothing was published, and nothing of the archive copy is left either.
    model = with_big_files(saved_model, big=0, small=20)
    def archive_copy_came_first() -> None:
        assert (tmp_path / "pushed_model" / "saved_model.pb").exists()

    push, (_, _, stderr, _) = stop_while_held(
        gcs_emulator.url, lambda seen: seen.path.startswith("/upload/") and f"{BASE}/" in unquote(seen.path)
        and ".claims/" not in unquote(seen.path) and ".pushing-" not in unquote(seen.path),
        "--model", str(model), "--push-destination", f"gs://{gcs_bucket}/{BASE}",
        "--pushed-model", str(tmp_path / "pushed_model"), never="the push never began to fill its version",
        before_stop=archive_copy_came_first)
    assert push.returncode == 128 + signal.SIGTERM, stderr
    [line] = error_lines(stderr)
    assert "stopped by SIGTERM" in line and "nothing was published" in line
    assert not (tmp_path / "pushed_model").exists(), "the archive copy of a push that published nothing was left"
