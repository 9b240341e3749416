"""Vertex AI Pipelines: the same steps as existing_model.py with everything on Cloud Storage, and the
code that submits the run. Vertex mounts Cloud Storage at /gcs/ in every step, which is where the
pusher reads gs:// artifacts.

Compile: python -m pipelines.compile  ->  pipelines/compiled/vertex_existing_model.yaml
Submit:  pip install google-cloud-aiplatform
         python -m pipelines.vertex_existing_model --project my-project --region europe-west4 \
             --pipeline-root gs://my-bucket/pipeline-root
"""

import argparse
from pathlib import Path

from kfp import compiler, dsl

from .existing_model import push_existing_model

PIPELINE_ROOT = "gs://my-bucket/pipeline-root"


@dsl.pipeline(
    name="push-existing-model-vertex",
    description="Push an existing, blessed SavedModel from Cloud Storage to a serving directory.",
    pipeline_root=PIPELINE_ROOT,
)
def pipeline(
    model_uri: str = "gs://my-bucket/models/my_model/Format-Serving",
    blessing_uri: str = "gs://my-bucket/evaluator/blessing/1",
    push_destination: str = '{"filesystem": {"base_directory": "gs://my-bucket/serving/my_model"}}',
) -> None:
    push_existing_model(model_uri, blessing_uri, push_destination)


def submit(project: str, region: str, template_path: Path, pipeline_root: str = PIPELINE_ROOT,
           service_account: str | None = None, **parameter_values: str) -> str:
    """Submit the compiled pipeline to Vertex AI; returns the job's resource name."""
    # Only submitting needs the Vertex SDK: compiling does not import it.
    from google.cloud import aiplatform

    aiplatform.init(project=project, location=region)
    job = aiplatform.PipelineJob(
        display_name=template_path.stem.replace("_", "-"),
        template_path=str(template_path),
        pipeline_root=pipeline_root,
        parameter_values=parameter_values,
        enable_caching=False,  # a push must run each time it is asked to
    )
    job.submit(service_account=service_account)
    return job.resource_name


def submission_arguments(description: str, template: str) -> argparse.ArgumentParser:
    """The command line of a Vertex example: where to run it, and where to compile it to."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--pipeline-root", default=PIPELINE_ROOT)
    parser.add_argument("--service-account")
    parser.add_argument("--template", type=Path, default=Path(f"pipelines/compiled/{template}.yaml"))
    return parser


if __name__ == "__main__":
    args = submission_arguments(__doc__, "vertex_existing_model").parse_args()
    args.template.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(pipeline, str(args.template))
    print(submit(args.project, args.region, args.template, args.pipeline_root, args.service_account))
