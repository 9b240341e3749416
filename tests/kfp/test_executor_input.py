"""The KFP front: blessings as MLMD metadata, optional artifacts absent or empty, the output file."""

import json
from pathlib import Path

import pytest

from tests.support.command import run_cli
from tests.support.executor_inputs import artifact, executor_input


def run(tmp_path: Path, artifacts: dict, params: dict | None = None):
    result = run_cli("--executor-input", json.dumps(executor_input(tmp_path, artifacts, params)))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # the record goes to KFP's output file, not to the log
    return json.loads((tmp_path / "executor_output.json").read_text())


@pytest.mark.parametrize("value, pushed", [(1.0, 1), (1, 1), (True, 1), ("1", 1), ("true", 1),
                                           (0.0, 0), (0, 0), (False, 0), ("0", 0), ("false", 0)])
def test_blessed_metadata_as_kfp_and_users_write_it(saved_model, tmp_path, value, pushed):
    # The metadata-only blessing has no directory at all: KFP does not create one for it.
    out = run(tmp_path, {"model": artifact(saved_model), "model_blessing": artifact(tmp_path / "none", blessed=value)})
    meta = out["artifacts"]["pushed_model"]["artifacts"][0]["metadata"]
    assert meta["pushed"] == pushed
    assert (tmp_path / "serving").exists() == bool(pushed)


def test_output_file_and_parameters(saved_model, tmp_path):
    out = run(tmp_path, {"model": artifact(saved_model), "model_blessing": artifact(tmp_path / "b", blessed=1.0),
                         "infra_blessing": {"artifacts": []}})  # an empty list: not connected
    art = out["artifacts"]["pushed_model"]["artifacts"][0]
    assert art["name"] == "projects/p/artifacts/42" and art["uri"] == str(tmp_path / "pushed_model")
    meta = art["metadata"]
    version = meta["pushed_version"]
    assert meta["pushed"] == 1 and meta["pushed_destination"] == str(tmp_path / "serving" / version)
    assert out["parameterValues"] == {"pushed": True, "pushed_destination": meta["pushed_destination"],
                                      "pushed_version": version}
    assert (tmp_path / "params" / "pushed").read_text() == "true"
    assert (tmp_path / "params" / "pushed_version").read_text() == version
    assert (tmp_path / "pushed_model" / "saved_model.pb").is_file()


def test_not_pushed_output_has_no_nulls(saved_model, tmp_path):
    out = run(tmp_path, {"model": artifact(saved_model), "model_blessing": artifact(tmp_path / "b", blessed=0)})
    meta = out["artifacts"]["pushed_model"]["artifacts"][0]["metadata"]
    assert meta == {"pushed": 0, "pushed_destination": "", "pushed_version": "", "reused": 0,
                    "reason": "model_blessing says NOT blessed (metadata blessed=0)"}
    assert None not in out["parameterValues"].values()
    assert list((tmp_path / "pushed_model").iterdir()) == []  # there, empty: KFP's launcher uploads it


def test_metadata_and_marker_file_disagreeing(saved_model, tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "NOT_BLESSED").touch()
    out = run(tmp_path, {"model": artifact(saved_model), "model_blessing": artifact(tmp_path / "b", blessed=1.0)})
    meta = out["artifacts"]["pushed_model"]["artifacts"][0]["metadata"]
    assert meta["pushed"] == 0
    assert meta["reason"] == "model_blessing signals disagree (metadata blessed=1.0, marker file NOT_BLESSED)"


def test_infra_blessing_has_model_zero(tmp_path):
    result = run_cli("--executor-input", json.dumps(executor_input(
        tmp_path, {"infra_blessing": artifact(tmp_path / "i", blessed=1, has_model=0)})))
    assert result.returncode == 2
    assert "infra_blessing: does not contain a model (has_model=0)" in result.stderr


def test_gs_uri_is_read_from_its_mounted_path(saved_model, tmp_path):
    mounted = tmp_path / "root" / "gcs" / "bucket" / "Trainer" / "model"
    mounted.parent.mkdir(parents=True)
    saved_model.rename(mounted)
    doc = executor_input(tmp_path, {"model": artifact("gs://bucket/Trainer/model")})
    result = run_cli("--executor-input", json.dumps(doc), env={"MODEL_PUSHER_MOUNT_ROOT": str(tmp_path / "root")})
    assert result.returncode == 0, result.stderr
    assert str(mounted) in result.stderr


def test_malformed_executor_input(tmp_path):
    result = run_cli("--executor-input", "{{$}}")
    assert result.returncode == 2 and "executor_input: is not valid JSON" in result.stderr
