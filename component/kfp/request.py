"""Build one PushRequest from either front: KFP's executor input JSON, or explicit flags.

Both fronts produce the same raw values (artifacts and option strings); everything after
`build_request` is shared.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from component.push.artifacts import Artifact, OutputArtifact, check_path_text, local_path, parse_flag
from component.push.destination import Destination, parse_destination
from component.errors import InputError
from component.kfp.executor_input import parse_executor_input
from component.stores.stores import is_remote
from component.vertex.vertex import DEFAULT_MACHINE_TYPE, DEFAULT_SERVING_IMAGE, VertexTarget, parse_vertex_options

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
           "Vertex's prebuilt TensorFlow CPU image).", "europe-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest",
           default=DEFAULT_SERVING_IMAGE),
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


@dataclass(frozen=True)
class PushRequest:
    destination: Destination
    model: Artifact | None = None
    model_blessing: Artifact | None = None
    infra_blessing: Artifact | None = None
    pushed_model: OutputArtifact | None = None
    push_report: OutputArtifact | None = None
    registered_model: OutputArtifact | None = None  # the google.VertexModel output
    executor_output: Path | None = None  # KFP's outputs.outputFile
    parameter_files: Mapping[str, Path] = field(default_factory=dict)  # output parameter name -> file
    required_signatures: tuple[str, ...] = ("serving_default",)
    deep_validation: bool = False
    force_new_version: bool = False
    keep_versions: int = 0
    vertex: VertexTarget | None = None  # register (and deploy) on Vertex AI after the push


def build_request(
    artifacts: Mapping[str, Artifact],
    options: Mapping[str, Any],
    outputs: Mapping[str, OutputArtifact],
    executor_output: Path | None = None,
    parameter_files: Mapping[str, Path] | None = None,
) -> PushRequest:
    values = {o.name: _option_text(o.name, options.get(o.name, o.default)) for o in OPTIONS}
    keep = _parse_int("keep_versions", values["keep_versions"])
    if keep < 0:
        raise InputError(f"keep_versions: must be 0 (keep all) or more, got {keep}")
    report = outputs.get(REPORT_ARTIFACT)
    if report is not None:
        check_output_file(str(report.path), REPORT_ARTIFACT)
    destination = parse_destination(values["push_destination"], values["versioning"])
    return PushRequest(
        destination=destination,
        pushed_model=outputs.get(OUTPUT_ARTIFACT),
        push_report=outputs.get(REPORT_ARTIFACT),
        registered_model=outputs.get(VERTEX_ARTIFACT),
        executor_output=executor_output,
        parameter_files=dict(parameter_files or {}),
        required_signatures=tuple(s.strip() for s in values["required_signatures"].split(",") if s.strip()),
        deep_validation=parse_flag(values["deep_validation"], "deep_validation"),
        force_new_version=parse_flag(values["force_new_version"], "force_new_version"),
        keep_versions=keep,
        vertex=parse_vertex_options(values, {o.name: o.default for o in OPTIONS}, destination.base, _parse_int),
        **{name: artifacts.get(name) for name in INPUT_ARTIFACTS},
    )


def _parse_int(name: str, text: str) -> int:
    # Protobuf's Value holds every number as a double, so a pipeline may send 5 as "5.0".
    try:
        number = float(text)
    except ValueError:
        number = float("nan")
    if not number.is_integer():
        raise InputError(f"{name}: expected a whole number, got {text!r}")
    return int(number)


def _option_text(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):  # a PushDestination given as a JSON object, not a string
        return json.dumps(value)
    if not isinstance(value, (str, int, float, bool)):
        raise InputError(f"{name}: unsupported value {value!r}")
    return str(value)


# The JSON types a pipeline may send for each option: KFP sends numbers as doubles, and a
# PushDestination may be given as an object rather than as a JSON string.
_JSON_KINDS = {str: (str,), bool: (bool, int, float, str), int: (int, float, str)}


def _parameter_types() -> dict[str, tuple[type, ...]]:
    types = {o.name: _JSON_KINDS[o.kind] for o in OPTIONS}
    types["push_destination"] = (str, dict)
    return types


def from_executor_input(text: str) -> PushRequest:
    """KFP v2's `{{$}}`: optional artifacts that are not connected are simply absent (or empty)."""
    doc = parse_executor_input(text, _parameter_types())
    artifacts = {
        name: Artifact(name, raw.uri, local_path(raw.uri, name), raw.metadata)
        for name, raw in doc.artifacts.items() if name in INPUT_ARTIFACTS
    }
    output_artifacts = {
        name: OutputArtifact(name, raw.uri, local_path(raw.uri, name), raw.name)
        for name, raw in doc.output_artifacts.items() if name in (OUTPUT_ARTIFACT, REPORT_ARTIFACT, VERTEX_ARTIFACT)
    }
    return build_request(
        artifacts,
        doc.parameter_values,
        output_artifacts,
        check_output_file(doc.output_file, "executor_input: outputs.outputFile") if doc.output_file else None,
        {name: check_output_file(path, f"executor_input: outputs.parameters.{name}.outputFile")
         for name, path in doc.parameter_files.items()},
    )


def check_output_file(text: str, name: str) -> Path:
    """A file written after the push: refused now if it cannot be, rather than failing after the
    version is published."""
    path = Path(check_path_text(text, name))
    under_a_file = any(parent.exists() and not parent.is_dir() for parent in path.parents)
    if path.name in ("", ".", "..") or path.is_dir() or under_a_file:
        raise InputError(f"{name}: {text!r} cannot be written as a file")
    return path


def from_flags(
    paths: Mapping[str, str | None], options: Mapping[str, Any], outputs: Mapping[str, str | None]
) -> PushRequest:
    """The laptop / `docker run` front: artifacts are directories (or gs:// / s3:// / minio:// URIs) with no metadata;
    `outputs` maps pushed_model / push_report to where the user wants them."""
    artifacts = {}
    for name, value in paths.items():
        if value:
            path = local_path(value, name)
            if not is_remote(value) and not path.exists():
                raise InputError(f"{name}: {value} does not exist")
            artifacts[name] = Artifact(name, value, path, {})
    output_artifacts = {name: OutputArtifact(name, uri, local_path(uri, name)) for name, uri in outputs.items() if uri}
    return build_request(artifacts, options, output_artifacts)
