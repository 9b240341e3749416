"""Where the tests push to, and how they look at it without the pusher: one harness for a local
directory, gs:// on fake-gcs-server and s3:// on moto's S3 server and on ministack.

A store-facing test takes a Destination from a fixture (conftest.py: `destination` for every
store, `remote_destination` for the buckets, or `gcs_destination` / `s3_destination` /
`ministack_destination`), pushes with
`push`, reads versions with `Destination.versions` and builds big models with `with_big_files`. A
new store is one more kind here and one more parameter of those fixtures.
"""

import json
import random
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import google_crc32c

from component.push.versioning import parse_version
from component.stores.checksums import b64_crc32c, crc32c_of_file
from tests.support.command import run_cli

BASE = "serving/my_model"


@dataclass
class Destination:
    """One store under test: where things are, and how to look at them without the pusher."""

    kind: str  # "local", "gs" or "s3": the scheme of its URIs
    env: dict[str, str] = field(default_factory=dict)  # what the command needs to reach the store
    root: Path | None = None  # local
    client: object = None  # gs: google.cloud.storage.Client; s3: a boto3 client
    bucket: str = ""

    def uri(self, path: str = BASE) -> str:
        return str(self.root / path) if self.kind == "local" else f"{self.kind}://{self.bucket}/{path}"

    def names(self, prefix: str = "") -> set[str]:
        """Every object (local: every file and directory) under `prefix`, without reading them."""
        if self.kind == "local":
            top = self.root / prefix
            return {str(p.relative_to(self.root)) for p in top.rglob("*")} if top.exists() else set()
        if self.kind == "gs":
            return {b.name for b in self.client.list_blobs(self.bucket, prefix=prefix)}
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return {o["Key"] for page in pages for o in page.get("Contents", ())}

    def objects(self, prefix: str = "") -> Iterator[tuple[str, bytes, str | None]]:
        """(name, bytes served, CRC32C the store keeps for it) of every file under `prefix`; objects
        deleted between the listing and the read (a version being cleaned up) are left out."""
        if self.kind == "local":
            for path in sorted((self.root / prefix).rglob("*")):
                if path.is_file():
                    yield str(path.relative_to(self.root)), path.read_bytes(), None
        elif self.kind == "gs":
            from google.api_core.exceptions import NotFound

            for blob in self.client.list_blobs(self.bucket, prefix=prefix):
                try:
                    yield blob.name, blob.download_as_bytes(), blob.crc32c
                except NotFound:
                    continue
        else:
            for key in sorted(self.names(prefix)):
                try:
                    got = self.client.get_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
                except self.client.exceptions.NoSuchKey:
                    continue
                yield key, got["Body"].read(), _whole_crc32c(got)

    def versions(self, base: str = BASE) -> dict[int, dict[str, str]]:
        """Each numeric version under `base`: its files and the CRC32C of the bytes the store serves,
        which in a bucket must also be the CRC32C the store keeps (what a download checks)."""
        found: dict[int, dict[str, str]] = {}
        for name, data, kept in self.objects(f"{base}/"):
            top, _, rel = name[len(base) + 1:].partition("/")
            if parse_version(top) is not None:
                served = b64_crc32c(google_crc32c.value(data).to_bytes(4, "big"))
                assert self.kind == "local" or kept == served, f"{name}: the store keeps CRC32C {kept}, serves {served}"
                found.setdefault(int(top), {})[rel] = served
        return found

    def put(self, key: str, data: bytes) -> None:
        if self.kind == "local":
            (self.root / key).parent.mkdir(parents=True, exist_ok=True)
            (self.root / key).write_bytes(data)
        elif self.kind == "gs":
            self.client.bucket(self.bucket).blob(key).upload_from_string(data)
        else:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ChecksumAlgorithm="CRC32C")

    def upload(self, prefix: str, model: Path) -> None:
        for path in model.rglob("*"):
            if path.is_file():
                self.put(f"{prefix}/{path.relative_to(model)}", path.read_bytes())

    def download(self, prefix: str, dest: Path) -> Path:
        for name, data, _ in self.objects(prefix):
            (dest / name[len(prefix):]).parent.mkdir(parents=True, exist_ok=True)
            (dest / name[len(prefix):]).write_bytes(data)
        return dest


