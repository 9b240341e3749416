"""The image, run with no network: as a laptop user runs it (README) and as KFP runs component.yaml.

docker/check_image.sh builds the image, then runs these tests with MODEL_PUSHER_IMAGE (and the
podman command line this machine needs) set; a plain `pytest tests` does not collect them
(tests/conftest.py), since without the image there is nothing to test.
"""

import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from kfp import dsl

from blessings import blessing
from component.request import OUTPUT_ARTIFACT
from kfp_task import Task, prepare
from savedmodels import serve

IMAGE = os.environ.get("MODEL_PUSHER_IMAGE", "")
PODMAN = shlex.split(os.environ.get("MODEL_PUSHER_PODMAN", "podman"))
RUN = [*PODMAN, "run", "--rm", *shlex.split(os.environ.get("MODEL_PUSHER_PODMAN_RUN", "--network none"))]
IMAGE_USER = 10001  # the Dockerfile's USER
LAPTOP_USER = 1000  # a typical laptop account, not the image's own user


def own(path: Path, uid: int) -> Path:
    """Give a mounted directory tree to the container's user, as a laptop user's own files are."""
    for p in [path, *path.rglob("*")]:
        os.chown(p, uid, uid)
    return path


def container(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*RUN, *args], capture_output=True, text=True, timeout=timeout)


def test_image_runs_as_a_numeric_non_root_user_with_no_entrypoint():
    inspect = subprocess.run([*PODMAN, "image", "inspect", IMAGE], capture_output=True, text=True, check=True)
    config = json.loads(inspect.stdout)[0]["Config"]
    assert config["User"] == f"{IMAGE_USER}:{IMAGE_USER}"
    assert not config.get("Entrypoint")  # kfp.local's DockerRunner would prepend it to the command


def test_image_has_what_a_gcs_push_and_a_vertex_registration_need_and_neither_tensorflow_nor_kfp():
    # Both are imported lazily, so nothing else would notice their absence.
    code = ("import importlib.util as u, google.cloud.storage; "
            "from google.cloud.aiplatform_v1 import EndpointServiceClient, ModelServiceClient; "
            "print([m for m in ('tensorflow', 'keras', 'kfp') if u.find_spec(m)])")
    result = container(IMAGE, "python", "-c", code)
    assert (result.returncode, result.stdout) == (0, "[]\n"), result.stderr


def test_docker_run_on_a_laptop_as_the_readme_shows(saved_model, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(saved_model, work / "model")
    blessing(work / "blessing", "BLESSED")
    own(work, LAPTOP_USER)
    # README: docker run --rm --network none --user "$(id -u):$(id -g)" -v "$PWD:/work" -w /work IMAGE python -m component ...
    result = container(
        "--user", f"{LAPTOP_USER}:{LAPTOP_USER}", "-v", f"{work}:/work", "-w", "/work", IMAGE,
        "python", "-m", "component", "--model", "model", "--model-blessing", "blessing",
        "--push-destination", '{"filesystem": {"base_directory": "serving/my_model", "versioning": "AUTO"}}',
        "--pushed-model", "pushed_model",
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    version = record["pushed_version"]
    assert record["pushed"] == 1 and record["pushed_destination"] == f"serving/my_model/{version}"
    pushed = work / "serving" / "my_model" / version
    assert pushed.stat().st_uid == LAPTOP_USER  # the user's own files, not root's
    assert serve(pushed, [[1.0, 2.0, 3.0]])["y"].tolist() == [[2.5, 4.5, 6.5]]
    assert (work / "pushed_model" / "saved_model.pb").is_file()


def run_as_kfp(task: Task, gcs: Path, serving: Path, task_root: Path) -> dict:
    """component.yaml's resolved command in the image as its own user: artifacts at /gcs as KFP's
    launcher puts them, the destination mounted, KFP's output files at the same path inside."""
    assert task.image == IMAGE
    result = container(
        "-v", f"{own(gcs, IMAGE_USER)}:/gcs", "-v", f"{own(serving, IMAGE_USER)}:/serving",
        "-v", f"{own(task_root, IMAGE_USER)}:{task_root}", IMAGE, *task.command,
    )
    assert result.returncode == 0, result.stderr
    return task.outputs()


@pytest.mark.parametrize("blessed", [True, False])
def test_component_yaml_command_line_in_the_image(saved_model, tmp_path, blessed):
    gcs, serving, task_root = tmp_path / "gcs", tmp_path / "serving", tmp_path / "task"
    shutil.copytree(saved_model, gcs / "bucket" / "trainer" / "model")
    blessing(gcs / "bucket" / "evaluator" / "blessing", "BLESSED" if blessed else "NOT_BLESSED")
    serving.mkdir()
    task_root.mkdir()
    pushed_model_uri = f"gs://bucket/root/pusher/{OUTPUT_ARTIFACT}"
    task = prepare({
        "model": dsl.Model(uri="gs://bucket/trainer/model"),
        "model_blessing": dsl.Artifact(uri="gs://bucket/evaluator/blessing", metadata={"blessed": float(blessed)}),
        "push_destination": "/serving/my_model",
    }, task_root, pushed_model_uri=pushed_model_uri)
    outputs = run_as_kfp(task, gcs, serving, task_root)
    meta = outputs[OUTPUT_ARTIFACT].metadata
    assert outputs[OUTPUT_ARTIFACT].uri == pushed_model_uri
    assert outputs["pushed"] is blessed and meta["pushed"] == int(blessed)
    if blessed:
        version = outputs["pushed_version"]
        assert outputs["pushed_destination"] == meta["pushed_destination"] == f"/serving/my_model/{version}"
        assert (serving / "my_model" / version / "saved_model.pb").is_file()
        assert (gcs / "bucket" / "root" / "pusher" / OUTPUT_ARTIFACT / "saved_model.pb").is_file()
    else:
        assert (outputs["pushed_destination"], outputs["pushed_version"]) == ("", "")
        assert not (serving / "my_model").exists()
