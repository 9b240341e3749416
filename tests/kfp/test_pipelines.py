"""The example pipelines compile with the kfp compiler, the pusher's inputs connect to what users feed
it, and the train -> evaluate -> push example's own steps, run for real, end in a push."""

import subprocess
import sys

import pytest
import yaml
from kfp import compiler, dsl
from kfp.dsl import Artifact, ClassificationMetrics, Dataset, Metrics, Model, Output
from kfp.dsl.types.type_utils import InconsistentTypeException

from component.kfp.options import OUTPUT_ARTIFACT
from component.kfp.spec import IMAGE
from tests.support.command import REPO
from tests.support.kfp_task import prepare, run_on_host
from pipelines.compile import COMPILED, compile_all
from pipelines.pusher import model_pusher
from pipelines.train_evaluate_push import evaluate, train
from tests.support.savedmodels import serve


def test_every_example_compiles_to_where_the_readme_says(tmp_path):
    assert COMPILED == REPO / "pipelines" / "compiled" and "pipelines/compiled/" in (REPO / "README.md").read_text()
    paths = compile_all(tmp_path)
    assert set(paths) == {"existing_model", "vertex_existing_model", "vertex_registry", "train_evaluate_push"}
    for name, path in paths.items():
        spec = yaml.safe_load(path.read_text())
        images = {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values() if "container" in e}
        assert IMAGE in images, name  # every example runs the shipped component.yaml's image
        tasks = spec["root"]["dag"]["tasks"]
        assert tasks["model-pusher"]["componentRef"]["name"] == "comp-model-pusher"
    vertex = yaml.safe_load(paths["vertex_existing_model"].read_text())
    assert vertex["defaultPipelineRoot"].startswith("gs://")


def test_the_vertex_registry_example_registers_deploys_and_passes_the_registered_version_on(tmp_path):
    spec = yaml.safe_load(compile_all(tmp_path)["vertex_registry"].read_text())
    assert spec["defaultPipelineRoot"].startswith("gs://")
    tasks = spec["root"]["dag"]["tasks"]
    pusher = tasks["model-pusher"]
    params = pusher["inputs"]["parameters"]
    assert params["vertex_model"]["componentInputParameter"] == "vertex_model"
    assert params["vertex_endpoint"]["componentInputParameter"] == "vertex_endpoint"
    assert params["vertex_traffic_percentage"]["componentInputParameter"] == "traffic_percentage"
    assert params["vertex_version_aliases"]["runtimeValue"]["constant"] == "champion"
    assert params["vertex_undeploy_previous"]["runtimeValue"]["constant"] is True
    assert pusher["retryPolicy"]["maxRetryCount"] == 2  # safe: registering and deploying are idempotent
    # The later step (inside the condition) gets the google.VertexModel artifact and the version string.
    condition = next(t for t in tasks.values() if t["componentRef"]["name"].startswith("comp-condition"))
    inner = spec["components"][condition["componentRef"]["name"]]["dag"]["tasks"]["announce-registered-version"]
    assert inner["inputs"]["artifacts"]["registered_model"]["componentInputArtifact"].endswith("registered_model")
    assert spec["components"]["comp-model-pusher"]["outputDefinitions"]["artifacts"]["registered_model"][
        "artifactType"]["schemaTitle"] == "google.VertexModel"