def _whole_crc32c(got: dict) -> str | None:
    """The CRC32C an S3 store keeps of a whole object. A multipart object's (ETag "...-N") is a
    COMPOSITE one, a CRC32C of its parts' CRC32Cs, unless the store says FULL_OBJECT; the pusher
    records the whole file's in the object's metadata."""
    from component.stores.s3 import CRC32C_METADATA  # boto3 only where S3 is looked at

    composite = got.get("ChecksumType") == "COMPOSITE" or got["ETag"].rstrip('"').rpartition("-")[1]
    if composite and got.get("ChecksumType") != "FULL_OBJECT":
        return got.get("Metadata", {}).get(CRC32C_METADATA)
    return got.get("ChecksumCRC32C")


def local_at(root: Path) -> Destination:
    return Destination("local", root=root)


def gcs_at(emulator, bucket: str) -> Destination:
    """`emulator`: a running tests.support.gcs_emulator.Emulator; `bucket`: one of its buckets."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    client = storage.Client(project="test", credentials=AnonymousCredentials(),
                            client_options={"api_endpoint": emulator.url})
    return Destination("gs", via(emulator.url), client=client, bucket=bucket)


def s3_at(server, bucket: str) -> Destination:
    """`server`: a running tests.support.s3_server.S3Server or ministack_server.MinistackServer;
    `bucket`: one of its buckets."""
    return Destination("s3", server.env(), client=server.client(), bucket=bucket)


class Pushed(subprocess.CompletedProcess):
    """A run of the command, with its JSON record (None unless it exited 0)."""

    @property
    def record(self) -> dict | None:
        return json.loads(self.stdout) if self.returncode == 0 else None


def push(model: Path | str | None, destination: Destination | Path | str, *args: str,
         env: dict | None = None, timeout: float = 120) -> Pushed:
    """`python -m component --model MODEL --push-destination DESTINATION ARGS...` as a process (no
    --model when `model` is None); a Destination brings its URI for BASE and its environment."""
    if isinstance(destination, Destination):
        where, store_env = destination.uri(), destination.env
    else:
        where, store_env = str(destination), {}
    model_args = () if model is None else ("--model", str(model))
    done = run_cli(*model_args, "--push-destination", where, *args, env={**store_env, **(env or {})}, timeout=timeout)
    return Pushed(done.args, done.returncode, done.stdout, done.stderr)


def pushed(result: subprocess.CompletedProcess) -> dict:
    """The record of a run that must have succeeded."""
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def via(url: str) -> dict[str, str]:
    """The environment that sends the command's GCS requests to `url` (the emulator, or a proxy in front of it)."""
    return {"STORAGE_EMULATOR_HOST": url}


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if " ERROR " in line]


def crcs(model: Path) -> dict[str, str]:
    """Each file of a model directory and its CRC32C, as Destination.versions gives a version."""
    return {str(p.relative_to(model)): crc32c_of_file(str(p)) for p in model.rglob("*") if p.is_file()}


def with_big_files(model: Path, big: int, size: int = 3_000_000, small: int = 0, seed: int = 7) -> Path:
    """The model plus unreferenced assets (TensorFlow ignores them): `small` files of 100 kB, which go
    straight into a version, and `big` files of `size` bytes, which are staged first (over 2 MiB)."""
    rng = random.Random(seed)
    assets = model / "assets"
    assets.mkdir(exist_ok=True)
    for i in range(small):
        (assets / f"small-{i}.bin").write_bytes(rng.randbytes(100_000))
    for i in range(big):
        (assets / f"big-{i}.bin").write_bytes(rng.randbytes(size))
    return model
