"""What TFX's Pusher lacks, on a local destination: validation, re-push, retention, rollback, report."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.support.blessings import blessing
from tests.support.command import run_cli
from tests.support.destinations import push
from tests.support.savedmodels import make_module_model, serve, warmup_file_bytes

X = [[1.0, 2.0, 3.0]]


@pytest.fixture(scope="module")
def other_model(tmp_path_factory) -> Path:
    """A second model: same layout, different weights (scale 3 instead of 2)."""
    return make_module_model(tmp_path_factory.mktemp("other") / "model", scale=3.0)


# --- validation -----------------------------------------------------------------------------


def test_renamed_signature_is_refused_before_anything_is_written(saved_model, tmp_path):
    result = push(saved_model, tmp_path / "s", "--required-signatures", "serving_default,predict")
    assert result.returncode == 2
    assert "model: required signature 'predict' is missing; the model has: 'serving_default'" in result.stderr
    assert not (tmp_path / "s").exists()


def test_no_required_signature(saved_model, tmp_path):
    result = push(saved_model, tmp_path / "s", "--required-signatures", "")
    record = result.record
    assert record["pushed"] == 1


def test_corrupt_warmup_file_is_refused(saved_model, tmp_path):
    warmup = bytearray(warmup_file_bytes(tmp_path / "w"))
    warmup[-6] ^= 0xFF
    (saved_model / "assets.extra").mkdir()
    (saved_model / "assets.extra" / "tf_serving_warmup_requests").write_bytes(bytes(warmup))
    result = push(saved_model, tmp_path / "s")
    assert result.returncode == 2
    assert "model: assets.extra/tf_serving_warmup_requests is not a readable TFRecord file" in result.stderr


def test_deep_validation_loads_with_tensorflow(saved_model, tmp_path):
    result = push(saved_model, tmp_path / "s", "--deep-validation", "true")
    record = result.record
    assert record["pushed"] == 1 and "TensorFlow loaded the model" in result.stderr
    shutil.rmtree(saved_model / "variables")
    result = push(saved_model, tmp_path / "s2", "--deep-validation", "true")
    assert result.returncode == 2 and "model: TensorFlow cannot load the SavedModel" in result.stderr
    assert not (tmp_path / "s2").exists()


# --- idempotent re-push -------------------------------------------------------------------


def test_retried_push_reuses_its_version(saved_model, tmp_path):
    base = tmp_path / "s"
    first = push(saved_model, base).record
    result = push(saved_model, base)
    again = result.record
    assert again["pushed"] == 1 and again["reused"] == 1
    assert again["pushed_version"] == first["pushed_version"]
    assert sorted(p.name for p in base.iterdir()) == [".high-water", first["pushed_version"]]
    assert "already holds exactly this model" in result.stderr


def test_force_new_version_and_changed_model_make_new_versions(saved_model, other_model, tmp_path):
    base = tmp_path / "s"
    first = push(saved_model, base).record
    forced = push(saved_model, base, "--force-new-version", "true").record
    changed = push(other_model, base).record
    assert forced["reused"] == 0 and changed["reused"] == 0
    assert int(first["pushed_version"]) < int(forced["pushed_version"]) < int(changed["pushed_version"])


def test_same_size_different_bytes_is_not_reused(saved_model, tmp_path):
    base = tmp_path / "s"
    first = push(saved_model, base).record
    data = bytearray((saved_model / "variables" / "variables.data-00000-of-00001").read_bytes())
    data[-1] ^= 1
    (saved_model / "variables" / "variables.data-00000-of-00001").write_bytes(bytes(data))
    second = push(saved_model, base).record
    assert second["reused"] == 0 and second["pushed_version"] != first["pushed_version"]


# --- retention ----------------------------------------------------------------------------


def test_retention_keeps_the_newest_n(saved_model, tmp_path):
    base = tmp_path / "s"
    (base / "assets-not-a-version").mkdir(parents=True)
    (base / ".hidden").mkdir()
    (base / "1").mkdir()  # incomplete (no saved_model.pb): perhaps another push filling it; left alone
    for _ in range(4):
        push(saved_model, base, "--force-new-version", "true", "--versioning", "SEQUENTIAL")
    result = push(saved_model, base, "--force-new-version", "true", "--versioning", "SEQUENTIAL",
                  "--keep-versions", "2")
    record = result.record
    assert record["pushed_version"] == "6" and record["removed_versions"] == [4, 3, 2]
    assert sorted(p.name for p in base.iterdir()) == sorted([".hidden", ".high-water", "assets-not-a-version", "1", "5", "6"])
    assert "Retention (--keep-versions 2): removed versions 4, 3, 2" in result.stderr


# --- list and rollback --------------------------------------------------------------------


def test_list_versions(saved_model, other_model, tmp_path):
    base = tmp_path / "s"
    push(saved_model, base, "--versioning", "SEQUENTIAL")
    push(other_model, base, "--versioning", "SEQUENTIAL")
    (base / "7").mkdir()  # a half-made version someone copied by hand
    listed = json.loads(run_cli("list", "--push-destination", str(base), "--json").stdout)
    assert [(v["version"], v["complete"]) for v in listed] == [(1, True), (2, True), (7, False)]
    assert listed[0]["files"] == len([f for f in saved_model.rglob("*") if f.is_file()])
    table = run_cli("list", "--push-destination", str(base)).stdout.splitlines()
    assert table[0].split() == ["version", "modified", "(UTC)", "files", "MB", "complete", "what"]
    assert table[-1].split()[0] == "7" and table[-1].split()[-2:] == ["NO", "-"]
    assert [line.split()[-1] for line in table[1:3]] == ["pushed", "pushed"]


def test_rollback_republishes_the_previous_version(saved_model, other_model, tmp_path):
    base = tmp_path / "s"
    good = push(saved_model, base).record
    bad = push(other_model, base).record
    result = run_cli("rollback", "--push-destination", str(base))
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert int(record["pushed_version"]) > int(bad["pushed_version"])
    assert record["model"] == str(base / good["pushed_version"])
    restored = base / record["pushed_version"]
    np.testing.assert_allclose(serve(restored, X)["y"], serve(saved_model, X)["y"])
    assert not np.allclose(serve(restored, X)["y"], serve(other_model, X)["y"])


@pytest.mark.parametrize("to, message", [("999", "rollback: version 999 is not a complete version"),
                                         (None, "is already the newest version")])
def test_rollback_bad_target(saved_model, other_model, tmp_path, to, message):
    base = tmp_path / "s"
    push(saved_model, base, "--versioning", "SEQUENTIAL")
    push(other_model, base, "--versioning", "SEQUENTIAL")
    result = run_cli("rollback", "--push-destination", str(base), "--to", to or "2")
    assert result.returncode == 2 and message in result.stderr


# --- report -------------------------------------------------------------------------------


def test_push_report(saved_model, tmp_path):
    report = tmp_path / "report.md"
    result = push(saved_model, tmp_path / "s", "--model-blessing", str(blessing(tmp_path / "b", "BLESSED")),
                  "--push-report", str(report))
    record = result.record
    text = report.read_text()
    assert text.startswith(f"# Model push: pushed version {record['pushed_version']}\n")
    assert "| --model-blessing | blessed | marker file BLESSED |" in text
    assert "| serving_default | tensorflow/serving/predict | x: float32 [?, 3] | y: float32 [?, 3] |" in text
    assert "signature serving_default(x: float32 [?, 3]) -> y: float32 [?, 3]" in result.stderr


def test_not_pushed_report(saved_model, tmp_path):
    report = tmp_path / "report.md"
    push(saved_model, tmp_path / "s", "--model-blessing", str(blessing(tmp_path / "b", "NOT_BLESSED")),
         "--push-report", str(report))
    assert report.read_text().startswith("# Model push: NOT pushed\n\n**Why:** --model-blessing says NOT blessed")
