"""Choose version numbers: positive integers only, because model servers ignore anything else."""

import time
from collections.abc import Callable, Iterable

from component.errors import InputError
from component.push.destination import Versioning

# TF Serving parses a version directory's name as a signed 64-bit integer (safe_strto64): a bigger
# number is no version to it, so we never make one and never count one.
MAX_VERSION = 2**63 - 1
# How a push's staging area in a base is named, locally and in a bucket: no model server reads a
# version number from it.
STAGING_PREFIX = ".pushing-"
STAGING_NAME_MAX = len(STAGING_PREFIX) + 32  # the prefix and a 128-bit token in hex
_C_SPACES = " \t\n\v\f\r"  # C's isspace()


def parse_version(name: str) -> int | None:
    """The version number a model server reads from an entry's name, positive and within int64;
    None when it reads none.

    TF Serving parses a name with safe_strto64 (newer builds: absl::SimpleAtoi): ASCII digits,
    surrounding whitespace and leading zeros allowed, and newer builds accept a leading '+'. So
    "007", " 7" and "+7" all take number 7 and a new version must go above them; none of them is
    a version directory of ours (see LocalBase.version_model). str.isdigit() also accepts '²'
    and '١', which no server reads."""
    digits = name.strip(_C_SPACES).removeprefix("+")
    if not (digits.isascii() and digits.isdigit()):
        return None
    number = int(digits)
    return number if 0 < number <= MAX_VERSION else None


def numeric_versions(names: Iterable[str]) -> set[int]:
    """The version numbers these entry names take (parse_version)."""
    return {v for v in map(parse_version, names) if v is not None}


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
