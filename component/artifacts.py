"""Input and output artifacts as every layer sees them, whichever front (KFP or flags) made them,
and the one reader of the booleans they carry."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from component.errors import InputError

_TRUE = {"1", "1.0", "true"}
_FALSE = {"0", "0.0", "false"}


@dataclass(frozen=True)
class Artifact:
    name: str  # the input's name, e.g. "model_blessing", used in every message about it
    uri: str  # as given: gs://..., minio://..., or a local path
    path: Path  # where its files are readable in this process
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OutputArtifact:
    name: str
    uri: str
    path: Path
    artifact_name: str = ""  # KFP's artifact name, echoed back in the executor output


def parse_flag(value: Any, source: str) -> bool:
    """Read a boolean as KFP delivers MLMD properties (1.0) and as users write them (true, "1")."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise InputError(f"{source}: expected 1/0 or true/false, got {value!r}")
