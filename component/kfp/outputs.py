"""Report what was done: KFP's executor output, the JSON record on stdout, a one-line summary."""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from component.artifacts import OutputArtifact
from component.push.outcome import Outcome
from component.stores.local_files import replace_file


@dataclass(frozen=True)
class KfpOutputs:
    """Where the step's outputs go once the push is done; what is absent is not written."""

    pushed_model: OutputArtifact | None = None
    push_report: OutputArtifact | None = None
    registered_model: OutputArtifact | None = None  # the google.VertexModel output
    executor_output: Path | None = None  # KFP's outputs.outputFile
    parameter_files: Mapping[str, Path] = field(default_factory=dict)  # output parameter name -> file


def metadata(outcome: Outcome) -> dict[str, Any]:
    """The pushed_model artifact's metadata, as TFX names it; never a null value (KFP rejects it)."""
    return {
        "pushed": 1 if outcome.pushed else 0,
        "pushed_destination": outcome.destination,
        "pushed_version": outcome.version,
        "reused": 1 if outcome.published and outcome.published.reused else 0,
        "reason": outcome.reason,
    }


def output_parameters(outcome: Outcome) -> dict[str, Any]:
    """Values a later pipeline step can branch on (artifact metadata is not readable downstream)."""
    r = outcome.registration
    return {
        "pushed": outcome.pushed, "pushed_destination": outcome.destination, "pushed_version": outcome.version,
        "vertex_model_version": r.model_version if r else "", "vertex_deployed_endpoint": r.endpoint if r else "",
    }


def vertex_metadata(outcome: Outcome) -> dict[str, Any]:
    """The registered_model artifact's metadata: resourceName is what GCPC's ModelDeployOp reads."""
    return {"resourceName": outcome.registration.model_version} if outcome.registration else {}


def executor_output(outputs: KfpOutputs, outcome: Outcome) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    # The registered version's uri is its REST URL, as GCPC's ops give theirs; KFP's launcher does
    # not upload an artifact whose uri is no storage URI.
    vertex_uri = outcome.registration.api_uri if outcome.registration else None
    artifacts = {
        art.name: {"artifacts": [{"name": art.artifact_name, "uri": uri or art.uri, "metadata": meta}]}
        for art, meta, uri in ((outputs.pushed_model, metadata(outcome), None), (outputs.push_report, {}, None),
                               (outputs.registered_model, vertex_metadata(outcome), vertex_uri))
        if art is not None
    }
    if artifacts:
        doc["artifacts"] = artifacts
    params = output_parameters(outcome)
    declared = {name: params[name] for name in outputs.parameter_files if name in params}
    if declared:
        doc["parameterValues"] = declared
    return doc


def write_outputs(outputs: KfpOutputs, outcome: Outcome) -> None:
    """Write KFP's executor output file and each declared output parameter file."""
    if outputs.executor_output is not None:
        replace_file(outputs.executor_output, json.dumps(executor_output(outputs, outcome)))
        # KFP's launcher uploads every output artifact's path after the step and fails the step
        # when one is missing, as pushed_model is when nothing was pushed (registered_model always:
        # the registry holds the model, the artifact only names it).
        for artifact in (outputs.pushed_model, outputs.registered_model):
            if artifact is not None:
                artifact.path.mkdir(parents=True, exist_ok=True)
    params = output_parameters(outcome)
    for name, path in outputs.parameter_files.items():
        if name in params:
            value = params[name]
            replace_file(path, json.dumps(value) if isinstance(value, bool) else str(value))


def json_record(outcome: Outcome, pushed_model: OutputArtifact | None = None) -> str:
    """What the flags front prints on stdout: the same facts KFP gets, for scripts."""
    record = dict(metadata(outcome))
    record["model"] = outcome.model_uri
    record["blessings"] = {r.input_name: {"verdict": r.verdict.value, "evidence": r.evidence} for r in outcome.readings}
    if pushed_model is not None and outcome.published is not None:  # not pushed: no archive copy either
        record["pushed_model"] = pushed_model.uri
    if outcome.published is not None:
        p = outcome.published
        record.update(files=p.files, bytes=p.bytes, seconds=round(p.seconds, 3), removed_versions=list(p.removed))
        if p.retention_error:
            record["retention_error"] = p.retention_error
    if outcome.registration is not None:
        r = outcome.registration
        record["vertex"] = {
            "model_version": r.model_version, "version_id": r.version_id, "reused": r.reused,
            "aliases": list(r.aliases), "endpoint": r.endpoint, "deployed_model_id": r.deployed_model_id,
            "deployed_now": r.deployed_now, "traffic_split": dict(r.traffic_split or {}),
            "undeployed": list(r.undeployed),
        }
    return json.dumps(record, indent=2)
