"""The pusher from component.yaml in a pipeline run by kfp.local's DockerRunner with the built image, as
a new KFP user first tries it: importers of a model and a blessing -> the pusher -> a step, in the
same image, that uses `pushed_version`.

docker/check_image.sh builds the image, starts podman's Docker API service and runs these tests with
MODEL_PUSHER_IMAGE and DOCKER_HOST set; a plain `pytest tests` does not collect them
(tests/conftest.py). kfp.local mounts only the pipeline root into a container, at the same path, so
the inputs and the serving directory live under it. The task directories kfp.local makes belong to
whoever runs the pipeline on the host, not to any user of the image. And kfp.local reports a task
whose container was removed before its exit code was read as SUCCESS, so these tests check what the
steps wrote, never the status.
"""

import os
import shutil
from pathlib import Path
from typing import NamedTuple

import docker.api.client
import docker.errors
import pytest
from kfp import dsl, local

from tests.support.blessings import blessing
from component.kfp.options import OUTPUT_ARTIFACT
from pipelines.pusher import model_pusher
from tests.support.savedmodels import serve

IMAGE = os.environ.get("MODEL_PUSHER_IMAGE", "")

# The step after the push: runs in the pusher's own image (containers here have no network to pip
# install kfp), reads the output parameters and checks the published version from inside.
USE_VERSION = """
import os, sys
pushed, version, destination, seen = sys.argv[1:]
if pushed == "true":
    files = sorted(os.listdir(destination))
    line = f"version {version} at {destination}: {', '.join(files)}"
else:
    line = f"not pushed (pushed={pushed}, version={version!r})"
os.makedirs(os.path.dirname(seen), exist_ok=True)
with open(seen, "w") as f:
    f.write(line)
"""


@dsl.container_component
def use_version(pushed: bool, pushed_version: str, pushed_destination: str, seen: dsl.OutputPath(str)):
    return dsl.ContainerSpec(image=IMAGE, command=["python", "-c", USE_VERSION],
                             args=[pushed, pushed_version, pushed_destination, seen])


class Outputs(NamedTuple):
    pushed_model: dsl.Model
    seen: str


@dsl.pipeline(name="push-with-kfp-local")
def push_and_use(model_uri: str, blessing_uri: str, push_destination: str) -> Outputs:
    model = dsl.importer(artifact_uri=model_uri, artifact_class=dsl.Model)
    verdict = dsl.importer(artifact_uri=blessing_uri, artifact_class=dsl.Artifact)
    push = model_pusher(model=model.output, model_blessing=verdict.output, push_destination=push_destination)
    used = use_version(pushed=push.outputs["pushed"], pushed_version=push.outputs["pushed_version"],
                       pushed_destination=push.outputs["pushed_destination"])
    return Outputs(pushed_model=push.outputs[OUTPUT_ARTIFACT], seen=used.outputs["seen"])


@pytest.fixture
def podman_answers_as_docker(monkeypatch):
    """Docker answers 404 for a container that is gone; podman 4.3 (Debian 12) answers 500 "does not
    exist in database: no such container" while it is removing one (the error podman issue 17341
    reports for other calls). kfp.local removes each container as it exits (auto_remove) and expects
    the 404 when it asks later (it then skips the logs and takes the exit code as 0), so with podman
    a quick step, or a slow podman, fails it. This turns that one answer into the error docker-py
    makes of Docker's 404; everything else reaches kfp.local as podman sent it."""
    make_error = docker.api.client.create_api_error_from_http_exception

    def as_docker(e):
        try:
            make_error(e)  # raises the error it makes
        except docker.errors.APIError as error:
            if error.status_code == 500 and "no such container" in (error.explanation or ""):
                raise docker.errors.NotFound(e, response=e.response, explanation=error.explanation) from e
            raise

    monkeypatch.setattr(docker.api.client, "create_api_error_from_http_exception", as_docker)


@pytest.fixture
def pipeline_root(tmp_path, podman_answers_as_docker) -> Path:
    root = tmp_path / "pipeline_root"
    root.mkdir()
    # As kfp.local is meant to be used: no arguments to the runner, whatever the image's user.
    local.init(runner=local.DockerRunner(), pipeline_root=str(root))
    return root


@pytest.mark.parametrize("verdict", ["BLESSED", "NOT_BLESSED"])
def test_kfp_local_docker_runner_pushes_and_the_next_step_uses_the_version(saved_model, pipeline_root, verdict):
    model = Path(shutil.copytree(saved_model, pipeline_root / "inputs" / "model"))
    marker = blessing(pipeline_root / "inputs" / "blessing", verdict)
    base = pipeline_root / "serving" / "my_model"

    outputs = push_and_use(model_uri=str(model), blessing_uri=str(marker), push_destination=str(base)).outputs

    archive, seen, meta = outputs["pushed_model"], outputs["seen"], outputs["pushed_model"].metadata
    assert Path(archive.uri).is_relative_to(pipeline_root)
    if verdict == "BLESSED":
        version = meta["pushed_version"]
        published = base / version
        assert meta["pushed"] == 1 and meta["pushed_destination"] == str(published)
        assert sorted(p.name for p in base.iterdir()) == [".high-water", version]
        assert serve(published, [[1.0, 2.0, 3.0]])["y"].tolist() == [[2.5, 4.5, 6.5]]
        assert (Path(archive.uri) / "saved_model.pb").read_bytes() == (model / "saved_model.pb").read_bytes()
        files = ", ".join(sorted(p.name for p in published.iterdir()))
        assert seen == f"version {version} at {published}: {files}"
        assert "saved_model.pb" in files
    else:
        assert meta["pushed"] == 0 and "NOT_BLESSED" in meta["reason"]
        assert not base.exists()
        assert seen == "not pushed (pushed=false, version='')"
