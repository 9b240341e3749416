"""Where an artifact URI is readable in this process: KFP's container convention maps gs://,
s3:// and minio:// URIs to /gcs/, /s3/ and /minio/ (downloaded there by the KFP launcher, or a FUSE
mount on Vertex); anything else is a local path."""

import os
from pathlib import Path

from component import settings
from component.errors import InputError
from component.stores.registry import is_remote

# KFP maps remote artifact URIs to these local paths inside the container (downloaded there by the
# KFP launcher, or a FUSE mount on Vertex).
_MOUNTED_SCHEMES = {"gs://": "gcs", "s3://": "s3", "minio://": "minio"}


def gcs_uri_of_mount(path: str) -> str | None:
    """gs://bucket/x for a path on KFP's /gcs/ mount (Vertex's GCS FUSE), else None.

    A path whose text is on the mount (made absolute, not normalised) keeps its text: a `..` in it
    is then an object name, which push_destination refuses. A path that reaches the mount through
    a symlink is matched once resolved. A relative path holding "://" is a URI, not a path."""
    if "://" in path and not os.path.isabs(path):
        return None
    # os.path.realpath, unlike Path.resolve, does not raise on a symlink loop.
    mount = _mount_root() / "gcs"
    return (_on_mount(os.path.join(os.getcwd(), path), str(mount))
            or _on_mount(os.path.realpath(path), os.path.realpath(mount)))


def within(location: str, root: str) -> bool:
    """Whether `location` is `root` or inside it, seen through KFP's /gcs mount and, for local
    paths, through symlinks: /gcs/b/x and gs://b/x are one place."""
    target, top = _comparable(location), _comparable(root)
    return target == top or target.startswith(top.rstrip("/") + "/")


def _comparable(location: str) -> str:
    if is_remote(location):
        return location.rstrip("/")
    real = os.path.realpath(location)
    return _on_mount(real, os.path.realpath(_mount_root() / "gcs")) or real


def _on_mount(path: str, mount: str) -> str | None:
    return "gs://" + path[len(mount) + 1:] if path.startswith(mount + "/") and len(path) > len(mount) + 1 else None


def check_path_text(text: str, name: str) -> str:
    """A path or URI from a JSON document may hold what no file name can: a NUL byte, or a lone
    surrogate (JSON's \\ud800) that has no bytes at all."""
    try:
        if b"\x00" not in os.fsencode(text):
            return text
    except UnicodeEncodeError:
        pass
    raise InputError(f"{name}: {text!r} is not a usable path (a NUL character or an unencodable one)")


def local_path(uri: str, name: str = "artifact") -> Path:
    """The local path of an artifact URI, following KFP's container convention.

    A remote URI must stay under its mount root: a `..` segment is a literal object name to the
    store but climbs out of /gcs (or /s3, /minio) here, and a leading `/` would make the rest an
    absolute path. Both would read or write somewhere else on this machine."""
    check_path_text(uri, name)
    for prefix, mount in _MOUNTED_SCHEMES.items():
        if uri.startswith(prefix):
            rest = uri[len(prefix):]
            if rest.startswith("/") or ".." in rest.split("/"):
                raise InputError(
                    f"{name}: uri {uri!r} has an empty bucket name or a '..' segment; "
                    f"it would leave the {prefix} mount at {_mount_root() / mount}"
                )
            return _mount_root() / mount / rest
    return Path(uri)


def _mount_root() -> Path:
    return settings.current().mount_root
