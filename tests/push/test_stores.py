"""The guarantees every destination gives, one suite run against each: a local directory, gs:// on
fake-gcs-server and s3:// on moto's S3 server, always through the real command."""

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from component.push.rollback_note import NOTE
from tests.support.blessings import blessing
from tests.support.buckets import forget_clients
from tests.support.command import refused, run_cli, start_cli
from tests.support.destinations import BASE, Destination, crcs, error_lines, push, pushed, with_big_files
from tests.support.savedmodels import serve

X = [[1.0, 2.0, 3.0]]


def test_a_push_serves_the_model_with_the_same_crc32c(destination, saved_model, tmp_path):
    started = int(time.time())
    record = pushed(push(saved_model, destination))
    version = int(record["pushed_version"])
    assert started <= version <= time.time()  # TFX's Unix-time versions
    assert record["pushed_destination"] == destination.uri(f"{BASE}/{version}")
    assert destination.versions() == {version: crcs(saved_model)}
    # Nothing else left behind but the high-water mark: no staging, lease, claim or probe.
    assert {n for n in destination.names() if not n.startswith(f"{BASE}/{version}")} <= {
        "serving", BASE, f"{BASE}/.high-water", f"{BASE}/.claims/high-water"}
    served = destination.download(f"{BASE}/{version}/", tmp_path / "served")
    np.testing.assert_allclose(serve(served, X)["y"], serve(saved_model, X)["y"])


def test_sequential_versions_reuse_and_force_new_version(destination, saved_model, keras_saved_model):
    sequential = ("--versioning", "SEQUENTIAL")
    assert pushed(push(saved_model, destination, *sequential))["pushed_version"] == "1"
    assert pushed(push(keras_saved_model, destination, *sequential))["pushed_version"] == "2"
    again = pushed(push(keras_saved_model, destination, *sequential))
    assert (again["pushed_version"], again["reused"]) == ("2", 1)
    forced = pushed(push(keras_saved_model, destination, *sequential, "--force-new-version", "true"))
    assert (forced["pushed_version"], forced["reused"]) == ("3", 0)
    assert destination.versions() == {1: crcs(saved_model), 2: crcs(keras_saved_model), 3: crcs(keras_saved_model)}


def test_racing_pushes_get_distinct_versions(destination, saved_model, keras_saved_model):
    models = [saved_model, keras_saved_model] * 2
    pushes = [
        start_cli("--model", str(m), "--push-destination", destination.uri(), "--versioning", "SEQUENTIAL",
                  "--force-new-version", "true", env=destination.env)
        for m in models
    ]
    results = [(p.communicate(timeout=180), p.returncode) for p in pushes]
    for (_, stderr), code in results:
        assert code == 0, stderr
    versions = [int(json.loads(out)["pushed_version"]) for (out, _), _ in results]
    # Distinct; in a bucket a push overtaken by a faster one leaves its first number unused.
    assert len(set(versions)) == 4 and (destination.kind != "local" or sorted(versions) == [1, 2, 3, 4])
    published = destination.versions()
    assert {v: published[v] for v in versions} == {v: crcs(m) for v, m in zip(versions, models)}


def test_list_rollback_and_retention(destination, saved_model, keras_saved_model):
    sequential = ("--versioning", "SEQUENTIAL")
    pushed(push(saved_model, destination, *sequential))
    pushed(push(keras_saved_model, destination, *sequential))
    listed = run_cli("list", "--push-destination", destination.uri(), "--json", env=destination.env)
    assert [(v["version"], v["complete"]) for v in json.loads(listed.stdout)] == [(1, True), (2, True)]

    sequential_base = json.dumps({"filesystem": {"base_directory": destination.uri(), "versioning": "SEQUENTIAL"}})
    rolled = pushed(run_cli("rollback", "--push-destination", sequential_base, env=destination.env))
    assert rolled["pushed_version"] == "3"
    published = destination.versions()
    assert {v: without_note(files) for v, files in published.items()} == {
        1: crcs(saved_model), 2: crcs(keras_saved_model), 3: crcs(saved_model)}
    assert NOTE in published[3]

    kept = pushed(push(keras_saved_model, destination, *sequential, "--keep-versions", "1"))
    assert kept["pushed_version"] == "4" and kept["removed_versions"] == [3, 2, 1]
    assert destination.versions() == {4: crcs(keras_saved_model)}


def without_note(files: dict[str, str]) -> dict[str, str]:
    return {rel: crc32c for rel, crc32c in files.items() if rel != NOTE}


