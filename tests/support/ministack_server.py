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
from tests.support.local_server import free_port
from tests.support.s3_server import CREDENTIALS, REGION

VERSION = "1.5.33"
VENV = Path(__file__).resolve().parents[2] / ".venv-ministack"


def installed() -> Path:
    """The ministack command, installed into VENV first if it is not there."""
    command = VENV / "bin" / "ministack"
    if not command.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "--quiet", f"ministack=={VERSION}"], check=True)
    return command


class MinistackServer:
    """`with MinistackServer() as s3:` the same interface as s3_server.S3Server."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen | None = None

    def env(self, url: str | None = None) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL": url or self.url, "AWS_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true",
                **CREDENTIALS}

    def start(self) -> "MinistackServer":
        env = {**os.environ, "GATEWAY_PORT": str(self.port), "BIND_HOST": "127.0.0.1", "SERVICES": "s3"}
        self._process = local_server.start([str(installed())], f"{self.url}/_ministack/health", "ministack", 60,
                                           env=env)
        return self

    def stop(self) -> None:
        local_server.stop(self._process)
        self._process = None

    def reset(self) -> None:
        """Forget every bucket and object."""
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/_ministack/reset", method="POST"),
                               timeout=10).close()

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.url, region_name=REGION,
                            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                            config=Config(s3={"addressing_style": "path"}))

    def create_bucket(self, name: str) -> None:
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/{name}", method="PUT"), timeout=10).close()

    def __enter__(self) -> "MinistackServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
