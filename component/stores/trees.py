"""Read-only views of an artifact's files, wherever they are: a local directory, or a prefix in a
bucket read through its API. Every name found is checked here, where a listing or a directory walk
becomes model files: a name that could leave the model directory refuses the whole model."""

import logging
import os
from pathlib import Path, PurePosixPath
from typing import Protocol

from component.artifacts import Artifact
from component.errors import InputError
from component.model import Model, ModelFile, safe_relative
from component.runtime.redact import redacted
from component.stores.bucket import Bucket, children, join, reported, split_uri
from component.stores.registry import bucket_name_problem, is_remote, locate, same_service

log = logging.getLogger(__name__)


def model_under(store: Bucket, prefix: str, root: str, origin: str, where: str) -> Model:
    """Every object below `prefix` as a Model whose files are read from the store (with the
    CRC32C it keeps). Every name is checked here, the one place where listings become model
    files: a name that could leave the model directory refuses the whole model."""
    files: list[ModelFile] = []
    markers: list[str] = []  # zero-byte "dir/" objects some tools write for directories
    for info in store.list(prefix).objects:
        rel = info.key[len(prefix):]
        if not rel:
            continue  # the directory's own marker object
        if rel.endswith("/"):
            markers.append(safe_relative(rel[:-1], f"{where}: object {store.scheme}://{store.name}/{info.key}"))
        else:
            safe_relative(rel, f"{where}: object {store.scheme}://{store.name}/{info.key}")
            files.append(ModelFile(rel, info.size, f"{store.scheme}://{store.name}/{info.key}", info.crc32c, info.updated))
    parents = {"/".join(f.rel.split("/")[:i]) for f in files for i in range(1, f.rel.count("/") + 1)}
    empty = sorted(m for m in markers if m not in parents)
    return Model(root, origin, tuple(files), tuple(empty))


class Tree(Protocol):
    """Read-only view of an artifact's files, local or remote."""

    uri: str

    def entries(self, rel: str) -> dict[str, bool]:
        """Names in directory `rel` mapped to is-a-directory; {} when it does not exist."""

    def model(self, rel: str, origin: str) -> Model:
        """Every file and empty directory below `rel`."""


class LocalTree:
    def __init__(self, artifact: Artifact) -> None:
        self.input_name = artifact.name
        self.uri = artifact.uri
        self.root = artifact.path

    def entries(self, rel: str) -> dict[str, bool]:
        try:
            with os.scandir(self.root / rel) as it:
                return {e.name: e.is_dir() for e in it}
        except (FileNotFoundError, NotADirectoryError):
            return {}
        except OSError as exc:
            raise InputError(f"{self.input_name}: cannot read {self.root / rel} ({exc.strerror})") from None

    def model(self, rel: str, origin: str) -> Model:
        top = self.root / rel
        real_top = Path(os.path.realpath(top))
        files: list[ModelFile] = []
        empty_dirs: list[str] = []

        # A directory symlink is refused, not followed: followed, two links per level 13 levels deep
        # made 184 KB an 819 MB push, and each real file would be pushed once per path to it.
        # Refused, the walk visits each real directory once, so it stays fast whatever the links.
        # (A link to a file inside the model is copied as a file: one link, one copy.)
        def walk(directory: Path, prefix: PurePosixPath) -> None:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
            if not entries and str(prefix) != ".":
                empty_dirs.append(str(prefix))
            for entry in entries:
                rel_path = prefix / entry.name
                _check_object_name(self.input_name, rel_path)
                if entry.is_symlink():
                    target = Path(os.path.realpath(entry.path))
                    if target != real_top and real_top not in target.parents:
                        raise InputError(
                            f"{self.input_name}: symlink {rel_path} points outside the model directory "
                            f"(to {target}); refusing to push it"
                        )
                    if entry.is_dir():
                        raise InputError(
                            f"{self.input_name}: {rel_path} is a symlink to a directory; a model is pushed "
                            "as its real files, so replace the link by the directory it points to"
                        )
                if entry.is_dir():
                    walk(Path(entry.path), rel_path)
                elif entry.is_file():
                    if not os.access(entry.path, os.R_OK):
                        raise InputError(f"{self.input_name}: file {rel_path} is not readable")
                    stat = entry.stat()
                    files.append(ModelFile(str(rel_path), stat.st_size, entry.path, modified=stat.st_mtime))
                else:
                    raise InputError(f"{self.input_name}: {rel_path} is not a regular file or directory")

        try:
            walk(top, PurePosixPath("."))
        except OSError as exc:
            raise InputError(f"{self.input_name}: cannot read {top} ({exc.strerror})") from None
        return Model(str(top), origin, tuple(files), tuple(empty_dirs))


