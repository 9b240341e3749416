"""moto's S3 server on a free loopback port, started and stopped by the tests (and usable by
`make bench`): a real HTTP server speaking the S3 API, in its own process, objects in memory.

moto honours If-None-Match on PutObject and CompleteMultipartUpload and If-Match on PutObject; it
stores the CRC32C a client sends without checking it, and its check-then-write holds no lock. Its
request log goes to /dev/null: a pipe nobody reads would fill up and stall it.

boto3 is imported only by `client()`: `make bench` starts servers with this helper, and whatever
its runner imports raises the peak RSS of every process it measures (Linux keeps it across exec).
"""

import os
import subprocess
import sys
import urllib.request

from tests.support import local_server
from tests.support.local_server import free_port

# Dummy credentials: moto checks no signature, but botocore signs every request.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing-access-key", "AWS_SECRET_ACCESS_KEY": "testing-secret-key-do-not-print"}
REGION = "us-east-1"


class S3Server:
    """`with S3Server() as s3:` point boto3 at `s3.url` (AWS_ENDPOINT_URL, see `env`)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen | None = None

    def env(self, url: str | None = None) -> dict[str, str]:
        """What a push needs to reach this server (or a proxy in front of it at `url`)."""
        return {"AWS_ENDPOINT_URL": url or self.url, "AWS_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true",
                **CREDENTIALS}

    def start(self) -> "S3Server":
        self._process = local_server.start(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            f"{self.url}/moto-api/", "moto's S3 server", 30, env={**os.environ, "MOTO_PORT": str(self.port)},
        )
        return self

    def stop(self) -> None:
        local_server.stop(self._process)
        self._process = None

    def reset(self) -> None:
        """Forget every bucket and object."""
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST"), timeout=10).close()

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.url, region_name=REGION,
                            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                            config=Config(s3={"addressing_style": "path"}))

    def create_bucket(self, name: str) -> None:
        # A plain PUT (moto checks no signature), without boto3: see the module's docstring.
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/{name}", method="PUT"), timeout=10).close()

    def __enter__(self) -> "S3Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
