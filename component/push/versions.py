"""What a serving base holds: its versions, oldest first, and whether each is complete."""

import logging
from dataclasses import dataclass

from component.errors import InputError
from component.model import SAVED_MODEL_FILES
from component.push.base import ServingBase
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


def list_versions(base: ServingBase) -> list[VersionInfo]:
    """Every version at the base, oldest first, with what it holds. In a bucket a number that
    holds no object is only claimed (a push failed there, or is starting): left out. So is a
    version that cannot be read as a model (it holds a link out of it, a FIFO...), with a warning:
    neither listed, nor counted nor removed by retention."""
    infos = []
    for version in sorted(base.versions()):
        try:
            model = base.version_model(version)
        except InputError as exc:
            log.warning("Skipping version %d: %s.", version, exc)
            continue
        if not model.files and is_remote(model.root):
            continue
        names = {f.rel for f in model.files}
        infos.append(VersionInfo(
            version, base.version_uri(version), len(model.files), model.total_bytes,
            max((f.modified for f in model.files), default=0.0),
            bool(names & set(SAVED_MODEL_FILES)),
        ))
    return infos
