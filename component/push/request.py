"""What one push is asked to do, whichever front (KFP's executor input, or flags) asked."""

from dataclasses import dataclass

from component.artifacts import Artifact, OutputArtifact
from component.push.destination import Destination
from component.vertex.target import VertexTarget


@dataclass(frozen=True)
class PushRequest:
    destination: Destination
    model: Artifact | None = None
    model_blessing: Artifact | None = None
    infra_blessing: Artifact | None = None
    pushed_model: OutputArtifact | None = None  # where the archive copy goes (TFX's pushed_model)
    # What the caller writes after the push (the report): checked, like pushed_model, never to land
    # in the model or the base.
    written_after: tuple[OutputArtifact, ...] = ()
    required_signatures: tuple[str, ...] = ("serving_default",)
    deep_validation: bool = False
    force_new_version: bool = False
    keep_versions: int = 0
    vertex: VertexTarget | None = None  # register (and deploy) on Vertex AI after the push
