"""Choose version numbers: positive integers only, because model servers ignore anything else."""

import time
from collections.abc import Callable, Iterable

from .destination import Versioning
from .errors import InputError

# TF Serving parses a version directory's name as a signed 64-bit integer (safe_strto64): a bigger
# number is no version to it, so we never make one and never count one.
MAX_VERSION = 2**63 - 1


def numeric_versions(names: Iterable[str]) -> set[int]:
    """The version numbers a model server reads from these entry names: ASCII decimal digits
    (str.isdigit() also accepts '²' and '١', which no server reads) within int64, above 0.

    Leading zeros count ("007" is version 7 to TF Serving), so that a new version is always above
    it; such a name is never a version directory of ours (see LocalStore.version_model)."""
    taken = set()
    for name in names:
        if name.isascii() and name.isdigit() and 0 < int(name) <= MAX_VERSION:
            taken.add(int(name))
    return taken


def next_version(versioning: Versioning, taken: set[int], clock: Callable[[], float] = time.time) -> int:
    """The version to try to claim next.

    It is always above every version taken, so model servers that serve the newest version switch
    to it. With AUTO / UNIX_TIMESTAMP that is TFX's Unix time in seconds, unless a version at or
    above this second already exists (two pushes in one second): then the next number above it.
    """
    above_all = max(taken, default=0) + 1
    version = above_all if versioning is Versioning.SEQUENTIAL else max(int(clock()), above_all)
    if version > MAX_VERSION:
        raise InputError(
            f"push_destination: the next version would be {version}, above {MAX_VERSION}, the highest number "
            "a model server reads (int64); remove the entries with the highest numbers from the base"
        )
    return version