def test_a_rollback_says_what_it_copied_and_twice_rolls_back_once(destination, saved_model, keras_saved_model):
    sequential = ("--versioning", "SEQUENTIAL")
    sequential_base = json.dumps({"filesystem": {"base_directory": destination.uri(), "versioning": "SEQUENTIAL"}})

    def rollback(*args: str) -> dict:
        return pushed(run_cli("rollback", "--push-destination", sequential_base, *args, env=destination.env))

    def listed() -> list[dict]:
        return json.loads(listed_text(run_cli("list", "--push-destination", destination.uri(), "--json", env=destination.env)))

    pushed(push(saved_model, destination, *sequential))
    pushed(push(keras_saved_model, destination, *sequential))
    before = time.time()
    assert (rollback()["pushed_version"], rollback()["reused"]) == ("3", 1)  # the second changes nothing
    notes = [v["rollback"] for v in listed()]
    assert notes[:2] == [None, None]
    assert (notes[2]["copy_of"], notes[2]["rolled_back_from"]) == (1, 2) and before - 1 <= notes[2]["at"] <= time.time()
    table = run_cli("list", "--push-destination", destination.uri(), env=destination.env)
    assert "copy of version 1 made by a rollback from version 2 at " in table.stdout.splitlines()[3]
    assert [line.split()[-1] for line in table.stdout.splitlines()[1:3]] == ["pushed", "pushed"]
    assert "Done in" not in table.stderr

    # Pushing the model the rollback went back to finds it in the copy; the note does not count.
    again = pushed(push(saved_model, destination, *sequential))
    assert (again["pushed_version"], again["reused"]) == ("3", 1)
    # Going back further takes --to, and that too is done once however often it is asked.
    assert (rollback("--to", "2")["pushed_version"], rollback("--to", "2")["reused"]) == ("4", 1)
    # A push after rollbacks, then a rollback: back to what was served before that push (version
    # 4's model, version 2's), and the note names the pushed version, not the copy.
    pushed(push(saved_model, destination, *sequential, "--force-new-version"))
    assert rollback()["pushed_version"] == "6"
    note = listed()[5]["rollback"]
    assert (note["copy_of"], note["rolled_back_from"]) == (2, 5)
    published = destination.versions()
    assert without_note(published[6]) == crcs(keras_saved_model) and NOTE not in published[5]
    # Retention counts the copies as versions like any other.
    kept = pushed(push(keras_saved_model, destination, *sequential, "--force-new-version", "--keep-versions", "2"))
    assert kept["removed_versions"] == [5, 4, 3, 2, 1]
    assert sorted(destination.versions()) == [6, 7]


