"""The image, run with no network: as a laptop user runs it (README), and component.yaml's command
as KFP runs it, as root (the image's default) and as a non-root Kubernetes runAsUser.

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

from tests.support.blessings import blessing
from component.kfp.options import OUTPUT_ARTIFACT
from tests.support.kfp_task import Task, prepare
from tests.support.savedmodels import serve

IMAGE = os.environ.get("MODEL_PUSHER_IMAGE", "")
PODMAN = shlex.split(os.environ.get("MODEL_PUSHER_PODMAN", "podman"))
RUN = [*PODMAN, "run", "--rm", *shlex.split(os.environ.get("MODEL_PUSHER_PODMAN_RUN", "--network none"))]
LAPTOP_USER = 1000  # a typical laptop account
K8S_USER = "10001"  # securityContext.runAsUser with no runAsGroup: the runtime gives it group 0


def own(path: Path, uid: int) -> Path:
    """Give a mounted directory tree to the container's user, as a laptop user's own files are."""
    for p in [path, *path.rglob("*")]:
        os.chown(p, uid, uid)
    return path


def container(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*RUN, *args], capture_output=True, text=True, timeout=timeout)


def test_image_runs_as_root_by_default_with_no_entrypoint():
    inspect = subprocess.run([*PODMAN, "image", "inspect", IMAGE], capture_output=True, text=True, check=True)
    config = json.loads(inspect.stdout)[0]["Config"]
    assert config["User"] == "0:0"  # kfp.local's DockerRunner runs it as is on the host user's directories
    assert not config.get("Entrypoint")  # kfp.local's DockerRunner would prepend it to the command


def test_image_has_what_gcs_s3_and_vertex_need_and_neither_tensorflow_nor_kfp():
    # All are imported lazily, so nothing else would notice their absence.
    code = ("import importlib.util as u, google.cloud.storage, component.stores.gcs, component.stores.s3; "
            "from awscrt import checksums; "
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


PUSHED_MODEL_URI = f"gs://bucket/root/pusher/{OUTPUT_ARTIFACT}"


def kfp_task(saved_model: Path, gcs: Path, serving: Path, task_root: Path, blessed: bool) -> Task:
    """component.yaml's command resolved for gs:// artifacts (laid out under `gcs`, for /gcs) and a
    destination at /serving/my_model; KFP's output files go under `task_root`, at the same path inside."""
    shutil.copytree(saved_model, gcs / "bucket" / "trainer" / "model")
    blessing(gcs / "bucket" / "evaluator" / "blessing", "BLESSED" if blessed else "NOT_BLESSED")
    serving.mkdir()
    task_root.mkdir()
    task = prepare({
        "model": dsl.Model(uri="gs://bucket/trainer/model"),
        "model_blessing": dsl.Artifact(uri="gs://bucket/evaluator/blessing", metadata={"blessed": float(blessed)}),
        "push_destination": "/serving/my_model",
    }, task_root, pushed_model_uri=PUSHED_MODEL_URI)
    assert task.image == IMAGE
    return task


def run_as_kfp(task: Task, gcs: Path, serving: Path, task_root: Path) -> dict:
    """The command in the image as KFP runs it by default: artifacts at /gcs as KFP's launcher puts
    them, the destination mounted."""
    result = container("-v", f"{gcs}:/gcs", "-v", f"{serving}:/serving", "-v", f"{task_root}:{task_root}",
                       IMAGE, *task.command)
    assert result.returncode == 0, result.stderr
    return task.outputs()


@pytest.mark.parametrize("blessed", [True, False])
def test_component_yaml_command_line_in_the_image(saved_model, tmp_path, blessed):
    gcs, serving, task_root = tmp_path / "gcs", tmp_path / "serving", tmp_path / "task"
    task = kfp_task(saved_model, gcs, serving, task_root, blessed)
    outputs = run_as_kfp(task, gcs, serving, task_root)
    meta = outputs[OUTPUT_ARTIFACT].metadata
    assert outputs[OUTPUT_ARTIFACT].uri == PUSHED_MODEL_URI
    assert outputs["pushed"] is blessed and meta["pushed"] == int(blessed)
    if blessed:
        version = outputs["pushed_version"]
        assert outputs["pushed_destination"] == meta["pushed_destination"] == f"/serving/my_model/{version}"
        assert (serving / "my_model" / version / "saved_model.pb").is_file()
        assert (gcs / "bucket" / "root" / "pusher" / OUTPUT_ARTIFACT / "saved_model.pb").is_file()
    else:
        assert (outputs["pushed_destination"], outputs["pushed_version"]) == ("", "")
        assert not (serving / "my_model").exists()


# What KFP's launcher does in the container, as the container's user, when /gcs is not a volume (KFP
# before 2.3): download the inputs under /gcs, run the command, upload the outputs.
LAUNCHER = """
import shutil, subprocess, sys
shutil.copytree("/inputs/bucket", "/gcs/bucket")
subprocess.run(sys.argv[1:], check=True)
shutil.copytree("/gcs/bucket/root", "/uploaded/root")
"""


def test_component_yaml_command_line_as_a_kubernetes_run_as_user(saved_model, tmp_path):
    inputs, serving, task_root, uploaded = tmp_path / "inputs", tmp_path / "serving", tmp_path / "task", tmp_path / "up"
    task = kfp_task(saved_model, inputs, serving, task_root, blessed=True)
    uploaded.mkdir()
    for scratch in (serving, task_root, uploaded):  # volumes the pod can write: emptyDir, or a PVC with fsGroup
        scratch.chmod(0o777)
    result = container(
        "--user", K8S_USER, "-v", f"{inputs}:/inputs:ro", "-v", f"{serving}:/serving",
        "-v", f"{task_root}:{task_root}", "-v", f"{uploaded}:/uploaded", IMAGE, "python", "-c", LAUNCHER, *task.command,
    )
    assert result.returncode == 0, result.stderr
    outputs = task.outputs()
    version = outputs["pushed_version"]
    assert outputs["pushed"] is True and outputs["pushed_destination"] == f"/serving/my_model/{version}"
    published = serving / "my_model" / version
    assert published.stat().st_uid == int(K8S_USER)
    assert serve(published, [[1.0, 2.0, 3.0]])["y"].tolist() == [[2.5, 4.5, 6.5]]
    archive = uploaded / "root" / "pusher" / OUTPUT_ARTIFACT
    assert (archive / "saved_model.pb").stat().st_uid == int(K8S_USER)
