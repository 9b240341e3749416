"""Report what was done: KFP's executor output, the JSON record on stdout, a one-line summary."""

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from component.push.artifacts import OutputArtifact
from component.push.gate import BlessingReading
from component.push.pusher import Published
from component.kfp.request import PushRequest
from component.savedmodel.validate import ModelSummary
from component.vertex.vertex import Registration


@dataclass(frozen=True)
class Outcome:
    pushed: bool
    reason: str
    model_uri: str = ""
    readings: tuple[BlessingReading, ...] = ()
    published: Published | None = None
    summary: ModelSummary | None = None
    registration: Registration | None = None  # the Vertex AI Model Registry version (and endpoint)

    @property
    def destination(self) -> str:
        return self.published.uri if self.published else ""

    @property
    def version(self) -> str:
        return str(self.published.version) if self.published else ""


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


def executor_output(request: PushRequest, outcome: Outcome) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    artifacts = {
        art.name: {"artifacts": [{"name": art.artifact_name, "uri": art.uri, "metadata": meta}]}
        for art, meta in ((request.pushed_model, metadata(outcome)), (request.push_report, {}),
                          (request.registered_model, vertex_metadata(outcome)))
        if art is not None
    }
    if artifacts:
        doc["artifacts"] = artifacts
    params = output_parameters(outcome)
    declared = {name: params[name] for name in request.parameter_files if name in params}
    if declared:
        doc["parameterValues"] = declared
    return doc


def write_outputs(request: PushRequest, outcome: Outcome) -> None:
    """Write KFP's executor output file and each declared output parameter file."""
    if request.executor_output is not None:
        _write(request.executor_output, json.dumps(executor_output(request, outcome)))
        # KFP's launcher uploads every output artifact's path after the step and fails the step
        # when one is missing, as pushed_model is when nothing was pushed (registered_model always:
        # the registry holds the model, the artifact only names it).
        for artifact in (request.pushed_model, request.registered_model):
            if artifact is not None:
                artifact.path.mkdir(parents=True, exist_ok=True)
    params = output_parameters(outcome)
    for name, path in request.parameter_files.items():
        if name in params:
            value = params[name]
            _write(path, json.dumps(value) if isinstance(value, bool) else str(value))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    tmp.replace(path)


def json_record(outcome: Outcome, pushed_model: OutputArtifact | None = None) -> str:
    """What the flags front prints on stdout: the same facts KFP gets, for scripts."""
    record = dict(metadata(outcome))
    record["model"] = outcome.model_uri
    record["blessings"] = {r.input_name: {"verdict": r.verdict.value, "evidence": r.evidence} for r in outcome.readings}
    if pushed_model is not None:
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
