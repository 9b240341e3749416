"""The local push end to end, through the real command: TFX's executor cases and every rule on top."""

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from component.push.versioning import numeric_versions
from tests.support.blessings import blessing, infra_blessing_with_model, tfx_model_artifact
from tests.support.command import REPO, run_cli, start_cli
from tests.support.destinations import push
from tests.support.savedmodels import serve, warmup_file_bytes

X = [[1.0, 2.0, 3.0], [-1.0, 0.0, 0.5]]


def assert_serves_like(version_dir: Path, source: Path) -> None:
    expected = serve(source, X)
    got = serve(version_dir, X)
    assert expected.keys() == got.keys()
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key])


# --- TFX's own executor cases -------------------------------------------------------------


def test_blessed_model_is_pushed_and_serves_the_same(saved_model, tmp_path):
    model = tfx_model_artifact(saved_model, tmp_path / "Trainer")
    result = push(model, tmp_path / "serving", "--model-blessing", str(blessing(tmp_path / "b", "BLESSED")),
                  "--pushed-model", str(tmp_path / "pushed"))
    record = result.record
    assert result.returncode == 0, result.stderr
    version = record["pushed_version"]
    assert record["pushed"] == 1 and version.isdigit() and abs(int(version) - time.time()) < 60
    assert record["pushed_destination"] == str(tmp_path / "serving" / version)
    assert sorted(os.listdir(tmp_path / "serving")) == [".high-water", version]
    assert_serves_like(tmp_path / "serving" / version, saved_model)
    assert_serves_like(tmp_path / "pushed", saved_model)  # TFX's archive copy
    assert f"Decision: pushed version {version}: --model-blessing blessed the model" in result.stderr


def test_not_blessed_writes_nothing_and_succeeds(saved_model, tmp_path):
    result = push(saved_model, tmp_path / "serving", "--model-blessing",
                  str(blessing(tmp_path / "b", "NOT_BLESSED")), "--pushed-model", str(tmp_path / "pushed"))
    record = result.record
    assert result.returncode == 0
    assert record["pushed"] == 0 and record["pushed_version"] == "" and "NOT blessed" in record["reason"]
    assert not (tmp_path / "serving").exists() and not (tmp_path / "pushed").exists()
    assert "pushed_model" not in record  # no archive copy was made, so none is named
    assert "Decision: NOT pushed" in result.stderr


def test_both_blessings_blessed(saved_model, tmp_path):
    result = push(saved_model, tmp_path / "s", "--model-blessing", str(blessing(tmp_path / "b", "BLESSED")),
                  "--infra-blessing", str(blessing(tmp_path / "i", "INFRA_BLESSED")))
    record = result.record
    assert record["pushed"] == 1
    assert record["blessings"]["infra_blessing"]["verdict"] == "blessed"
    assert record["reason"] == "--model-blessing and --infra-blessing blessed the model"


def test_infra_not_blessed_is_not_pushed(saved_model, tmp_path):
    result = push(saved_model, tmp_path / "s", "--model-blessing", str(blessing(tmp_path / "b", "BLESSED")),
                  "--infra-blessing", str(blessing(tmp_path / "i", "INFRA_NOT_BLESSED")))
    record = result.record
    assert record["pushed"] == 0 and "--infra-blessing says NOT blessed" in record["reason"]
    assert not (tmp_path / "s").exists()


def test_infra_blessing_only(saved_model, tmp_path):
    result = push(saved_model, tmp_path / "s", "--infra-blessing", str(blessing(tmp_path / "i", "INFRA_BLESSED")))
    record = result.record
    assert record["pushed"] == 1


def test_keras_export_layout(keras_saved_model, tmp_path):
    model = tfx_model_artifact(keras_saved_model, tmp_path / "Trainer")
    result = push(model, tmp_path / "s", "--model-blessing", str(blessing(tmp_path / "b", "BLESSED")))
    record = result.record
    pushed = tmp_path / "s" / record["pushed_version"]
    got = serve(pushed, [[1.0, 2.0, 3.0, 4.0]])
    np.testing.assert_allclose(got["output_0"], serve(keras_saved_model, [[1.0, 2.0, 3.0, 4.0]])["output_0"])


def test_no_blessing_pushes_with_a_warning(saved_model, tmp_path):
    result = push(saved_model, tmp_path / "s")
    record = result.record
    assert record["pushed"] == 1 and "without validation" in record["reason"]
    assert "UNVALIDATED" in result.stderr


