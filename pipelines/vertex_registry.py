"""Vertex AI Pipelines: push a blessed model to Cloud Storage, register the version in the Vertex AI
Model Registry (moving the `champion` alias to it) and deploy it to an endpoint as a canary with
10% of the traffic; then use the registered version in a later step.

Compile: python -m pipelines.compile  ->  pipelines/compiled/vertex_registry.yaml
Submit:  python -m pipelines.vertex_registry --project my-project --region europe-west4 \
             --pipeline-root gs://my-bucket/pipeline-root --endpoint 1234567890

The pipeline's service account needs roles/aiplatform.user, and the Vertex AI Service Agent
(service-PROJECT_NUMBER@gcp-sa-aiplatform.iam.gserviceaccount.com) read access to the bucket.
To deploy with Google Cloud Pipeline Components instead, leave vertex_endpoint empty and pass the
pusher's `registered_model` output (a google.VertexModel) to GCPC's ModelDeployOp.
"""

from kfp import compiler, dsl

from .pusher import model_pusher
from .steps import announce_registered_version
from .vertex_existing_model import PIPELINE_ROOT, submission_arguments, submit


@dsl.pipeline(
    name="push-register-deploy-vertex",
    description="Push a blessed SavedModel to Cloud Storage, register it in the Vertex AI Model Registry "
    "and deploy it to an endpoint as a canary.",
    pipeline_root=PIPELINE_ROOT,
)
def pipeline(
    model_uri: str = "gs://my-bucket/models/my_model/Format-Serving",
    blessing_uri: str = "gs://my-bucket/evaluator/blessing/1",
    push_destination: str = '{"filesystem": {"base_directory": "gs://my-bucket/serving/my_model"}}',
    vertex_model: str = "my_model",
    vertex_endpoint: str = "",
    traffic_percentage: int = 10,
) -> None:
    model = dsl.importer(artifact_uri=model_uri, artifact_class=dsl.Model, reimport=False)
    blessing = dsl.importer(artifact_uri=blessing_uri, artifact_class=dsl.Artifact, reimport=False)
    push = model_pusher(
        model=model.output,
        model_blessing=blessing.output,
        push_destination=push_destination,
        vertex_model=vertex_model,
        vertex_version_aliases="champion",
        vertex_endpoint=vertex_endpoint,
        vertex_traffic_percentage=traffic_percentage,
        vertex_undeploy_previous=True,
    )
    # A push is retried on failure: registering and deploying are idempotent, so a retry reuses the
    # version and the deployment an earlier attempt made.
    push.set_retry(num_retries=2)
    with dsl.If(push.outputs["pushed"] == True):  # noqa: E712 (a KFP condition, not a Python test)
        announce_registered_version(
            registered_model=push.outputs["registered_model"],
            vertex_model_version=push.outputs["vertex_model_version"],
            vertex_deployed_endpoint=push.outputs["vertex_deployed_endpoint"],
        )


if __name__ == "__main__":
    parser = submission_arguments(__doc__, "vertex_registry")
    parser.add_argument("--endpoint", default="", help="endpoint ID to deploy to (empty: register only)")
    args = parser.parse_args()
    args.template.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(pipeline, str(args.template))
    print(submit(args.project, args.region, args.template, args.pipeline_root, args.service_account,
                 vertex_endpoint=args.endpoint))
