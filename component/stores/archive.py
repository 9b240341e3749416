"""TFX keeps a copy of the pushed model in the pushed_model artifact; so do we."""

import functools
import logging
from pathlib import Path

from component.artifacts import OutputArtifact
from component.errors import PublishError
from component.model import Model
from component.stores.parallel import in_parallel
from component.stores.progress import Progress
from component.stores.bucket import join, reported
from component.stores.local_files import copy_model, remove_entry
from component.stores.mounts import local_path
from component.stores.registry import is_remote, locate, same_service
from component.stores.transfer import put_model

log = logging.getLogger(__name__)


def archive(model: Model, target: OutputArtifact) -> None:
    """Copy the model into the pushed_model artifact.

    An artifact in an object store is written through the store's API when the model is in the
    same service (copied server-side, where Vertex's /gcs FUSE mount would stream every byte
    through this container) or when there is no mount to write through (a laptop); otherwise at
    its mounted path, which KFP uploads after the step.
    """
    mount = local_path(target.uri.partition("://")[0] + "://") if is_remote(target.uri) else None
    through_api = mount is not None and (same_service(model.root, target.uri) or not mount.is_dir())
    where = target.uri if through_api else str(target.path)
    progress = Progress(f"Archiving to {where}", len(model.files), model.total_bytes)
    try:
        if through_api:
            try:
                put_model(model, target.uri, progress)
            except BaseException:
                _remove_objects(model, target.uri)  # a stopped or failed copy leaves no half archive
                raise
            if mount.is_dir():
                # KFP's launcher uploads this path after the step and fails if it is missing;
                # empty, it adds nothing to what is already in the store.
                target.path.mkdir(parents=True, exist_ok=True)
        else:
            copy_fresh(model, target.path, progress)
    except OSError as exc:
        raise PublishError(f"pushed_model: writing the archive copy to {where} failed: {exc}") from None
    progress.done()
    log.info("Archived the model in the pushed_model artifact at %s.", where)


def take_back(model: Model, target: OutputArtifact) -> None:
    """Remove an archive copy made for a push that then published nothing, so that what the step
    says ("nothing was published") holds for the archive too."""
    mount = local_path(target.uri.partition("://")[0] + "://") if is_remote(target.uri) else None
    if mount is not None and (same_service(model.root, target.uri) or not mount.is_dir()):
        _remove_objects(model, target.uri)
    else:
        remove_entry(target.path)
    log.info("Removed the archive copy at %s: the push published nothing.", target.uri)


def _remove_objects(model: Model, uri: str) -> None:
    store, prefix = locate(uri)
    try:
        with reported(f"pushed_model: removing the unfinished archive copy at {uri}", PublishError):
            in_parallel([functools.partial(store.delete, join(prefix) + f.rel) for f in model.files])
    except PublishError as exc:
        log.warning("%s; some of its files may be left.", exc)


def copy_fresh(model: Model, path: Path, progress: Progress) -> None:
    """Copy the model into `path` once whatever it held is removed, links themselves and never
    what they point at: a symlink or hard link left in an old archive may point into a live version
    or into the model itself, and must not be written through. (Emptied in place rather than built
    beside and renamed: a FUSE mount such as Vertex's /gcs cannot rename a directory.) A copy that
    fails or is stopped is removed, so no half archive is left."""
    remove_entry(path)
    try:
        copy_model(model, path, progress)
    except BaseException:
        remove_entry(path)
        raise
