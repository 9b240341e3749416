"""Big files go to GCS as slices uploaded in parallel and composed by GCS (component/gcs.py): the
published object must be the file, byte for byte, with no slice left behind; a slice that
arrives corrupt must fail the push with nothing published."""

import os
from pathlib import Path
from urllib.parse import unquote

from component.stores import gcs
from component.stores.checksums import crc32c_of_file
from tests.support.command import failed
from tests.support.destinations import BASE, gcs_at, push, via
from tests.support.gcs_faults import FaultProxy, Seen

SHARD = "variables/variables.data-00000-of-00001"


def with_big_shard(model: Path) -> Path:
    """The model with its variables shard replaced by random bytes just over the composite
    threshold, in slices of unequal length (the last one shorter)."""
    size = gcs.COMPOSITE_MIN + gcs.MIN_SLICE // 2 + 12345
    with open(model / SHARD, "wb") as f:
        for _ in range(size // 2**20):
            f.write(os.urandom(2**20))
        f.write(os.urandom(size % 2**20))
    return model


def slice_upload(seen: Seen) -> bool:
    return seen.method == "POST" and ".slice-" in unquote(seen.path) and "uploadType=media" in seen.path


def test_a_big_file_is_uploaded_in_slices_and_composed_into_the_exact_file(saved_model, gcs_emulator, gcs_bucket):
    model = with_big_shard(saved_model)
    with FaultProxy(gcs_emulator.url) as proxy:
        result = push(model, f"gs://{gcs_bucket}/{BASE}", "--versioning", "SEQUENTIAL", env=via(proxy.url))
    assert result.returncode == 0, result.stderr
    size = (model / SHARD).stat().st_size
    slices = [s for s in proxy.requests if slice_upload(s)]
    assert len(slices) == -(-size // gcs.MIN_SLICE)
    assert sum(len(s.body) for s in slices) == size
    assert len([s for s in proxy.requests if s.path.split("?")[0].endswith("/compose")]) == 1
    destination = gcs_at(gcs_emulator, gcs_bucket)
    assert destination.versions()[1][SHARD] == crc32c_of_file(str(model / SHARD))
    blob = destination.client.bucket(gcs_bucket).blob(f"{BASE}/1/{SHARD}")
    assert blob.download_as_bytes() == (model / SHARD).read_bytes()
    assert not [n for n in destination.names() if ".slice-" in n or ".pushing-" in n]


def test_a_slice_that_arrives_corrupt_fails_the_push_and_leaves_nothing(saved_model, gcs_emulator, gcs_bucket):
    model = with_big_shard(saved_model)
    first = []

    def decide(seen: Seen):
        if slice_upload(seen) and not first:
            first.append(seen)
            return "corrupt-request"
        return None

    with FaultProxy(gcs_emulator.url, decide) as proxy:
        result = push(model, f"gs://{gcs_bucket}/{BASE}", env=via(proxy.url))
    assert proxy.faults, "no slice was corrupted"
    failed(result, "slice", "arrived corrupt", "nothing was published")
    destination = gcs_at(gcs_emulator, gcs_bucket)
    assert destination.versions() == {}
    assert not [n for n in destination.names() if ".slice-" in n or ".pushing-" in n]
