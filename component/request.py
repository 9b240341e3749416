"""Build one PushRequest from either front: KFP's executor input JSON, or explicit flags.

Both fronts produce the same raw values (artifacts and option strings); everything after
`build_request` is shared.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .artifacts import Artifact, OutputArtifact, local_path, parse_flag
from .destination import Destination, parse_destination
from .errors import InputError
from .stores import is_remote

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
)


@dataclass(frozen=True)
class PushRequest:
    destination: Destination
    model: Artifact | None = None
    model_blessing: Artifact | None = None
    infra_blessing: Artifact | None = None
    pushed_model: OutputArtifact | None = None
    push_report: OutputArtifact | None = None
    executor_output: Path | None = None  # KFP's outputs.outputFile
    parameter_files: Mapping[str, Path] = field(default_factory=dict)  # output parameter name -> file
    required_signatures: tuple[str, ...] = ("serving_default",)
    deep_validation: bool = False
    force_new_version: bool = False
    keep_versions: int = 0


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
    return PushRequest(
        destination=parse_destination(values["push_destination"], values["versioning"]),
        pushed_model=outputs.get(OUTPUT_ARTIFACT),
        push_report=outputs.get(REPORT_ARTIFACT),
        executor_output=executor_output,
        parameter_files=dict(parameter_files or {}),
        required_signatures=tuple(s.strip() for s in values["required_signatures"].split(",") if s.strip()),
        deep_validation=parse_flag(values["deep_validation"], "deep_validation"),
        force_new_version=parse_flag(values["force_new_version"], "force_new_version"),
        keep_versions=keep,
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
    if isinstance(value, (dict, list)):  # a PushDestination given as a JSON object, not a string
        return json.dumps(value)
    if not isinstance(value, (str, int, float, bool)):
        raise InputError(f"{name}: unsupported value {value!r}")
    return str(value)


def from_executor_input(text: str) -> PushRequest:
    """KFP v2's `{{$}}`: optional artifacts that are not connected are simply absent (or empty)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"executor_input: is not valid JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(doc, dict):
        raise InputError("executor_input: expected a JSON object")
    inputs = doc.get("inputs") or {}
    outputs = doc.get("outputs") or {}
    artifacts = {}
    for name in INPUT_ARTIFACTS:
        first = _first_artifact(inputs.get("artifacts") or {}, name, "inputs")
        if first is not None:
            uri = _uri(first, name)
            artifacts[name] = Artifact(name, uri, local_path(uri), first.get("metadata") or {})
    output_artifacts = {}
    for name in (OUTPUT_ARTIFACT, REPORT_ARTIFACT):
        out = _first_artifact(outputs.get("artifacts") or {}, name, "outputs")
        if out is not None:
            uri = _uri(out, name)
            output_artifacts[name] = OutputArtifact(name, uri, local_path(uri), out.get("name") or "")
    output_file = outputs.get("outputFile")
    parameter_files = {
        name: Path(spec["outputFile"])
        for name, spec in (outputs.get("parameters") or {}).items()
        if isinstance(spec, dict) and spec.get("outputFile")
    }
    return build_request(
        artifacts,
        inputs.get("parameterValues") or {},
        output_artifacts,
        Path(output_file) if output_file else None,
        parameter_files,
    )


def _first_artifact(section: Mapping[str, Any], name: str, where: str) -> dict | None:
    entry = section.get(name)
    if not entry:
        return None
    listed = entry.get("artifacts") if isinstance(entry, dict) else None
    if not listed:
        return None
    if not isinstance(listed[0], dict):
        raise InputError(f"executor_input: {where}.artifacts.{name} is malformed")
    return listed[0]


def _uri(artifact: Mapping[str, Any], name: str) -> str:
    uri = artifact.get("uri")
    if not isinstance(uri, str) or not uri:
        raise InputError(f"{name}: the executor input gives it no uri")
    return uri


def from_flags(
    paths: Mapping[str, str | None], options: Mapping[str, Any], outputs: Mapping[str, str | None]
) -> PushRequest:
    """The laptop / `docker run` front: artifacts are directories (or gs:// / s3:// / minio:// URIs) with no metadata;
    `outputs` maps pushed_model / push_report to where the user wants them."""
    artifacts = {}
    for name, value in paths.items():
        if value:
            path = local_path(value)
            if not is_remote(value) and not path.exists():
                raise InputError(f"{name}: {value} does not exist")
            artifacts[name] = Artifact(name, value, path, {})
    output_artifacts = {name: OutputArtifact(name, uri, local_path(uri)) for name, uri in outputs.items() if uri}
    return build_request(artifacts, options, output_artifacts)
