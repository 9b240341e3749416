"""The real command, run as a user (or KFP) runs it: a separate process in the repository."""

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `python -m component` as a user (or KFP) would: a separate process."""
    return subprocess.run(
        [sys.executable, "-m", "component", *args],
        cwd=REPO, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def start_cli(*args: str, env: dict | None = None, quiet: bool = False) -> subprocess.Popen:
    """Start `python -m component` as run_cli does, but in the background, for a test that acts on it
    while it runs (a signal, a second push); `quiet` throws its output away instead of piping it,
    for a test that never reads it (a pipe nobody reads fills up and stalls the command)."""
    output = subprocess.DEVNULL if quiet else subprocess.PIPE
    return subprocess.Popen(
        [sys.executable, "-m", "component", *args],
        cwd=REPO, stdout=output, stderr=output, text=True,
        env={**os.environ, **(env or {})},
    )


def wait_until(ready: Callable[[], bool] | threading.Event, seconds: float = 60, never: str = "timed out") -> None:
    """Wait until `ready` (an event, or a condition polled) says so; fail with `never` after `seconds`."""
    if isinstance(ready, threading.Event):
        assert ready.wait(seconds), never
        return
    deadline = time.monotonic() + seconds
    while not ready():
        assert time.monotonic() < deadline, never
        time.sleep(0.05)


class Stopped(NamedTuple):
    seconds: float  # from SIGTERM until the command had exited
    stdout: str
    stderr: str
    signalled: float  # time.monotonic() when SIGTERM was sent


def stop_when(process: subprocess.Popen, ready: Callable[[], bool] | threading.Event, settle: float = 0, *,
              never: str = "timed out", then: Callable[[], object] | None = None,
              afterwards: Callable[[], object] | None = None, timeout: float = 120) -> Stopped:
    """Send SIGTERM, as Kubernetes does, once `ready` says the command (from start_cli) is in the middle
    of something and `settle` more seconds have passed; call `then` and wait for it to exit. Whatever
    happens, the process is killed and then `afterwards` called (to let go of a fault that held it),
    so a failing test leaves nothing behind."""
    try:
        wait_until(ready, never=never)
        if settle:
            time.sleep(settle)
        asked = time.monotonic()
        process.send_signal(signal.SIGTERM)
        if then is not None:
            then()
        stdout, stderr = process.communicate(timeout=timeout)
        return Stopped(time.monotonic() - asked, stdout, stderr, asked)
    finally:
        process.kill()
        if afterwards is not None:
            afterwards()


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    assert "Traceback" not in result.stderr, result.stderr
    return [line for line in result.stderr.splitlines() if " ERROR " in line]


def refused(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit 2 (input refused) with exactly one error line that holds every fragment."""
    return _the_error(result, 2, fragments)


def failed(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit 1 (the push failed) with exactly one error line that holds every fragment."""
    return _the_error(result, 1, fragments)


def _the_error(result: subprocess.CompletedProcess, code: int, fragments: tuple[str, ...]) -> str:
    errors = error_lines(result)
    assert result.returncode == code, result.stderr
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
