"""Build one push from either front: KFP's executor input JSON, or explicit flags.

Both fronts produce the same raw values (artifacts, and options as text or JSON values);
`build_request` reads each option once into its kind, and everything after it is shared: the core's
PushRequest, and the KFP outputs to write once it is done.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from component.artifacts import Artifact, OutputArtifact
from component.errors import InputError
from component.kfp.executor_input import parse_executor_input
from component.kfp.options import INPUT_ARTIFACTS, OPTIONS, OUTPUT_ARTIFACT, REPORT_ARTIFACT, VERTEX_ARTIFACT
from component.kfp.outputs import KfpOutputs
from component.push.destination import parse_destination
from component.push.request import PushRequest
from component.stores.mounts import check_path_text, local_path
from component.stores.registry import is_remote
from component.vertex.target import parse_vertex_options


@dataclass(frozen=True)
class Invocation:
    request: PushRequest  # what the core does
    outputs: KfpOutputs  # what the face writes afterwards


def build_request(
    artifacts: Mapping[str, Artifact],
    options: Mapping[str, Any],
    outputs: Mapping[str, OutputArtifact],
    executor_output: Path | None = None,
    parameter_files: Mapping[str, Path] | None = None,
) -> Invocation:
    values = {o.name: o.parse(options.get(o.name, o.default)) for o in OPTIONS}
    keep = values["keep_versions"]
    if keep < 0:
        raise InputError(f"keep_versions: must be 0 (keep all) or more, got {keep}")
    report = outputs.get(REPORT_ARTIFACT)
    if report is not None:
        check_output_file(str(report.path), REPORT_ARTIFACT)
    destination = parse_destination(values["push_destination"], values["versioning"])
    request = PushRequest(
        destination=destination,
        pushed_model=outputs.get(OUTPUT_ARTIFACT),
        written_after=(*((report,) if report is not None else ()), *_kfp_files(executor_output, parameter_files)),
        required_signatures=tuple(s.strip() for s in values["required_signatures"].split(",") if s.strip()),
        deep_validation=values["deep_validation"],
        force_new_version=values["force_new_version"],
        keep_versions=keep,
        # KFP fills in every default, so an option left out cannot be told from one given its
        # default: "set" means given another value.
        vertex=parse_vertex_options(
            values, frozenset(o.name for o in OPTIONS if not o.is_default(values[o.name])), destination.base
        ),
        **{name: artifacts.get(name) for name in INPUT_ARTIFACTS},
    )
    return Invocation(request, KfpOutputs(
        pushed_model=request.pushed_model,
        push_report=report,
        registered_model=outputs.get(VERTEX_ARTIFACT),
        executor_output=executor_output,
        parameter_files=dict(parameter_files or {}),
    ))


def _kfp_files(executor_output: Path | None, parameter_files: Mapping[str, Path] | None) -> list[OutputArtifact]:
    """KFP's own output files, checked like the report: one pointing into the base or the model
    would overwrite a live version's file or the model itself."""
    named = [("executor_input: outputs.outputFile", executor_output)]
    named += [(f"executor_input: outputs.parameters.{n}.outputFile", p) for n, p in (parameter_files or {}).items()]
    return [OutputArtifact(name, str(path), path) for name, path in named if path is not None]


# The JSON types a pipeline may send for each option: KFP sends numbers as doubles, and a
# PushDestination may be given as an object rather than as a JSON string.
_JSON_KINDS = {str: (str,), bool: (bool, int, float, str), int: (int, float, str)}


def _parameter_types() -> dict[str, tuple[type, ...]]:
    types = {o.name: _JSON_KINDS[o.kind] for o in OPTIONS}
    types["push_destination"] = (str, dict)
    return types


def from_executor_input(text: str) -> Invocation:
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
    if path.exists() and not path.is_file():
        # Writing to a FIFO blocks until someone reads it, after the version was published.
        raise InputError(f"{name}: {text!r} is a FIFO, socket or device, not a file")
    return path


def from_flags(
    paths: Mapping[str, str | None], options: Mapping[str, Any], outputs: Mapping[str, str | None]
) -> Invocation:
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