def test_registered_model_feeds_a_step_that_takes_a_google_vertex_model(tmp_path):
    # What GCPC's ModelDeployOp declares (an Input of schema google.VertexModel), without GCPC.
    from component.kfp.spec import VertexModel

    @dsl.container_component
    def deploy_op(model: dsl.Input[VertexModel]):
        return dsl.ContainerSpec(image="gcr.io/ml-pipeline/google-cloud-pipeline-components:2.19.0",
                                 command=["echo", model.uri])

    @dsl.pipeline(name="chained")
    def chained():
        push = model_pusher(push_destination="gs://b/serving/m", vertex_model="m")
        deploy_op(model=push.outputs["registered_model"])

    compiler.Compiler().compile(chained, str(tmp_path / "chained.yaml"))
    deploy = yaml.safe_load((tmp_path / "chained.yaml").read_text())["components"]["comp-deploy-op"]
    assert deploy["inputDefinitions"]["artifacts"]["model"]["artifactType"]["schemaTitle"] == "google.VertexModel"

    @dsl.container_component
    def wants_a_dataset(data: dsl.Input[Dataset]):
        return dsl.ContainerSpec(image="python:3.11-slim", command=["echo", data.uri])

    with pytest.raises(InconsistentTypeException):  # the type check is real: a Dataset step refuses it
        @dsl.pipeline(name="wrong")
        def wrong():
            wants_a_dataset(data=model_pusher(push_destination="gs://b/m", vertex_model="m").outputs["registered_model"])


def test_compiling_the_vertex_example_does_not_need_the_vertex_sdk(tmp_path):
    code = ("import sys; sys.modules['google.cloud.aiplatform'] = None; "
            f"from pipelines.compile import compile_all; from pathlib import Path; compile_all(Path({str(tmp_path)!r}))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@dsl.component(base_image="python:3.11-slim")
def trainer(model: Output[Model], metrics: Output[Metrics]):
    pass


def test_inputs_connect_to_models_and_blessings_of_any_type(tmp_path):
    @dsl.pipeline(name="connections")
    def connections():
        trained = trainer()
        model_dir = dsl.importer(artifact_uri="gs://b/model", artifact_class=Model)
        untyped_dir = dsl.importer(artifact_uri="gs://b/model", artifact_class=Artifact)
        evaluation = dsl.importer(artifact_uri="gs://b/evaluation", artifact_class=ClassificationMetrics)
        validation = dsl.importer(artifact_uri="gs://b/validation", artifact_class=Dataset)
        # A KFP training step's Model, with a Metrics artifact as the blessing ...
        model_pusher(model=trained.outputs["model"], model_blessing=trained.outputs["metrics"], push_destination="/d")
        # ... an importer of a model directory, with blessings of two other types ...
        model_pusher(model=model_dir.output, model_blessing=evaluation.output, infra_blessing=validation.output,
                     push_destination="/d")
        # ... and an untyped importer, with no blessing at all.
        model_pusher(model=untyped_dir.output, push_destination="/d")

    compiler.Compiler().compile(connections, str(tmp_path / "connections.yaml"))


def test_a_dataset_is_not_taken_for_a_model():
    with pytest.raises(InconsistentTypeException):
        @dsl.pipeline(name="wrong")
        def wrong():
            model_pusher(model=dsl.importer(artifact_uri="gs://b/data", artifact_class=Dataset).output,
                         push_destination="/d")


@pytest.mark.parametrize("epochs, pushed", [(40, True), (0, False)])  # an untrained model fails the threshold
def test_train_evaluate_push_steps_end_in_a_push_only_when_blessed(tmp_path, epochs, pushed):
    # The example's own component functions, run here, then the pusher's real command line.
    model = dsl.Model(uri=str(tmp_path / "model"))
    blessing = dsl.Artifact(uri=str(tmp_path / "blessing"))
    train.python_func(model=model, epochs=epochs)
    evaluate.python_func(model=model, blessing=blessing, metrics=dsl.Metrics(uri=str(tmp_path / "metrics")))
    assert blessing.metadata["blessed"] == int(pushed)
    task = prepare({"model": model, "model_blessing": blessing, "push_destination": str(tmp_path / "serving")},
                   tmp_path / "task")
    outputs = run_on_host(task)
    assert outputs["pushed"] is pushed and outputs[OUTPUT_ARTIFACT].metadata["pushed"] == int(pushed)
    if pushed:
        served = serve(tmp_path / "serving" / outputs["pushed_version"], [[1.0, 0.0, 0.0]])
        assert abs(next(iter(served.values()))[0][0] - 3.0) < 0.1  # 2a - b + 0.5c + 1
    else:
        assert not (tmp_path / "serving").exists()
