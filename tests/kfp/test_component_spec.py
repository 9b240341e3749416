"""component.yaml as KFP uses it: generated from component/spec.py, loaded by the kfp SDK, and its real
command line resolved by kfp.local's helpers and run as a process, as a KFP launcher runs it."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kfp import dsl

from tests.support.blessings import blessing, infra_blessing_with_model
from component import __version__
from component.kfp.options import INPUT_ARTIFACTS, OPTIONS, OUTPUT_ARTIFACT, REPORT_ARTIFACT, VERTEX_ARTIFACT
from tests.support.command import REPO
from tests.support.kfp_task import COMPONENT_YAML, prepare, run_on_host
from tests.support.savedmodels import serve, warmup_file_bytes

KFP_TYPES = {str: "STRING", bool: "BOOLEAN", int: "NUMBER_INTEGER"}


def assert_pushed(outputs: dict, base: Path) -> Path:
    version = outputs["pushed_version"]
    assert outputs["pushed"] is True and version.isdigit()
    assert outputs["pushed_destination"] == str(base / version)
    meta = outputs[OUTPUT_ARTIFACT].metadata
    assert meta["pushed"] == 1 and meta["pushed_destination"] == str(base / version)
    assert meta["pushed_version"] == version
    assert (base / version / "saved_model.pb").is_file()
    return base / version


# --- the spec ------------------------------------------------------------------------------------

def test_component_yaml_is_what_component_spec_compiles_to(tmp_path):
    from component.kfp import spec

    spec.write(tmp_path / "component.yaml")
    fresh, shipped = (yaml.safe_load(p.read_text()) for p in (tmp_path / "component.yaml", COMPONENT_YAML))
    for doc in (fresh, shipped):
        doc.pop("sdkVersion")  # which kfp compiled it, not what it says
    assert fresh == shipped, "component.yaml is out of date with component/spec.py; regenerate it: make component.yaml"


def test_the_push_path_never_imports_kfp():
    # The image has no kfp: the command must import and run with kfp made unimportable.
    code = ("import sys; sys.modules['kfp'] = None; import runpy; "
            "runpy.run_module('component', run_name='__main__', alter_sys=True)")
    result = subprocess.run([sys.executable, "-c", code, "--help"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "--executor-input" in result.stdout
    check = "import sys, component.kfp.cli; print(sorted(m for m in sys.modules if m.split('.')[0] == 'kfp'))"
    assert subprocess.run([sys.executable, "-c", check], cwd=REPO, capture_output=True, text=True).stdout == "[]\n"


def test_interface_has_every_option_with_its_default_type_and_description():
    component = yaml.safe_load(COMPONENT_YAML.read_text())["components"]["comp-model-pusher"]
    inputs, outputs = component["inputDefinitions"], component["outputDefinitions"]
    assert set(inputs["parameters"]) == {o.name for o in OPTIONS}
    for option in OPTIONS:
        param = inputs["parameters"][option.name]
        assert param["parameterType"] == KFP_TYPES[option.kind]
        assert param["description"].startswith(option.help[:40])
        if option.name == "push_destination":
            assert "defaultValue" not in param and not param.get("isOptional")
        else:
            assert param["isOptional"] and str(param["defaultValue"]).lower() in {option.default.lower(), f"{option.default}.0"}
    assert set(inputs["artifacts"]) == set(INPUT_ARTIFACTS)
    assert all(a["isOptional"] and a["description"] for a in inputs["artifacts"].values())
    assert inputs["artifacts"]["model"]["artifactType"]["schemaTitle"] == "system.Model"
    # Generic artifact inputs accept every artifact type, so any validator's blessing connects.
    assert inputs["artifacts"]["model_blessing"]["artifactType"]["schemaTitle"] == "system.Artifact"
    assert inputs["artifacts"]["infra_blessing"]["artifactType"]["schemaTitle"] == "system.Artifact"
    assert {n: p["parameterType"] for n, p in outputs["parameters"].items()} == {
        "pushed": "BOOLEAN", "pushed_destination": "STRING", "pushed_version": "STRING",
        "vertex_model_version": "STRING", "vertex_deployed_endpoint": "STRING"}
    assert {n: a["artifactType"]["schemaTitle"] for n, a in outputs["artifacts"].items()} == {
        OUTPUT_ARTIFACT: "system.Model", REPORT_ARTIFACT: "system.Markdown", VERTEX_ARTIFACT: "google.VertexModel"}
    assert all(p["description"] for p in [*outputs["parameters"].values(), *outputs["artifacts"].values()])


def test_the_container_gets_the_whole_executor_input_and_the_versioned_image():
    container = yaml.safe_load(COMPONENT_YAML.read_text())["deploymentSpec"]["executors"]["exec-model-pusher"]["container"]
    assert container["command"] == ["python", "-m", "component"]
    assert container["args"] == ["--executor-input", "{{$}}"]  # no IfPresent: optional artifacts come in {{$}}
    assert container["image"].endswith(f":{__version__}")


# --- the real command line, as KFP runs it --------------------------------------------------------

def test_blessed_model_is_pushed_and_serves(saved_model, tmp_path):
    task = prepare({
        "model": dsl.Model(uri=str(saved_model)),
        # KFP delivers MLMD properties as floats; a metadata-only blessing has no directory.
        "model_blessing": dsl.Artifact(uri=str(tmp_path / "blessing"), metadata={"blessed": 1.0}),
        "push_destination": str(tmp_path / "serving"),
    }, tmp_path / "task")
    outputs = run_on_host(task)
    pushed = assert_pushed(outputs, tmp_path / "serving")
    assert serve(pushed, [[1.0, 2.0, 3.0]])["y"].tolist() == [[2.5, 4.5, 6.5]]
    assert (tmp_path / "task" / OUTPUT_ARTIFACT / "saved_model.pb").is_file()  # TFX's archive copy
    assert (tmp_path / "task" / "pushed").read_text() == "true"  # the output parameter file as well
    assert outputs["pushed_version"] in (tmp_path / "task" / REPORT_ARTIFACT).read_text()  # the UI's Markdown


def test_not_blessed_writes_nothing_and_succeeds(saved_model, tmp_path):
    task = prepare({
        "model": dsl.Model(uri=str(saved_model)),
        "model_blessing": dsl.Artifact(uri=str(blessing(tmp_path / "blessing", "NOT_BLESSED"))),
        "push_destination": str(tmp_path / "serving"),
    }, tmp_path / "task")
    outputs = run_on_host(task)
    assert (outputs["pushed"], outputs["pushed_destination"], outputs["pushed_version"]) == (False, "", "")
    meta = outputs[OUTPUT_ARTIFACT].metadata
    assert meta["pushed"] == 0 and "NOT blessed" in meta["reason"]
    assert not (tmp_path / "serving").exists()


def test_no_blessing_pushes_unvalidated(saved_model, tmp_path):
    task = prepare({"model": dsl.Model(uri=str(saved_model)), "push_destination": str(tmp_path / "serving"),
                    "versioning": "SEQUENTIAL"}, tmp_path / "task")
    outputs = run_on_host(task)
    assert assert_pushed(outputs, tmp_path / "serving").name == "1"
    assert "no blessing" in outputs[OUTPUT_ARTIFACT].metadata["reason"]


def test_infra_blessing_warmup_model_is_pushed_with_its_warmup_requests(saved_model, tmp_path):
    warmup = warmup_file_bytes(tmp_path / "warmup.tfrecord")
    infra = infra_blessing_with_model(saved_model, tmp_path / "infra", warmup)
    task = prepare({
        "infra_blessing": dsl.Artifact(uri=str(infra), metadata={"blessed": 1.0, "has_model": 1.0}),
        "push_destination": str(tmp_path / "serving"),
    }, tmp_path / "task")
    pushed = assert_pushed(run_on_host(task), tmp_path / "serving")
    assert (pushed / "assets.extra" / "tf_serving_warmup_requests").read_bytes() == warmup


@pytest.mark.parametrize("scheme, mount", [("gs://", "gcs"), ("s3://", "s3"), ("minio://", "minio")])
def test_remote_artifacts_are_read_and_written_at_their_mounted_paths(saved_model, tmp_path, scheme, mount):
    root = tmp_path / "root"  # stands in for / inside the container, where KFP puts /gcs, /s3, /minio
    shutil.copytree(saved_model, root / mount / "bucket" / "trainer" / "model")
    blessing(root / mount / "bucket" / "evaluator" / "blessing", "BLESSED")
    pushed_model_uri = f"{scheme}bucket/pipeline-root/pusher/{OUTPUT_ARTIFACT}"
    task = prepare({
        "model": dsl.Model(uri=f"{scheme}bucket/trainer/model"),
        "model_blessing": dsl.Artifact(uri=f"{scheme}bucket/evaluator/blessing"),
        "push_destination": str(tmp_path / "serving"),
    }, tmp_path / "task", pushed_model_uri=pushed_model_uri)
    outputs = run_on_host(task, mount_root=root)
    assert_pushed(outputs, tmp_path / "serving")
    assert outputs[OUTPUT_ARTIFACT].uri == pushed_model_uri  # reported as given, never rewritten
    assert (root / mount / "bucket" / "pipeline-root" / "pusher" / OUTPUT_ARTIFACT / "saved_model.pb").is_file()