def listed_text(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_model_that_is_not_blessed_writes_nothing(destination, saved_model, tmp_path):
    not_blessed = blessing(tmp_path / "evaluator" / "blessing", "NOT_BLESSED")
    result = pushed(push(saved_model, destination, "--model-blessing", str(not_blessed)))
    assert result["pushed"] == 0
    assert not destination.names(BASE)


@pytest.mark.parametrize("name", ["a/../b", "/x"])
def test_a_model_listing_with_an_unsafe_name_is_refused(remote_destination, saved_model, name):
    remote_destination.upload("trainer/model", saved_model)
    remote_destination.put(f"trainer/model/{name}", b"planted")
    result = run_cli("--model", remote_destination.uri("trainer/model"), "--push-destination", remote_destination.uri(),
                     env=remote_destination.env)
    assert result.returncode == 2, result.stderr
    [line] = error_lines(result.stderr)
    assert repr(name) in line and "not a plain relative path" in line
    assert not remote_destination.names(BASE)


def test_a_killed_push_is_cleaned_up_by_the_next(destination, saved_model):
    model = with_big_files(saved_model, big=6, size=8_000_000)
    lease = {"MODEL_PUSHER_LEASE_SECONDS": "1"}
    args = ["--model", str(model), "--push-destination", destination.uri(), "--versioning", "SEQUENTIAL"]
    killed = start_cli(*args, env={**destination.env, **lease}, quiet=True)
    deadline = time.monotonic() + 60
    while not any(".pushing-" in n for n in destination.names(BASE)) and time.monotonic() < deadline:
        time.sleep(0.005)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert any(".pushing-" in n for n in destination.names(BASE)), "the push was not killed while it was staging"

    time.sleep(1.5)  # its lease is stale now
    result = pushed(run_cli(*args, env={**destination.env, **lease}))
    assert not [n for n in destination.names(BASE) if ".pushing-" in n]
    assert destination.versions() == {int(result["pushed_version"]): crcs(model)}


def in_this_process(destination: Destination, monkeypatch, request) -> None:
    """Point this process's store clients (cached per process) at the destination's server: the
    command runs in new processes, these tests call the core directly."""
    for name, value in destination.env.items():
        monkeypatch.setenv(name, value)
    for module in ("gcs", "s3"):
        forget_clients(module)
        request.addfinalizer(lambda module=module: forget_clients(module))


def stale_push(destination: Destination, model: Path, monkeypatch, request, taken: set[int], during=None) -> int:
    """Publish `model` as a push that listed the base (finding `taken`) before other pushes ran;
    `during` runs while it fills its claimed version (in a bucket: before its first file)."""
    from component.push.base import open_base
    from component.push.destination import Destination as Target, Versioning
    from component.push.publish import _publish
    from component.stores.trees import local_model

    in_this_process(destination, monkeypatch, request)
    base = open_base(destination.uri())
    if during is not None:
        stage = base.stage

        def stage_then_interleave(*args):
            staging = stage(*args)
            check = staging.lease.check
            once = threading.Lock()  # files are placed in parallel: the first one runs `during`

            def check_after_others() -> None:
                if once.acquire(blocking=False):
                    during()
                check()

            staging.lease.check = check_after_others
            return staging

        monkeypatch.setattr(base, "stage", stage_then_interleave)
    published = _publish(base, local_model(model, "model", "the model"), Target(destination.uri(), Versioning.SEQUENTIAL),
                         time.time, taken)
    return published.version


def test_a_number_removed_by_retention_is_never_published_again(destination, saved_model, keras_saved_model,
                                                                monkeypatch, request):
    keep_one = ("--versioning", "SEQUENTIAL", "--force-new-version", "true", "--keep-versions", "1")
    for expected in ("1", "2", "3"):
        assert pushed(push(saved_model, destination, *keep_one))["pushed_version"] == expected
    assert set(destination.versions()) == {3}
    # A push that listed the empty base before those three (it stalled while it staged).
    assert stale_push(destination, keras_saved_model, monkeypatch, request, taken=set()) == 4
    assert destination.versions() == {3: crcs(saved_model), 4: crcs(keras_saved_model)}


def test_a_push_overtaken_while_it_fills_its_version_publishes_above(remote_destination, saved_model,
                                                                     keras_saved_model, monkeypatch, request):
    def another_push() -> None:
        result = push(saved_model, remote_destination, "--versioning", "SEQUENTIAL")
        assert json.loads(result.stdout)["pushed_version"] == "2", result.stderr

    assert stale_push(remote_destination, keras_saved_model, monkeypatch, request, taken=set(), during=another_push) == 3
    assert remote_destination.versions() == {2: crcs(saved_model), 3: crcs(keras_saved_model)}


@pytest.mark.parametrize("change", ["shrinks", "is rewritten"])
def test_a_model_file_that_changes_under_the_push_fails_it_with_nothing_published(destination, saved_model,
                                                                                  monkeypatch, request, change):
    from component.errors import PublishError
    from component.push.destination import Destination as Target, Versioning
    from component.push.publish import push as publish
    from component.stores.trees import local_model

    in_this_process(destination, monkeypatch, request)
    model = with_big_files(saved_model, big=1, size=3_000_000)  # staged in a bucket, or uploaded unseen
    listed = local_model(model, "model", "the model")  # what the push read when it began
    victim = model / "assets" / "big-0.bin"
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2] if change == "shrinks" else bytes(reversed(data)))
    with pytest.raises(PublishError, match=r"assets/big-0.bin: the model file .* changed while it was being pushed"):
        publish(listed, Target(destination.uri(), Versioning.SEQUENTIAL))
    assert destination.versions() == {}


@pytest.mark.parametrize("planted", [["assets/a", "assets/a/b"], ["assets/" + "x" * 300]])
def test_a_store_model_no_disk_can_hold_is_refused_before_anything_is_written(remote_destination, saved_model,
                                                                               tmp_path, planted):
    remote_destination.upload("trainer/model", saved_model)
    for name in planted:
        remote_destination.put(f"trainer/model/{name}", b"planted")
    result = run_cli("--model", remote_destination.uri("trainer/model"), "--push-destination", str(tmp_path / "serving"),
                     "--pushed-model", str(tmp_path / "pushed_model"), env=remote_destination.env)
    assert result.returncode == 2, result.stderr
    [line] = error_lines(result.stderr)
    assert line.split(" ERROR ")[1].startswith("--model: 'assets/")
    assert not (tmp_path / "serving").exists() and not (tmp_path / "pushed_model").exists()


def test_a_local_output_name_too_long_for_a_file_system_is_refused(saved_model, tmp_path):
    too_long = tmp_path / ("p" * 300)
    result = push(saved_model, tmp_path / "serving", "--pushed-model", str(too_long))
    line = refused(result, "has a name of 300 bytes; a file system allows 255")
    assert line.split(" ERROR ")[1].startswith("--pushed-model: ")
    assert sorted(os.listdir(tmp_path)) == ["saved_model"]
