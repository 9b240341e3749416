"""Choose version numbers: positive integers only, because model servers ignore anything else."""

import time
from collections.abc import Callable, Iterable

from .destination import Versioning


def numeric_versions(names: Iterable[str]) -> set[int]:
    """The entries a model server would load as versions: positive decimal integers."""
    return {int(n) for n in names if n.isdigit() and n == str(int(n)) and int(n) > 0}


def next_version(versioning: Versioning, taken: set[int], clock: Callable[[], float] = time.time) -> int:
    """The version to try to claim next.

    It is always above every version taken, so model servers that serve the newest version switch
    to it. With AUTO / UNIX_TIMESTAMP that is TFX's Unix time in seconds, unless a version at or
    above this second already exists (two pushes in one second): then the next number above it.
    """
    above_all = max(taken, default=0) + 1
    if versioning is Versioning.SEQUENTIAL:
        return above_all
    return max(int(clock()), above_all)
