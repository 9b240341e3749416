"""The note a rollback leaves inside the version it publishes: which version it copies, which one
it rolled back from, and when. `list` reads it to say what each version is, and `rollback` to
know that the newest version is already a rollback (so running it twice rolls back once).

It is a small JSON file in assets.extra/, the SavedModel's folder for files that TensorFlow does
not load (TF Serving reads only its warmup file there), so model servers serve the copy exactly
like the version it copies. It speaks of the versions of the base its rollback ran on, so only a
rollback publishes one: a push leaves a note behind (run.py), and a note that is not exactly what
a rollback writes is ignored."""

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from component.errors import Interrupted, PusherError
from component.model import Model, ModelFile
from component.push.versioning import MAX_VERSION
from component.stores.transfer import read_bytes

log = logging.getLogger(__name__)

NOTE = "assets.extra/model_pusher_rollback.json"
# What the pusher writes is about 90 bytes; anything much bigger is not a note of ours, and is
# never read whole (a listing reads every copy's note).
MAX_NOTE_BYTES = 1024
# Unix times a calendar can print: up to the last second of year 9999.
_LATEST = 253402300799.0


@dataclass(frozen=True)
class RollbackNote:
    copy_of: int  # the version whose model this is (a copy of a copy names the first)
    rolled_back_from: int  # the newest version when the rollback ran
    at: float  # Unix time of the rollback

    def text(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.at))
        return f"copy of version {self.copy_of} made by a rollback from version {self.rolled_back_from} at {when}"


def read_note(model: Model) -> RollbackNote | None:
    """The note in a published version, or None for a version a push made. Anyone who can write
    to the base can write a note: one that is not exactly what a rollback writes is ignored."""
    found = next((f for f in model.files if f.rel == NOTE), None)
    if found is None:
        return None
    try:
        if found.size > MAX_NOTE_BYTES:
            raise ValueError(f"{found.size} bytes, more than a note's {MAX_NOTE_BYTES}")
        note = _parse(read_bytes(found)[:MAX_NOTE_BYTES + 1])
    except Interrupted:
        raise
    except (PusherError, ValueError, RecursionError) as exc:
        log.warning("%s holds a rollback note that is not one this pusher wrote (%s); it is listed as pushed.",
                    model.root, exc)
        return None
    return note


def _parse(data: bytes) -> RollbackNote:
    if len(data) > MAX_NOTE_BYTES:
        raise ValueError(f"more than a note's {MAX_NOTE_BYTES} bytes")
    doc = json.loads(data, parse_constant=_no_constant)
    fields = {"copy_of", "rolled_back_from", "at"}
    if not isinstance(doc, dict) or set(doc) != fields:
        raise ValueError(f"expected a JSON object with exactly the fields {sorted(fields)}")
    versions = doc["copy_of"], doc["rolled_back_from"]
    if not all(type(v) is int and 0 < v <= MAX_VERSION for v in versions):
        raise ValueError("copy_of and rolled_back_from must be version numbers")
    at = doc["at"]
    if type(at) not in (int, float) or not (math.isfinite(at) and 0 <= at <= _LATEST):
        raise ValueError("at must be a Unix time")
    return RollbackNote(*versions, float(at))


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number a note holds")


def without_note(model: Model) -> Model:
    """The model as its push made it (also without anything else squatting on the note's path)."""
    def other(rel: str) -> bool:
        return rel != NOTE and not rel.startswith(NOTE + "/")

    return replace(model, files=tuple(f for f in model.files if other(f.rel)),
                   empty_dirs=tuple(d for d in model.empty_dirs if other(d)))


def with_note(model: Model, note: RollbackNote, folder: Path) -> Model:
    """`model` with `note` in place of any note it had, written into `folder` to be published from."""
    path = folder / Path(NOTE).name
    path.write_text(json.dumps(asdict(note)) + "\n")
    # The file as it is on disk: its size and modification time are what the upload checks the
    # file against (transfer.check_unchanged), like every local model file's.
    stat = path.stat()
    written = ModelFile(NOTE, stat.st_size, str(path), modified=stat.st_mtime)
    plain = without_note(model)
    return replace(plain, files=(*plain.files, written))
