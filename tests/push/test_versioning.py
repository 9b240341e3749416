import pytest

from component.push.destination import Versioning
from component.errors import InputError
from component.push.versioning import MAX_VERSION, next_version, numeric_versions


def test_only_positive_ascii_integers_within_int64_are_versions():
    assert numeric_versions(["1", "10", "0", "-3", "1.5", ".pushing-1", "v2", "2a", "+", " ", "1 2"]) == {1, 10}
    # str.isdigit() accepts these, int() reads some of them; no model server does.
    assert numeric_versions(["\u00b2", "\u0661", "\uff13", "\u0663\u0664"]) == set()
    # TF Serving reads a name as int64: beyond it is no version; within it, "007" is version 7.
    assert numeric_versions([str(MAX_VERSION), str(MAX_VERSION + 1), "99999999999999999999999"]) == {MAX_VERSION}
    assert numeric_versions(["007", "0010"]) == {7, 10}
    assert numeric_versions([" 4", "5\n", "+6"]) == {4, 5, 6}  # as safe_strto64 / absl::SimpleAtoi read them


def test_no_version_beyond_int64():
    assert next_version(Versioning.SEQUENTIAL, {MAX_VERSION - 1}) == MAX_VERSION
    for versioning in Versioning:
        with pytest.raises(InputError, match="the highest number a model server reads"):
            next_version(versioning, {MAX_VERSION}, clock=lambda: 1700000000.0)
    with pytest.raises(InputError):
        next_version(Versioning.AUTO, set(), clock=lambda: 2.0**64)


def test_unix_time_like_tfx_when_free():
    assert next_version(Versioning.AUTO, {5, 9}, clock=lambda: 1700000000.9) == 1700000000


def test_next_above_a_version_at_or_above_this_second():
    assert next_version(Versioning.UNIX_TIMESTAMP, {1700000000}, clock=lambda: 1700000000.2) == 1700000001
    assert next_version(Versioning.AUTO, {1800000000}, clock=lambda: 1700000000.0) == 1800000001


def test_sequential():
    assert next_version(Versioning.SEQUENTIAL, set(), clock=lambda: 1e9) == 1
    assert next_version(Versioning.SEQUENTIAL, {1, 2, 7}, clock=lambda: 1e9) == 8
