"""The command's interface as one table: its input artifacts, output artifacts and options, the same
in both fronts (flags and executor input) and in component.yaml, which is generated from it."""

import json
from dataclasses import dataclass
from typing import Any

from component.artifacts import parse_flag
from component.errors import InputError
from component.vertex.target import DEFAULT_MACHINE_TYPE

# The input artifacts and what each is, for --help and the KFP UI alike.
INPUT_ARTIFACTS = {
    "model": "The SavedModel to push: a SavedModel directory, or a TFX Model artifact (Format-Serving/, "
    "serving_model_dir/, Estimator export/<name>/<timestamp>/). Optional when infra_blessing holds a "
    "warmed-up model.",
    "model_blessing": "Evaluator blessing: metadata blessed=1/0 and/or a BLESSED / NOT_BLESSED file. "
    "Not given: no evaluation gate.",
    "infra_blessing": "InfraValidator blessing: metadata blessed=1/0 and/or an INFRA_BLESSED / "
    "INFRA_NOT_BLESSED file; its stamped_model/ (with warmup requests) is pushed when model is not given.",
}
OUTPUT_ARTIFACT = "pushed_model"
REPORT_ARTIFACT = "push_report"  # a system.Markdown file the KFP UI shows
VERTEX_ARTIFACT = "registered_model"  # a google.VertexModel, what GCPC's ModelDeployOp takes


@dataclass(frozen=True)
class Option:
    name: str  # the KFP parameter name; the flag is --name-with-dashes
    help: str
    example: str
    default: str = ""
    kind: type = str  # str, bool or int: how the value is read, and its type in component.yaml
    required: bool = False

    def parse(self, value: Any) -> str | bool | int:
        """The option's value as its kind, from text (flags), or from what KFP's JSON holds."""
        if self.kind is bool:
            return parse_flag("" if value is None else value, self.name)
        if self.kind is int:
            return _whole_number(self.name, value)
        if value is None:
            return ""
        if isinstance(value, dict):  # a PushDestination given as a JSON object, not a string
            return json.dumps(value)
        if not isinstance(value, (str, int, float, bool)):
            raise InputError(f"{self.name}: unsupported value {value!r}")
        return str(value)

    def is_default(self, value: str | bool | int) -> bool:
        default = self.parse(self.default)
        return value.strip() == default if isinstance(value, str) else value == default


def _whole_number(name: str, value: Any) -> int:
    # Protobuf's Value holds every number as a double, so a pipeline may send 5 as 5.0 (or "5.0").
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        number = float(value) if isinstance(value, (str, float)) else float("nan")
    except ValueError:
        number = float("nan")
    if not number.is_integer():
        raise InputError(f"{name}: expected a whole number, got {str(value)!r}")
    return int(number)


# The command's options, the same in both fronts (and in component.yaml).
OPTIONS = (
    Option(
        "push_destination",
        "Where to publish: TFX PushDestination JSON, or a bare base directory (local path, gs://, s3:// or minio://).",
        '\'{"filesystem": {"base_directory": "gs://bucket/serving/my_model", "versioning": "AUTO"}}\'',
        required=True,
    ),
    Option(
        "versioning",
        "How the new version number is chosen, overriding the destination JSON: AUTO or "
        "UNIX_TIMESTAMP (Unix time in seconds, as TFX), or SEQUENTIAL (next integer above the highest).",
        "SEQUENTIAL",
    ),
    Option(
        "required_signatures",
        "Comma-separated signatures the model must have in its 'serve' MetaGraph, or empty to "
        "require none; a model without them is refused before anything is written.",
        "serving_default,predict",
        default="serving_default",
    ),
    Option(
        "deep_validation",
        "Also load the model with TensorFlow before pushing (needs TensorFlow in the image).",
        "true",
        default="false",
        kind=bool,
    ),
    Option(
        "force_new_version",
        "Publish a new version even when the newest version already holds exactly this model "
        "(by default a retried or re-run push reuses it).",
        "true",
        default="false",
        kind=bool,
    ),
    Option(
        "keep_versions",
        "After a successful push keep only this many newest numeric versions, deleting older "
        "ones; 0 keeps all.",
        "5",
        default="0",
        kind=int,
    ),
    # Vertex AI Model Registry and endpoints (component/vertex.py checks them together).
    Option(
        "vertex_model",
        "Register each pushed version in the Vertex AI Model Registry as a version of this model: a "
        "model ID (created on the first push) or projects/P/locations/R/models/ID; needs a gs:// "
        "push_destination. Empty: no registration.",
        "taxi",
    ),
    Option("vertex_project", "The model's Google Cloud project (default: from vertex_model, else "
           "$GOOGLE_CLOUD_PROJECT).", "my-project"),
    Option("vertex_region", "The model's Vertex AI region (default: from vertex_model, else "
           "$CLOUD_ML_REGION).", "europe-west4"),
    Option("vertex_version_aliases", "Comma-separated aliases for the registered version; an alias "
           "another version holds moves to this one.", "champion,staging"),
    Option("vertex_labels", "Comma-separated key=value labels for the registered version (the "
           "pipeline run's labels are added).", "team=search,stage=prod"),
    Option("vertex_serving_image", "The serving container Vertex AI runs the model in (default: "
           "Vertex's newest prebuilt TensorFlow CPU image for the model's region).",
           "europe-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest"),
    Option("vertex_default_version", "The new version takes the model's `default` alias, as the Vertex "
           "SDK's is_default_version does; false: `default` stays where it is.", "false", default="true", kind=bool),
    Option("vertex_endpoint", "Deploy the registered version to this endpoint (an ID or "
           "projects/P/locations/R/endpoints/ID), unless it is deployed there already. Empty: no deployment.",
           "1234567890"),
    Option("vertex_traffic_percentage", "Percent of the endpoint's traffic the new version gets (0-100); "
           "the models already deployed share the rest in their current proportions.", "10",
           default="100", kind=int),
    Option("vertex_machine_type", "Machine type of the deployed version's replicas.", "n1-standard-4",
           default=DEFAULT_MACHINE_TYPE),
    Option("vertex_min_replicas", "Fewest replicas of the deployed version (1 or more).", "2",
           default="1", kind=int),
    Option("vertex_max_replicas", "Most replicas of the deployed version; 0: as many as vertex_min_replicas.",
           "5", default="0", kind=int),
    Option("vertex_undeploy_previous", "After deploying, remove this model's older versions from the "
           "endpoint that then get no traffic.", "true", default="false", kind=bool),
)
