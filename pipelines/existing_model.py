"""Kubeflow Pipelines: push a model that already exists (e.g. an earlier TFX Trainer's output) with
the blessing an Evaluator gave it, then use the version that was published.

Compile: python -m pipelines.compile  ->  pipelines/compiled/existing_model.yaml (upload it in the KFP UI),
or submit it straight away: python -m pipelines.existing_model --host http://localhost:8080
"""

import argparse

from kfp import dsl

from .pusher import model_pusher
from .steps import announce_version


def push_existing_model(model_uri: str, blessing_uri: str, push_destination: str) -> None:
    """The steps: importers for the model directory and its blessing -> push -> use the version."""
    model = dsl.importer(artifact_uri=model_uri, artifact_class=dsl.Model, reimport=False)
    # Any artifact type can be a blessing; the pusher reads its BLESSED / NOT_BLESSED file.
    blessing = dsl.importer(artifact_uri=blessing_uri, artifact_class=dsl.Artifact, reimport=False)
    push = model_pusher(
        model=model.output, model_blessing=blessing.output, push_destination=push_destination,
    )
    # Output parameters, not artifact metadata: only parameters can drive a condition downstream.
    with dsl.If(push.outputs["pushed"] == True):  # noqa: E712 (a KFP condition, not a Python test)
        announce_version(
            pushed_version=push.outputs["pushed_version"],
            pushed_destination=push.outputs["pushed_destination"],
        )


@dsl.pipeline(name="push-existing-model", description="Push an existing, blessed SavedModel.")
def pipeline(
    model_uri: str = "minio://mlpipeline/models/my_model/Format-Serving",
    blessing_uri: str = "minio://mlpipeline/evaluator/blessing/1",
    push_destination: str = '{"filesystem": {"base_directory": "gs://my-bucket/serving/my_model"}}',
) -> None:
    push_existing_model(model_uri, blessing_uri, push_destination)


def submit(host: str, **arguments: str) -> str:
    """Start a run on a Kubeflow Pipelines endpoint; returns the run id."""
    import kfp

    return kfp.Client(host=host).create_run_from_pipeline_func(pipeline, arguments=arguments).run_id


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", required=True, help="KFP endpoint, e.g. http://localhost:8080")
    print(submit(parser.parse_args().host))
