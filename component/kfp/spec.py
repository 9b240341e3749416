"""component.yaml's one source: the KFP container component, generated from the command's own tables.

Inputs and options come from `options` (INPUT_ARTIFACTS, OPTIONS) and output parameters from
`outputs.output_parameters`, so an option added there reaches the UI by regenerating:

    make component.yaml          # or: python -m component.kfp.spec component.yaml

This is the only module of the package that imports kfp; the push path (`python -m component`,
what the image runs) never imports it, so the image carries no kfp.
"""

import inspect
import sys
from pathlib import Path
from typing import Any, Optional

from kfp import compiler, dsl
from kfp.dsl import Artifact, Input, Markdown, Model, Output, OutputPath

from component import __version__
from component.kfp.options import INPUT_ARTIFACTS, OPTIONS, OUTPUT_ARTIFACT, REPORT_ARTIFACT, VERTEX_ARTIFACT
from component.kfp.outputs import output_parameters
from component.push.outcome import Outcome

# The one place the image is named; its tag is the package version, so a release of the package
# and the image it runs always go together.
IMAGE_REPOSITORY = "ghcr.io/kfp-model-pusher/kfp-model-pusher"
IMAGE = f"{IMAGE_REPOSITORY}:{__version__}"

COMMAND = ["python", "-m", "component"]
# The whole executor input: optional artifacts are read from it, because IfPresent placeholders
# on artifacts are not resolved by every backend (KFP open source, Vertex).
ARGS = ["--executor-input", "{{$}}"]

# The only option without a usable default: where to push.
# system.Model so the UI shows a model and a training step's Output[Model] or an importer of a model
# directory connects; blessings are generic artifacts, which KFP lets any artifact type feed.
ARTIFACT_TYPES = {"model": Model, "model_blessing": Artifact, "infra_blessing": Artifact}



class VertexModel(dsl.Artifact):
    """Google Cloud Pipeline Components' google.VertexModel (same schema), without depending on
    GCPC: its ModelDeployOp and ModelBatchPredictOp take it and read metadata resourceName (its
    ModelGetOp takes no model artifact, only a model_name string)."""

    schema_title = "google.VertexModel"
    schema_version = "0.0.1"


# The archive copy is a model a later step can use; the report is Markdown, which the KFP UI shows.
OUTPUT_ARTIFACTS = {OUTPUT_ARTIFACT: Model, REPORT_ARTIFACT: Markdown, VERTEX_ARTIFACT: VertexModel}
OUTPUT_DESCRIPTIONS = {
    OUTPUT_ARTIFACT: "An archive copy of the pushed model (empty when not pushed), with metadata "
    "pushed (1/0), pushed_destination, pushed_version and reason, as TFX's PushedModel.",
    REPORT_ARTIFACT: "The push report: what was decided and why, the model's signatures, the version "
    "published and the versions at the destination.",
    "pushed": "True when the model is published (a new version, or the identical newest one reused); "
    "false when the blessings refused it (nothing was written).",
    "pushed_destination": "Where the model was published, <base>/<version>; empty when not pushed.",
    "pushed_version": "The version published, e.g. 1700000000; empty when not pushed.",
    VERTEX_ARTIFACT: "The Vertex AI Model Registry version (google.VertexModel, metadata resourceName = "
    "projects/P/locations/R/models/ID@VERSION, uri its https://REGION-aiplatform.googleapis.com/v1/... URL) "
    "for GCPC's ModelDeployOp and ModelBatchPredictOp; no resourceName when vertex_model is empty.",
    "vertex_model_version": "The registered version, projects/P/locations/R/models/ID@VERSION; empty when "
    "not registered.",
    "vertex_deployed_endpoint": "The endpoint the version is deployed on, projects/P/locations/R/endpoints/ID; empty "
    "when not deployed.",
}

DESCRIPTION = (
    "Push a blessed TensorFlow SavedModel to a serving directory (gs://, s3://, minio:// or a mounted "
    "path) as a new numbered version, like TFX's Pusher. Not blessed: nothing is written and the step succeeds "
    "with pushed=false."
)


def _parameters() -> list[inspect.Parameter]:
    def param(name: str, annotation: Any, **default: Any) -> inspect.Parameter:
        return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, **default)

    params = [param(name, Optional[Input[ARTIFACT_TYPES[name]]], default=None) for name in INPUT_ARTIFACTS]
    for option in OPTIONS:
        if option.required:
            params.append(param(option.name, option.kind))
        else:
            params.append(param(option.name, option.kind, default=option.parse(option.default)))
    params += [param(name, Output[kind]) for name, kind in OUTPUT_ARTIFACTS.items()]
    # The record's own output parameters (an empty outcome gives their names and types).
    for name, value in output_parameters(Outcome(pushed=False, reason="")).items():
        params.append(param(name, OutputPath(type(value))))
    return params


def _docstring() -> str:
    """KFP reads input and output descriptions from a Google-style docstring."""
    inputs = dict(INPUT_ARTIFACTS)
    inputs.update({o.name: f"{o.help} Example: {o.example}" for o in OPTIONS})
    lines = [DESCRIPTION, "", "Args:"]
    lines += [f"    {name}: {' '.join(text.split())}" for name, text in inputs.items()]
    lines += ["", "Returns:"]
    lines += [f"    {name}: {text}" for name, text in OUTPUT_DESCRIPTIONS.items()]
    return "\n".join(lines) + "\n"


def _container_component():
    # A container component's interface is its function's signature; ours is generated from the
    # command's tables instead of being written out, so the two cannot drift apart.
    def model_pusher(*_placeholders: Any) -> dsl.ContainerSpec:  # kfp calls it with one per input
        return dsl.ContainerSpec(image=IMAGE, command=COMMAND, args=ARGS)

    model_pusher.__signature__ = inspect.Signature(_parameters())
    model_pusher.__doc__ = _docstring()
    return dsl.container_component(model_pusher)


model_pusher = _container_component()


def write(path: Path) -> None:
    """Compile the component to IR YAML, the format `kfp.components.load_component_from_file` reads."""
    compiler.Compiler().compile(model_pusher, str(path))


if __name__ == "__main__":
    write(Path(sys.argv[1] if len(sys.argv) > 1 else "component.yaml"))
