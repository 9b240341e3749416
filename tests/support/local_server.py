"""A server the tests (and `make bench`) run in a process of its own on a free loopback port."""

import socket
import subprocess
import time
import urllib.error
import urllib.request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(command: list[str], ready_url: str, what: str, seconds: float, env: dict | None = None) -> subprocess.Popen:
    """Start `command`, its output thrown away (a pipe nobody reads would fill up and stall it),
    and wait until `ready_url` answers."""
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(ready_url, timeout=1).close()
            return process
        except (urllib.error.URLError, ConnectionError):
            if process.poll() is not None or time.monotonic() > deadline:
                stop(process)
                raise RuntimeError(f"{what} did not start ({ready_url})") from None
            time.sleep(0.05)


def stop(process: subprocess.Popen | None) -> None:
    if process is None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
