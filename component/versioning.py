"""Choose version numbers: positive integers only, because model servers ignore anything else."""

import time
from collections.abc import Callable, Iterable

from .destination import Versioning


# TF Serving parses version directory names as int64.
MAX_VERSION = 2**63 - 1


def parse_version(name: str) -> int | None:
    """The version a name stands for: ASCII decimal digits, no leading zero, within int64."""
    if not (name.isascii() and name.isdigit()) or name.startswith("0") or len(name) > 19:
        return None
    number = int(name)
    return number if number <= MAX_VERSION else None


def numeric_versions(names: Iterable[str]) -> set[int]:
    """The entries a model server would load as versions."""
    return {v for v in map(parse_version, names) if v is not None}


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
