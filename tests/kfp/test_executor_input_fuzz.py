"""Property: whatever is changed in a valid executor input, the command exits 0 or 2, never with a
traceback, and on exit 2 writes nothing at all.

Each example replaces or deletes one node of a valid executor input (with any JSON value, or a
hostile string) and runs the command in-process (component.kfp.cli.main, so 60 examples do not pay
60 interpreter starts; tests/kfp/test_hostile_inputs.py runs malformed documents as real processes).
One node per example: two mutated paths that name the same file would be a collision between
outputs, not a malformed document.
"""

import copy
import json
import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from component.kfp import cli

# Relative text only: a mutated destination must land in the example's directory, never in / or
# above it; hostile paths are in HOSTILE, where the command is known to refuse them.
TEXT = st.text(max_size=8).filter(lambda s: not s.startswith("/") and ".." not in s and "://" not in s)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
HOSTILE = st.sampled_from([
    "", "oops", "\x00", "\ud800", "gs://bucket/../../../x", "s3:///etc", "minio://b/../..", "/", ".",
    "[]", "5", "null", "1e999", "-1", "NaN", "true", "\u00b2",
])


def valid_executor_input(model: Path, work: Path) -> dict:
    blessing = work / "blessing"
    blessing.mkdir()
    (blessing / "BLESSED").touch()
    return {
        "inputs": {
            "artifacts": {
                "model": {"artifacts": [{"name": "m", "type": {"schemaTitle": "system.Model"}, "uri": str(model),
                                         "metadata": {}}]},
                "model_blessing": {"artifacts": [{"name": "b", "type": {"schemaTitle": "system.Artifact"},
                                                  "uri": str(blessing), "metadata": {"blessed": 1.0}}]},
                "infra_blessing": {"artifacts": []},
            },
            "parameterValues": {"push_destination": json.dumps({"filesystem": {"base_directory": str(work / "serving")}}),
                                "versioning": "SEQUENTIAL", "keep_versions": 2.0, "force_new_version": False},
        },
        "outputs": {
            "artifacts": {
                "pushed_model": {"artifacts": [{"name": "p", "type": {"schemaTitle": "tfx.PushedModel"},
                                                "uri": str(work / "pushed_model"), "metadata": {}}]},
                "push_report": {"artifacts": [{"name": "r", "uri": str(work / "report.md")}]},
            },
            "parameters": {name: {"outputFile": str(work / "params" / name)}
                           for name in ("pushed", "pushed_destination", "pushed_version")},
            "outputFile": str(work / "executor_output.json"),
        },
    }


def node_paths(node, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        found += node_paths(child, prefix + (key,))
    return found


def mutated(doc: dict, path: tuple, value, delete: bool):
    doc = copy.deepcopy(doc)
    if not path:
        return value
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


def snapshot(root: Path) -> dict[str, bytes | None]:
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            found[str(path.relative_to(root))] = None if path.is_dir() else path.read_bytes()
    return found


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_mutation_exits_0_or_2_and_writes_nothing_on_2(_models, tmp_path_factory, monkeypatch, data):
    scratch = tmp_path_factory.mktemp("fuzz")
    work = Path(tempfile.mkdtemp(dir=scratch))
    (work / "root" / "gcs").mkdir(parents=True)  # gs:// outputs are written at their mounted path, never to GCS
    monkeypatch.setenv("MODEL_PUSHER_MOUNT_ROOT", str(work / "root"))
    monkeypatch.chdir(work)  # relative paths a mutation makes stay in here
    doc = valid_executor_input(_models["module"], work)
    path = data.draw(st.sampled_from(node_paths(doc)), label="path")
    delete = bool(path) and data.draw(st.booleans(), label="delete")
    value = None if delete else data.draw(JSON | HOSTILE, label="value")
    before = snapshot(work)

    code = cli.main(["--executor-input", json.dumps(mutated(doc, path, value, delete))])

    event(f"exit {code}")  # --hypothesis-show-statistics shows how many examples pushed
    assert code in (0, 2)
    if code == 2:
        assert snapshot(work) == before
    shutil.rmtree(work)


def test_the_unmutated_input_pushes(_models, tmp_path, monkeypatch):
    # The property is only worth something if the document it mutates does push.
    monkeypatch.chdir(tmp_path)
    doc = valid_executor_input(_models["module"], tmp_path)
    assert cli.main(["--executor-input", json.dumps(doc)]) == 0
    assert sorted(os.listdir(tmp_path / "serving")) == [".high-water", "1"]
    assert json.loads((tmp_path / "executor_output.json").read_text())["parameterValues"]["pushed"] is True


PLACEHOLDER = "__structural_mutation__"
# Raw JSON text that Python's json module reads but that must never decide a push.
STRUCTURAL = st.one_of(
    st.integers(65, 20_000).map(lambda depth: "[" * depth + "]" * depth),
    st.integers(65, 5_000).map(lambda depth: '{"a":' * depth + "1" + "}" * depth),
    st.integers(4_301, 20_000).map(lambda digits: "9" * digits),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e999"]),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_structural_mutations_exit_2_and_write_nothing(_models, tmp_path_factory, monkeypatch, data):
    """Nesting thousands deep, integers beyond int()'s limit, NaN and Infinity anywhere, and a key
    given twice in any object (which would silently take the last value)."""
    scratch = tmp_path_factory.mktemp("fuzz")
    work = Path(tempfile.mkdtemp(dir=scratch))
    monkeypatch.chdir(work)
    doc = valid_executor_input(_models["module"], work)
    objects = [p for p in node_paths(doc) if isinstance(_at(doc, p), dict) and _at(doc, p)]
    if data.draw(st.booleans(), label="duplicate a key"):
        path = data.draw(st.sampled_from(objects), label="object")
        key = data.draw(st.sampled_from(sorted(_at(doc, path))), label="key")
        duplicate = json.dumps(data.draw(JSON, label="second value"))
        text = json.dumps(mutated(doc, path + (PLACEHOLDER,), 0, False)).replace(
            f'"{PLACEHOLDER}": 0', f"{json.dumps(key)}: {duplicate}")
    else:
        path = data.draw(st.sampled_from(node_paths(doc)[1:]), label="path")
        text = json.dumps(mutated(doc, path, PLACEHOLDER, False)).replace(
            json.dumps(PLACEHOLDER), data.draw(STRUCTURAL, label="raw"))
    before = snapshot(work)

    code = cli.main(["--executor-input", text])

    assert code == 2
    assert snapshot(work) == before
    shutil.rmtree(work)


def _at(doc, path: tuple):
    for key in path:
        doc = doc[key]
    return doc
