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
