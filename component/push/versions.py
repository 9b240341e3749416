"""What a serving base holds: its versions, oldest first, whether each is complete, and which are
copies made by a rollback."""

import logging
from dataclasses import dataclass

from component.errors import InputError
from component.model import SAVED_MODEL_FILES
from component.push.base import ServingBase
from component.push.rollback_note import RollbackNote, read_note
from component.stores.registry import is_remote

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VersionInfo:
    version: int
    uri: str
    files: int
    bytes: int
    modified: float  # Unix time of the newest file
    complete: bool  # has the file a model server loads
    rollback: RollbackNote | None = None  # set for a copy made by a rollback (read only when asked)


def list_versions(base: ServingBase, read_notes: bool = False) -> list[VersionInfo]:
    """Every version at the base, oldest first, with what it holds. In a bucket a number that
    holds no object is only claimed (a push failed there, or is starting): left out. So is a
    version that cannot be read as a model (it holds a link out of it, a FIFO...), with a warning:
    neither listed, nor counted nor removed by retention.
    `read_notes`: also read each rollback copy's note (one more read per copy)."""
    infos = []
    for version in sorted(base.versions()):
        try:
            model = base.version_model(version)
        except InputError as exc:
            log.warning("Version %d at %s cannot be read as a model, so it is skipped: %s.", version, base.uri, exc)
            continue
        if not model.files and is_remote(model.root):
            continue
        names = {f.rel for f in model.files}
        infos.append(VersionInfo(
            version, base.version_uri(version), len(model.files), model.total_bytes,
            max((f.modified for f in model.files), default=0.0),
            bool(names & set(SAVED_MODEL_FILES)),
            read_note(model) if read_notes else None,
        ))
    return infos