def _check_object_name(input_name: str, rel: PurePosixPath) -> None:
    """Object stores name objects in UTF-8; a local name that is not valid UTF-8 (Python keeps
    its bytes as surrogates) has no object name, so the model is refused before anything is written."""
    try:
        str(rel).encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(str(rel)).decode("utf-8", "backslashreplace")
        raise InputError(
            f"{input_name}: file name {shown!r} is not valid UTF-8, so it cannot become an object name; rename it"
        ) from None


def local_model(path: Path, input_name: str, origin: str) -> Model:
    """Every file below a local directory, as a Model (a published version, a test's model)."""
    return LocalTree(Artifact(input_name, str(path), path)).model("", origin)


def open_tree(artifact: Artifact, destination: str = "") -> Tree:
    """A gs:// / s3:// / minio:// artifact is read through its store's API when the push goes to
    the same service (its files are then copied server-side, not streamed through this container
    or Vertex's slow /gcs FUSE mount) or when it is not at its mounted path (a laptop); otherwise
    at the mounted path, where KFP put it."""
    if is_remote(artifact.uri) and (same_service(artifact.uri, destination) or not artifact.path.is_dir()):
        tree = ObjectTree(artifact)
        if not artifact.path.is_dir():
            return tree
        # With the mount there, the API is only the faster way: fall back to the mount when the
        # store cannot be read or holds nothing there (tests, unusual clusters).
        try:
            if tree.entries(""):
                return tree
        except InputError as exc:
            log.info("Reading %s from its mounted path %s: %s", artifact.name, artifact.path, exc)
    if not artifact.path.is_dir():
        raise InputError(f"{artifact.name}: directory {artifact.path} does not exist (uri {artifact.uri})")
    return LocalTree(artifact)


class ObjectTree:
    """A model artifact in an object store, read through the store's API."""

    def __init__(self, artifact: Artifact) -> None:
        self.input_name = artifact.name
        self.uri = artifact.uri.rstrip("/")
        scheme, bucket, _ = split_uri(self.uri)
        if not bucket:
            raise InputError(f"{artifact.name}: {artifact.uri!r} names no bucket")
        problem = bucket_name_problem(scheme, bucket)
        if problem:
            raise InputError(f"{artifact.name}: {redacted(artifact.uri)!r} names no valid bucket: {problem}")
        self.bucket, self.prefix = locate(self.uri)
        # Finding the model asks for a directory more than once; each is one round trip, listed once.
        self._listed: dict[str, dict[str, bool]] = {}

    def entries(self, rel: str) -> dict[str, bool]:
        if rel not in self._listed:
            prefix = join(self.prefix, rel)
            with self._errors():
                self._listed[rel] = dict(children(self.bucket.list(prefix, recursive=False), prefix))
        return dict(self._listed[rel])

    def model(self, rel: str, origin: str) -> Model:
        with self._errors():
            return model_under(self.bucket, join(self.prefix, rel), "/".join(p for p in (self.uri, rel) if p),
                               origin, self.input_name)

    def _errors(self):
        return reported(f"{self.input_name}: cannot read {self.uri}", InputError)