def test_no_model_is_an_error(tmp_path):
    result = push(None, tmp_path / "s", "--model-blessing", str(blessing(tmp_path / "b", "BLESSED")))
    assert result.returncode == 2
    assert "model: no model given" in result.stderr
    assert not (tmp_path / "s").exists()


def test_infra_blessing_as_the_model_keeps_warmup(saved_model, tmp_path):
    warmup = warmup_file_bytes(tmp_path / "warmup.tfrecord")
    infra = infra_blessing_with_model(saved_model, tmp_path / "InfraValidator", warmup)
    result = push(None, tmp_path / "s", "--infra-blessing", str(infra))
    record = result.record
    assert record["pushed"] == 1 and "stamped_model" in record["model"]
    pushed = tmp_path / "s" / record["pushed_version"]
    assert (pushed / "assets.extra" / "tf_serving_warmup_requests").read_bytes() == warmup
    assert_serves_like(pushed, saved_model)


def test_infra_blessing_without_a_model_is_an_error(tmp_path):
    result = push(None, tmp_path / "s", "--infra-blessing", str(blessing(tmp_path / "i", "INFRA_BLESSED")))
    assert result.returncode == 2
    assert "--infra-blessing: no stamped_model/ directory" in result.stderr


def test_model_wins_over_stamped_model(saved_model, keras_saved_model, tmp_path):
    infra = infra_blessing_with_model(keras_saved_model, tmp_path / "InfraValidator", b"")
    result = push(saved_model, tmp_path / "s", "--infra-blessing", str(infra))
    record = result.record
    assert record["model"] == str(saved_model)


# --- model layouts ------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["Format-Serving", "serving_model_dir", "estimator"])
def test_tfx_layouts(saved_model, tmp_path, layout):
    model = tfx_model_artifact(saved_model, tmp_path / "Trainer", layout)
    result = push(model, tmp_path / "s")
    record = result.record
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "s" / record["pushed_version"] / "saved_model.pb").is_file()


def test_estimator_layout_with_two_exports_is_an_error(saved_model, tmp_path):
    model = tfx_model_artifact(saved_model, tmp_path / "Trainer", "estimator")
    (model / "Format-Serving" / "export" / "chicago-taxi" / "1700000000").mkdir()
    result = push(model, tmp_path / "s")
    assert result.returncode == 2
    assert "must hold exactly one timestamp directory, found ['1689000000', '1700000000']" in result.stderr


def test_directory_without_saved_model_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    result = push(tmp_path / "empty", tmp_path / "s")
    assert result.returncode == 2 and "model: no saved_model.pb or saved_model.pbtxt in" in result.stderr


def test_everything_is_copied(saved_model, tmp_path):
    (saved_model / "saved_model.pbtxt").write_text("# kept even though TFX's filter drops it\n")
    (saved_model / "assets.extra").mkdir()
    (saved_model / "assets.extra" / "tf_serving_warmup_requests").write_bytes(b"")
    (saved_model / "empty_dir").mkdir()
    result = push(saved_model, tmp_path / "s")
    record = result.record
    pushed = tmp_path / "s" / record["pushed_version"]

    def tree(root: Path) -> set[str]:
        return {str(p.relative_to(root)) for p in root.rglob("*")}

    assert tree(pushed) == tree(saved_model)
    for f in saved_model.rglob("*"):
        if f.is_file():
            assert (pushed / f.relative_to(saved_model)).read_bytes() == f.read_bytes()


# --- the gate's rules ---------------------------------------------------------------------


def test_conflicting_marker_files_mean_not_pushed(saved_model, tmp_path):
    result = push(saved_model, tmp_path / "s", "--model-blessing",
                  str(blessing(tmp_path / "b", "BLESSED", "NOT_BLESSED")))
    record = result.record
    assert record["pushed"] == 0
    assert record["reason"] == "--model-blessing signals disagree (marker file BLESSED, marker file NOT_BLESSED)"


def test_blessing_with_no_verdict_is_not_pushed(saved_model, tmp_path):
    result = push(saved_model, tmp_path / "s", "--model-blessing", str(blessing(tmp_path / "b")))
    record = result.record
    assert record["pushed"] == 0
    assert "--model-blessing gives no verdict (an Evaluator with no thresholds writes none)" in record["reason"]
    assert not (tmp_path / "s").exists()


