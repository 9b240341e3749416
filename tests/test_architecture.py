"""The package's layers hold: the core (push, savedmodel, stores, runtime, vertex) knows nothing of
the KFP face, read from every import statement, those inside functions too; and a local push, run
as the real command, loads neither kfp nor TensorFlow (the image has neither)."""

import ast
import json
from pathlib import Path

import pytest

from tests.support.command import REPO, run_cli

CORE = ("push", "savedmodel", "stores", "runtime", "vertex")
FACE = "component.kfp"
HEAVY = {"kfp", "tensorflow"}  # top-level packages the push path must never load


def imported_modules(source: str, module: str) -> list[tuple[int, str]]:
    """(line, module name) for every import in `source`, the text of the module named `module`:
    relative imports resolved, and `from a import b` counted as importing a.b too (b may be a module)."""
    package = module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def imports_of_the_face(source: str, module: str) -> list[str]:
    return [f"line {line}: {name}" for line, name in imported_modules(source, module)
            if name == FACE or name.startswith(f"{FACE}.")]


def core_modules() -> list[Path]:
    return sorted(p for layer in CORE for p in (REPO / "component" / layer).rglob("*.py"))


def test_the_core_never_imports_the_kfp_face():
    assert len(core_modules()) > 20  # the walk found the package
    offending = {}
    for path in core_modules():
        module = ".".join(path.relative_to(REPO).with_suffix("").parts)
        if found := imports_of_the_face(path.read_text(), module):
            offending[str(path.relative_to(REPO))] = found
    assert not offending, f"the core imports component.kfp: {offending}"


@pytest.mark.parametrize("source", [
    "import component.kfp.cli",
    "from component.kfp import options",
    "from component import kfp",
    "from ..kfp.request import build",
    "def later():\n    from component.kfp.outputs import write\n",
    "class A:\n    def m(self):\n        import component.kfp\n",
])
def test_the_check_sees_every_way_of_importing_the_face(source):
    assert imports_of_the_face(source, "component.push.run")


def test_the_check_lets_the_core_import_itself():
    source = "from component.push import gate\nfrom ..stores.bucket import Bucket\nimport component.kfpx\n"
    assert not imports_of_the_face(source, "component.push.run")


def test_a_local_push_loads_neither_kfp_nor_tensorflow(saved_model, tmp_path):
    # -X importtime names every module the interpreter loads, as the real command runs.
    result = run_cli("--model", str(saved_model), "--push-destination", str(tmp_path / "serving"),
                     env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["pushed"] == 1
    loaded = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert "component.push.run" in loaded  # the profile covers the push itself
    assert not {name for name in loaded if name.split(".")[0] in HEAVY}
