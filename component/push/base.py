"""A serving base: the directory model servers watch, holding numbered versions.

Two kinds: a local or mounted directory (local_base, where a version appears in one rename) and a
prefix in a bucket (bucket_base, where claims, a lease and `saved_model.pb` written last do what a
rename cannot). The push, retention and rollback are written once over these verbs.
"""

from pathlib import Path
from typing import Generic, Protocol, TypeVar

from component.model import Model
from component.stores.progress import Progress
from component.stores.registry import is_remote

Staging = TypeVar("Staging")


class ServingBase(Protocol, Generic[Staging]):
    uri: str

    def version_uri(self, version: int) -> str: ...

    def versions(self) -> set[int]:
        """Every version number taken, including ones being claimed right now."""

    def highest_used(self) -> int:
        """The high-water mark: the highest number ever claimed or published here (0: none).
        It only goes up, so a number removed by retention is never used again."""

    def clean_abandoned(self) -> None: ...

    def stage(self, model: Model, progress: Progress) -> Staging:
        """Move the model's bytes where model servers do not look (in a bucket: the files too big
        to upload while a version is half-visible); returns the handle publish and discard take."""

    def publish(self, staging: Staging, version: int) -> bool:
        """Make the staged model visible as `version`; False when that number is taken, or when
        a version above it was published meanwhile (it is never made loadable below one)."""

    def discard(self, staging: Staging) -> None:
        """Remove what is left of the staging area (after publish or after a failure)."""

    def version_model(self, version: int) -> Model:
        """A published version's files (with their CRC32C where the store keeps one), as a Model
        that can itself be pushed: that is how rollback republishes an old version."""

    def delete_version(self, version: int) -> None:
        """Remove a version so that servers see it disappear at once, not file by file."""

    def abandoned(self, version: int, newest_write: float) -> bool:
        """Whether an incomplete version is the remains of a dead push (safe to remove)."""


def open_base(base: str) -> ServingBase:
    if is_remote(base):
        from component.push.bucket_base import BucketBase

        return BucketBase(base)
    from component.push.local_base import LocalBase

    return LocalBase(Path(base))
