"""The benchmark's models: SavedModel-shaped trees of random bytes around a real saved_model.pb
(the example model's), so validation passes and the bytes cannot be compressed on the way."""

import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "model" / "Format-Serving"
MiB = 1024 * 1024


def many_files(root: Path, shards: int = 300, shard_size: int = MiB, small: int = 20) -> Path:
    """(a) `shards` variable shards of 1 MiB, plus small asset files."""
    model = _skeleton(root)
    for i in range(shards):
        _random_file(model / "variables" / f"variables.data-{i:05d}-of-{shards:05d}", shard_size)
    for i in range(small):
        _random_file(model / "assets" / f"vocab-{i:02d}.txt", 4096)
    return model


def one_big_file(root: Path, size: int = 500 * MiB) -> Path:
    """(b) one big variables shard."""
    model = _skeleton(root)
    _random_file(model / "variables" / "variables.data-00000-of-00001", size)
    return model


def files(model: Path) -> list[str]:
    """Relative paths, saved_model.pb last, as TFX's copy orders them: what the baselines upload."""
    rels = [str(p.relative_to(model)) for p in model.rglob("*") if p.is_file()]
    return sorted(rels, key=lambda rel: rel == "saved_model.pb")


def _skeleton(root: Path) -> Path:
    (root / "variables").mkdir(parents=True)
    (root / "assets").mkdir()
    for rel in ("saved_model.pb", "fingerprint.pb", "variables/variables.index"):
        shutil.copyfile(EXAMPLE / rel, root / rel)
    return root


def _random_file(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        while size > 0:
            chunk = os.urandom(min(size, 16 * MiB))
            f.write(chunk)
            size -= len(chunk)


if __name__ == "__main__":
    # Built in their own process by bench/run.py: the 16 MiB write buffers would otherwise raise the
    # runner's peak RSS, which every process it starts inherits (Linux keeps it across exec).
    work = Path(sys.argv[1])
    many_files(work / "a")
    one_big_file(work / "b")
    one_big_file(work / "b-half", 250 * MiB)
    # Over the network line (bench/network.py): many small files, and one file bigger than (b).
    many_files(work / "c", shards=200, shard_size=256 * 1024, small=0)
    one_big_file(work / "d", 1024 * MiB)
    one_big_file(work / "e", 128 * MiB)
    # Latency-bound on S3: what each request costs is its round trip, not its bytes.
    many_files(work / "f", shards=400, shard_size=16 * 1024, small=0)