def test_missing_blessing_directory_is_an_error(saved_model, tmp_path):
    result = push(saved_model, tmp_path / "s", "--model-blessing", str(tmp_path / "nope"))
    assert result.returncode == 2 and f"--model-blessing: {tmp_path / 'nope'} does not exist" in result.stderr


# --- versions -----------------------------------------------------------------------------


def test_existing_version_is_never_reused(saved_model, tmp_path):
    base = tmp_path / "s"
    taken = int(time.time()) + 30  # another push already holds this second (and the next ones)
    (base / str(taken)).mkdir(parents=True)
    (base / str(taken) / "saved_model.pb").write_bytes(b"another model")
    result = push(saved_model, base)
    record = result.record
    assert record["pushed_version"] == str(taken + 1)
    assert (base / str(taken) / "saved_model.pb").read_bytes() == b"another model"


def test_sequential_versions(saved_model, tmp_path):
    base = tmp_path / "s"
    (base / "3").mkdir(parents=True)
    (base / "not-a-version").mkdir()
    got = [push(saved_model, base, "--versioning", "SEQUENTIAL", "--force-new-version", "true").record[
        "pushed_version"] for _ in range(2)]
    assert got == ["4", "5"]


def test_destination_json_as_tfx_users_write_it(saved_model, tmp_path):
    dest = json.dumps({"filesystem": {"baseDirectory": str(tmp_path / "s"), "versioning": 1}})
    result = run_cli("--model", str(saved_model), "--push-destination", dest)
    record = json.loads(result.stdout)
    assert record["pushed_destination"] == str(tmp_path / "s" / record["pushed_version"])


def test_two_concurrent_pushes_get_different_versions(saved_model, tmp_path):
    base = tmp_path / "s"
    args = ["--model", str(saved_model), "--push-destination", str(base), "--force-new-version", "true"]
    procs = [start_cli(*args) for _ in range(4)]
    records = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    pushed = sorted(r["pushed_version"] for r in records)
    assert len(set(pushed)) == 4
    assert sorted(os.listdir(base)) == [".high-water", *pushed]
    for v in pushed:
        assert (base / v / "saved_model.pb").read_bytes() == (saved_model / "saved_model.pb").read_bytes()


# --- crashes ------------------------------------------------------------------------------


@pytest.mark.parametrize("kill_after", [0.05, 0.3, 0.8])
def test_killed_push_leaves_no_visible_version_and_next_push_cleans_up(saved_model, tmp_path, kill_after):
    # A large variables shard makes the copy slow enough to be killed in the middle of it.
    with open(saved_model / "variables" / "big.bin", "wb") as f:
        f.write(os.urandom(1024 * 1024) * 300)
    base = tmp_path / "s"
    proc = start_cli("--model", str(saved_model), "--push-destination", str(base), quiet=True)
    deadline = time.monotonic() + 60
    while not (base.exists() and any(n.startswith(".pushing-") for n in os.listdir(base))):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.005)
    time.sleep(kill_after)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    left = os.listdir(base)
    visible = [n for n in left if not n.startswith(".")]
    # Either the kill came before the rename (nothing visible) or after it (a complete version).
    for v in visible:
        assert (base / v / "saved_model.pb").read_bytes() == (saved_model / "saved_model.pb").read_bytes()
        assert (base / v / "variables" / "big.bin").stat().st_size == 300 * 1024 * 1024
    result = push(saved_model, base)
    assert result.returncode == 0
    assert not [n for n in os.listdir(base) if n.startswith(".") and n != ".high-water"], \
        "leftovers of the killed push remain"
    if not visible:
        assert "left by an interrupted push" in result.stderr


def test_live_push_staging_is_not_cleaned_by_another(saved_model, tmp_path):
    from component.push.local_base import LocalBase
    from component.model import Model
    from component.stores.progress import Progress

    store = LocalBase(tmp_path / "s")
    staging = store.stage(Model(str(saved_model), "test", (), ()), Progress("test", 0, 0))
    LocalBase(tmp_path / "s").clean_abandoned()  # another push starting now
    assert staging.directory.is_dir()
    store.discard(staging)
    assert os.listdir(tmp_path / "s") == []


# --- bad inputs ---------------------------------------------------------------------------


