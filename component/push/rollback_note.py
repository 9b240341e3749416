"""The note a rollback leaves inside the version it publishes: which version it copies, which one
it rolled back from, and when. `list` reads it to say what each version is, and `rollback` to
know that the newest version is already a rollback (so running it twice rolls back once).

It is a small JSON file in assets.extra/, the SavedModel's folder for files that TensorFlow does
not load (TF Serving reads only its warmup file there), so model servers serve the copy exactly
like the version it copies; it travels with the version, on every store."""

import json
import logging
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from component.errors import PusherError
from component.model import Model, ModelFile
from component.stores.transfer import read_bytes

log = logging.getLogger(__name__)

NOTE = "assets.extra/model_pusher_rollback.json"


@dataclass(frozen=True)
class RollbackNote:
    copy_of: int  # the version whose model this is (a copy of a copy names the first)
    rolled_back_from: int  # the newest version when the rollback ran
    at: float  # Unix time of the rollback

    def text(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.at))
        return f"copy of version {self.copy_of} made by a rollback from version {self.rolled_back_from} at {when}"


def read_note(model: Model) -> RollbackNote | None:
    """The note in a published version, or None for a version a push made."""
    found = next((f for f in model.files if f.rel == NOTE), None)
    if found is None:
        return None
    try:
        doc = json.loads(read_bytes(found))
        return RollbackNote(int(doc["copy_of"]), int(doc["rolled_back_from"]), float(doc["at"]))
    except (PusherError, ValueError, KeyError, TypeError) as exc:
        log.warning("%s holds a rollback note that cannot be read (%s); it is listed as pushed.", model.root, exc)
        return None


def without_note(model: Model) -> Model:
    """The model as its push made it."""
    return replace(model, files=tuple(f for f in model.files if f.rel != NOTE))


def with_note(model: Model, note: RollbackNote, folder: Path) -> Model:
    """`model` with `note` in place of any note it had, written into `folder` to be published from."""
    path = folder / Path(NOTE).name
    path.write_text(json.dumps(asdict(note)) + "\n")
    written = ModelFile(NOTE, path.stat().st_size, str(path), modified=note.at)
    return replace(model, files=(*without_note(model).files, written))
