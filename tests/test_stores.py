"""The guarantees every store gives, one suite run against each: a local directory, gs:// on
fake-gcs-server and s3:// on moto's S3 server, always through the real command."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import google_crc32c
import numpy as np
import pytest

from blessings import blessing
from component.runtime.checksums import b64_crc32c, crc32c_of_file
from component.push.versioning import parse_version
from conftest import REPO, run_cli
from savedmodels import serve

BASE = "serving/my_model"
X = [[1.0, 2.0, 3.0]]


def crc(data: bytes) -> str:
    return b64_crc32c(google_crc32c.value(data).to_bytes(4, "big"))


@dataclass
class Store:
    """One store under test: where things are, and how to look at them without the pusher."""

    kind: str
    env: dict[str, str] = field(default_factory=dict)
    root: Path | None = None  # local
    client: object = None  # gs: google.cloud.storage.Client; s3: a boto3 client
    bucket: str = ""

    def uri(self, path: str = BASE) -> str:
        return str(self.root / path) if self.kind == "local" else f"{self.kind}://{self.bucket}/{path}"

    def objects(self, prefix: str = "") -> Iterator[tuple[str, bytes]]:
        """(name relative to the store's top, bytes) of every file under `prefix`."""
        if self.kind == "local":
            for path in sorted((self.root / prefix).rglob("*")):
                if path.is_file():
                    yield str(path.relative_to(self.root)), path.read_bytes()
        elif self.kind == "gs":
            for blob in self.client.list_blobs(self.bucket, prefix=prefix):
                yield blob.name, blob.download_as_bytes()
        else:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                for o in page.get("Contents", ()):
                    yield o["Key"], self.client.get_object(Bucket=self.bucket, Key=o["Key"])["Body"].read()

    def names(self, prefix: str = "") -> set[str]:
        """Every file and (local) directory name under `prefix`, without reading them."""
        if self.kind == "local":
            return {str(p.relative_to(self.root)) for p in (self.root / prefix).rglob("*")} if (self.root / prefix).exists() else set()
        if self.kind == "gs":
            return {b.name for b in self.client.list_blobs(self.bucket, prefix=prefix)}
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return {o["Key"] for page in pages for o in page.get("Contents", ())}

    def versions(self) -> dict[int, dict[str, str]]:
        """Each numeric version under BASE: its files and the CRC32C of the bytes the store serves."""
        found: dict[int, dict[str, str]] = {}
        for name, data in self.objects(f"{BASE}/"):
            top, _, rel = name[len(BASE) + 1:].partition("/")
            if parse_version(top) is not None:
                found.setdefault(int(top), {})[rel] = crc(data)
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
        for name, data in self.objects(prefix):
            (dest / name[len(prefix):]).parent.mkdir(parents=True, exist_ok=True)
            (dest / name[len(prefix):]).write_bytes(data)
        return dest


def _store(kind: str, request, tmp_path) -> Store:
    if kind == "local":
        return Store("local", root=tmp_path / "store")
    if kind == "gs":
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        emulator = request.getfixturevalue("gcs_emulator")
        client = storage.Client(project="test", credentials=AnonymousCredentials(),
                                client_options={"api_endpoint": emulator.url})
        return Store("gs", {"STORAGE_EMULATOR_HOST": emulator.url}, client=client,
                     bucket=request.getfixturevalue("gcs_bucket"))
    # S3 on two independent implementations: moto, and ministack (which verifies checksums).
    server = request.getfixturevalue("s3_server" if kind == "s3" else "ministack_server")
    bucket = request.getfixturevalue("s3_bucket" if kind == "s3" else "ministack_bucket")
    return Store("s3", server.env(), client=server.client(), bucket=bucket)


@pytest.fixture(params=["local", "gs", "s3", "s3-ministack"])
def store(request, tmp_path) -> Store:
    return _store(request.param, request, tmp_path)


@pytest.fixture(params=["gs", "s3", "s3-ministack"])
def remote_store(request, tmp_path) -> Store:
    return _store(request.param, request, tmp_path)


def crcs(model: Path) -> dict[str, str]:
    return {str(p.relative_to(model)): crc32c_of_file(str(p)) for p in model.rglob("*") if p.is_file()}


def push(store: Store, model, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return run_cli("--model", str(model), "--push-destination", store.uri(), *args, env={**store.env, **(env or {})})


def record(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def with_big_files(model: Path, count: int, size: int) -> Path:
    rng = random.Random(11)
    (model / "assets").mkdir(exist_ok=True)
    for i in range(count):
        (model / "assets" / f"big-{i}.bin").write_bytes(rng.randbytes(size))
    return model


def test_a_push_serves_the_model_with_the_same_crc32c(store, saved_model, tmp_path):
    started = int(time.time())
    pushed = record(push(store, saved_model))
    version = int(pushed["pushed_version"])
    assert started <= version <= time.time()  # TFX's Unix-time versions
    assert pushed["pushed_destination"] == store.uri(f"{BASE}/{version}")
    assert store.versions() == {version: crcs(saved_model)}
    # Nothing else left behind: no staging, lease, claim or probe.
    assert {n for n in store.names() if not n.startswith(f"{BASE}/{version}")} <= {"serving", BASE}
    served = store.download(f"{BASE}/{version}/", tmp_path / "served")
    np.testing.assert_allclose(serve(served, X)["y"], serve(saved_model, X)["y"])


def test_sequential_versions_reuse_and_force_new_version(store, saved_model, keras_saved_model):
    sequential = ("--versioning", "SEQUENTIAL")
    assert record(push(store, saved_model, *sequential))["pushed_version"] == "1"
    assert record(push(store, keras_saved_model, *sequential))["pushed_version"] == "2"
    again = record(push(store, keras_saved_model, *sequential))
    assert (again["pushed_version"], again["reused"]) == ("2", 1)
    forced = record(push(store, keras_saved_model, *sequential, "--force-new-version", "true"))
    assert (forced["pushed_version"], forced["reused"]) == ("3", 0)
    assert store.versions() == {1: crcs(saved_model), 2: crcs(keras_saved_model), 3: crcs(keras_saved_model)}


def test_racing_pushes_get_distinct_versions(store, saved_model, keras_saved_model):
    models = [saved_model, keras_saved_model] * 2
    pushes = [
        subprocess.Popen([sys.executable, "-m", "component", "--model", str(m), "--push-destination", store.uri(),
                          "--versioning", "SEQUENTIAL", "--force-new-version", "true"],
                         cwd=REPO, env={**os.environ, **store.env}, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for m in models
    ]
    results = [(p.communicate(timeout=180), p.returncode) for p in pushes]
    for (_, stderr), code in results:
        assert code == 0, stderr
    versions = [int(json.loads(out)["pushed_version"]) for (out, _), _ in results]
    assert sorted(versions) == [1, 2, 3, 4]
    published = store.versions()
    assert {v: published[v] for v in versions} == {v: crcs(m) for v, m in zip(versions, models)}


def test_list_rollback_and_retention(store, saved_model, keras_saved_model):
    sequential = ("--versioning", "SEQUENTIAL")
    record(push(store, saved_model, *sequential))
    record(push(store, keras_saved_model, *sequential))
    listed = run_cli("list", "--push-destination", store.uri(), "--json", env=store.env)
    assert [(v["version"], v["complete"]) for v in json.loads(listed.stdout)] == [(1, True), (2, True)]

    destination = json.dumps({"filesystem": {"base_directory": store.uri(), "versioning": "SEQUENTIAL"}})
    rolled = record(run_cli("rollback", "--push-destination", destination, env=store.env))
    assert rolled["pushed_version"] == "3"
    assert store.versions() == {1: crcs(saved_model), 2: crcs(keras_saved_model), 3: crcs(saved_model)}

    kept = record(push(store, keras_saved_model, *sequential, "--keep-versions", "1"))
    assert kept["pushed_version"] == "4" and kept["removed_versions"] == [3, 2, 1]
    assert store.versions() == {4: crcs(keras_saved_model)}


def test_a_model_that_is_not_blessed_writes_nothing(store, saved_model, tmp_path):
    not_blessed = blessing(tmp_path / "evaluator" / "blessing", "NOT_BLESSED")
    result = record(push(store, saved_model, "--model-blessing", str(not_blessed)))
    assert result["pushed"] == 0
    assert not store.names(BASE)


@pytest.mark.parametrize("name", ["a/../b", "/x"])
def test_a_model_listing_with_an_unsafe_name_is_refused(remote_store, saved_model, name):
    remote_store.upload("trainer/model", saved_model)
    remote_store.put(f"trainer/model/{name}", b"planted")
    result = run_cli("--model", remote_store.uri("trainer/model"), "--push-destination", remote_store.uri(),
                     env=remote_store.env)
    assert result.returncode == 2, result.stderr
    [line] = [x for x in result.stderr.splitlines() if " ERROR " in x]
    assert repr(name) in line and "not a plain relative path" in line
    assert not remote_store.names(BASE)


def test_a_killed_push_is_cleaned_up_by_the_next(store, saved_model):
    model = with_big_files(saved_model, count=6, size=8_000_000)
    lease = {"MODEL_PUSHER_LEASE_SECONDS": "1"}
    command = [sys.executable, "-m", "component", "--model", str(model), "--push-destination", store.uri(),
               "--versioning", "SEQUENTIAL"]
    killed = subprocess.Popen(command, cwd=REPO, env={**os.environ, **store.env, **lease},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not any(".pushing-" in n for n in store.names(BASE)) and time.monotonic() < deadline:
        time.sleep(0.005)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert any(".pushing-" in n for n in store.names(BASE)), "the push was not killed while it was staging"

    time.sleep(1.5)  # its lease is stale now
    result = record(run_cli(*command[3:], env={**store.env, **lease}))
    assert not [n for n in store.names(BASE) if ".pushing-" in n]
    assert store.versions() == {int(result["pushed_version"]): crcs(model)}