def test_symlink_out_of_the_model_is_refused(saved_model, tmp_path):
    (tmp_path / "secret").write_text("not part of the model")
    os.symlink(tmp_path / "secret", saved_model / "variables" / "leak")
    result = push(saved_model, tmp_path / "s")
    assert result.returncode == 2
    assert "model: symlink variables/leak points outside the model directory" in result.stderr
    assert not (tmp_path / "s").exists()


def test_symlink_inside_the_model_is_copied_as_a_file(saved_model, tmp_path):
    os.symlink("variables.index", saved_model / "variables" / "alias")
    result = push(saved_model, tmp_path / "s")
    record = result.record
    alias = tmp_path / "s" / record["pushed_version"] / "variables" / "alias"
    assert not alias.is_symlink() and alias.read_bytes() == (saved_model / "variables" / "variables.index").read_bytes()


@pytest.mark.parametrize(
    "dest, message",
    [
        ("{not json", "--push-destination: is not valid JSON"),
        ('{"filesystem": {"versioning": "AUTO"}}', "--push-destination's filesystem.base_directory: is missing or empty"),
        ('{"filesystem": {"base_directory": "/x", "versioning": "HOURLY"}}',
         "--push-destination's filesystem.versioning: expected one of AUTO, UNIX_TIMESTAMP, SEQUENTIAL, got 'HOURLY'"),
        ('{"filesystem": {"base_directory": "/x", "keep": 3}}', "--push-destination's filesystem: unknown field(s) ['keep']"),
        ('{"s3": {"bucket": "b"}}', '--push-destination: expected {"filesystem"'),
        ("abfs://container/models", "--push-destination: scheme abfs:// is not supported; use gs://, s3://, minio://"),
        ("gs://", "--push-destination: 'gs://' names no bucket"),
        ("s3://", "--push-destination: 's3://' names no bucket"),
        ("minio:///serving", "--push-destination: 'minio:///serving' names no bucket"),
    ],
)
def test_bad_destination(saved_model, dest, message):
    result = run_cli("--model", str(saved_model), "--push-destination", dest)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and message in errors[0]


def test_destination_inside_the_model_is_refused(saved_model, tmp_path):
    result = push(saved_model, saved_model / "serving")
    assert result.returncode == 2 and "--push-destination:" in result.stderr and "is inside the model directory" in result.stderr
    assert not (saved_model / "serving").exists()


def test_bad_blessing_metadata_value_is_an_error(saved_model, tmp_path):
    executor_input = {
        "inputs": {
            "artifacts": {
                "model": {"artifacts": [{"uri": str(saved_model), "metadata": {}}]},
                "model_blessing": {"artifacts": [{"uri": str(tmp_path / "b"), "metadata": {"blessed": "maybe"}}]},
            },
            "parameterValues": {"push_destination": str(tmp_path / "s")},
        },
        "outputs": {"outputFile": str(tmp_path / "out.json")},
    }
    result = run_cli("--executor-input", json.dumps(executor_input))
    assert result.returncode == 2
    assert "model_blessing.metadata.blessed: expected 1/0 or true/false, got 'maybe'" in result.stderr
    assert not (tmp_path / "s").exists() and not (tmp_path / "out.json").exists()


def test_write_failure_midway_exits_1_and_cleans_its_staging(saved_model, tmp_path):
    (saved_model / "variables" / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    base = tmp_path / "s"

    def limit_file_size() -> None:  # a full disk, for this process only: writes past 1 MiB fail
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (1024 * 1024, 1024 * 1024))

    result = subprocess.run([sys.executable, "-m", "component", "--model", str(saved_model), "--push-destination",
                             str(base)], cwd=REPO, capture_output=True, text=True, preexec_fn=limit_file_size)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "File too large" in errors[0] and errors[0].endswith("nothing was published")
    assert os.listdir(base) == []  # no version, no staging directory, no lock left behind


def test_a_push_waiting_for_another_to_publish_says_so_then_publishes(saved_model, tmp_path):
    base = tmp_path / "serving"
    assert run_cli("--model", str(saved_model), "--push-destination", str(base)).returncode == 0
    with open(base / ".high-water", "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as a push publishing there holds it
        waiting = start_cli("--model", str(saved_model), "--push-destination", str(base),
                            "--force-new-version", "true")
        time.sleep(3)
        assert waiting.poll() is None, waiting.communicate()
    _, stderr = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, stderr
    assert f"Another push is publishing at {base}; waiting for it to finish" in stderr
    assert len(numeric_versions(os.listdir(base))) == 2
