"""ministack, an S3 emulator written independently of moto, on a free loopback port: the second S3
implementation every S3 behaviour test runs against.

Unlike moto it verifies the checksums a client sends, and like SeaweedFS before 2026-07 it keeps
only COMPOSITE checksums of multipart uploads (it ignores `x-amz-checksum-type: FULL_OBJECT`). It
pins its own botocore, so it lives in a virtualenv of its own, `.venv-ministack` in the
repository, made on first use (from the package index) and reused after. Its log goes to /dev/null.
"""

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.support import local_server
from tests.support.s3_server import S3Server

VERSION = "1.5.33"
VENV = Path(__file__).resolve().parents[2] / ".venv-ministack"


def installed() -> Path:
    """The ministack command, installed into VENV first if it is not there."""
    command = VENV / "bin" / "ministack"
    if not command.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "--quiet", f"ministack=={VERSION}"], check=True)
    return command


class MinistackServer(S3Server):
    """`with MinistackServer() as s3:` the same interface as s3_server.S3Server."""

    def start(self) -> "MinistackServer":
        env = {**os.environ, "GATEWAY_PORT": str(self.port), "BIND_HOST": "127.0.0.1", "SERVICES": "s3"}
        self._process = local_server.start([str(installed())], f"{self.url}/_ministack/health", "ministack", 60,
                                           env=env)
        return self

    def reset(self) -> None:
        """Forget every bucket and object."""
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/_ministack/reset", method="POST"),
                               timeout=10).close()
