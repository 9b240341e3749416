"""The real command, run as a user (or KFP) runs it: a separate process in the repository."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `python -m component` as a user (or KFP) would: a separate process."""
    return subprocess.run(
        [sys.executable, "-m", "component", *args],
        cwd=REPO, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    assert "Traceback" not in result.stderr, result.stderr
    return [line for line in result.stderr.splitlines() if " ERROR " in line]


def refused(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit 2 with exactly one error line that holds every fragment."""
    errors = error_lines(result)
    assert result.returncode == 2, result.stderr
    assert len(errors) == 1, errors
    assert all(f in errors[0] for f in fragments), errors[0]
    return errors[0]


def tree(root: Path) -> dict[str, bytes | str | None]:
    """Everything below `root`: file contents, symlink targets, directories (None)."""
    found: dict[str, bytes | str | None] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            rel = str(path.relative_to(root))
            if path.is_symlink():
                found[rel] = "-> " + os.readlink(path)
            elif path.is_dir():
                found[rel] = None
            else:
                found[rel] = path.read_bytes()
    return found
