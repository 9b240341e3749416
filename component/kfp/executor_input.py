"""Read KFP v2's executor input (`{{$}}`) into plain values, checking the type of every field used.

The document comes from outside (the launcher, or whoever runs the container), so any field may
have any JSON type. Each one is read through `_Reader`, which knows its JSON path, so any wrong
shape becomes one line naming that path, e.g.
`executor_input: inputs.artifacts.model_blessing.artifacts[0] is a string, expected an object`.
Absent optional fields are absent; a field that is present with the wrong type (null included)
is an error, never read as "not given": a blessing that cannot be read must not open the gate.
"""

from dataclasses import dataclass, field
from typing import Any, Mapping

from component.errors import InputError
from component.jsontext import load_json

_JSON_TYPES = {
    dict: "an object", list: "an array", str: "a string", bool: "a boolean",
    int: "a number", float: "a number", type(None): "null",
}


@dataclass(frozen=True)
class RawArtifact:
    uri: str
    metadata: dict[str, Any] = field(default_factory=dict)
    name: str = ""  # KFP's artifact name (projects/.../artifacts/42), echoed back for outputs


@dataclass(frozen=True)
class ExecutorInput:
    artifacts: dict[str, RawArtifact]  # connected input artifacts by input name
    parameter_values: dict[str, Any]
    output_artifacts: dict[str, RawArtifact]
    output_file: str | None  # where KFP wants the executor output
    parameter_files: dict[str, str]  # output parameter name -> file


class _Reader:
    """A JSON value and its path in the document."""

    def __init__(self, value: Any, path: str) -> None:
        self.value = value
        self.path = path

    def expect(self, *kinds: type) -> Any:
        # bool is an int in Python but not a number in JSON.
        if not isinstance(self.value, kinds) or (isinstance(self.value, bool) and bool not in kinds):
            wanted = " or ".join(dict.fromkeys(_JSON_TYPES[k] for k in kinds))
            raise InputError(f"executor_input: {self.path or 'the document'} is {_describe(self.value)}, expected {wanted}")
        return self.value

    def get(self, key: str) -> "_Reader | None":
        """The member `key` of this object, or None when absent."""
        doc = self.expect(dict)
        if key not in doc:
            return None
        return _Reader(doc[key], f"{self.path}.{key}" if self.path else key)

    def items(self) -> list[tuple[str, "_Reader"]]:
        return [(key, self.get(key)) for key in self.expect(dict)]

    def text(self) -> str:
        """A string that names something (a uri, a file): empty is as good as missing."""
        value = self.expect(str)
        if not value:
            raise InputError(f"executor_input: {self.path} is an empty string")
        return value


def _describe(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def parse_executor_input(text: str, parameter_types: Mapping[str, tuple[type, ...]]) -> ExecutorInput:
    """`parameter_types`: the JSON types each known input parameter may have (others are ignored)."""
    doc = _Reader(load_json(text, "executor_input"), "")
    doc.expect(dict)
    inputs = _member(doc, "inputs")
    outputs = _member(doc, "outputs")
    values = _member(inputs, "parameterValues")
    parameter_values = {}
    for name, value in _items(values):
        if name in parameter_types:
            parameter_values[name] = value.expect(*parameter_types[name])
    parameter_files = {}
    for name, spec in _items(_member(outputs, "parameters")):
        path = _member(spec, "outputFile", str)
        if path is not None:
            parameter_files[name] = path.text()
    output_file = _member(outputs, "outputFile", str)
    return ExecutorInput(
        artifacts=_artifacts(_member(inputs, "artifacts")),
        parameter_values=parameter_values,
        output_artifacts=_artifacts(_member(outputs, "artifacts")),
        output_file=None if output_file is None else output_file.text(),
        parameter_files=parameter_files,
    )


def _items(section: _Reader | None) -> list[tuple[str, _Reader]]:
    return [] if section is None else section.items()


def _member(parent: _Reader | None, key: str, kind: type = dict) -> _Reader | None:
    """parent[key] checked to be of `kind`, or None when the parent or the member is absent."""
    if parent is None:
        return None
    child = parent.get(key)
    if child is not None:
        child.expect(kind)
    return child


def _artifacts(section: _Reader | None) -> dict[str, RawArtifact]:
    """{name: {"artifacts": [artifact]}}: an empty list is an input that is not connected."""
    found = {}
    for name, entry in _items(section):
        listed = entry.get("artifacts")
        if listed is None:
            raise InputError(f"executor_input: {entry.path} has no artifacts list")
        items = listed.expect(list)
        if len(items) > 1:
            raise InputError(f"executor_input: {listed.path} holds {len(items)} artifacts, expected one")
        if items:
            found[name] = _artifact(_Reader(items[0], f"{listed.path}[0]"))
    return found


def _artifact(item: _Reader) -> RawArtifact:
    item.expect(dict)
    uri = item.get("uri")
    if uri is None:
        raise InputError(f"executor_input: {item.path} has no uri")
    metadata = _member(item, "metadata")
    name = _member(item, "name", str)
    _member(_member(item, "type"), "schemaTitle", str)  # unused; a wrong shape is still a broken document
    return RawArtifact(
        uri=uri.text(),
        metadata={} if metadata is None else dict(metadata.value),
        name="" if name is None else name.value,
    )
