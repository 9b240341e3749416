from component.destination import Versioning
from component.versioning import next_version, numeric_versions


def test_only_positive_canonical_integers_are_versions():
    assert numeric_versions(["1", "10", "007", "0", "-3", "1.5", ".pushing-1", "v2", "2a"]) == {1, 10}


def test_unix_time_like_tfx_when_free():
    assert next_version(Versioning.AUTO, {5, 9}, clock=lambda: 1700000000.9) == 1700000000


def test_next_above_a_version_at_or_above_this_second():
    assert next_version(Versioning.UNIX_TIMESTAMP, {1700000000}, clock=lambda: 1700000000.2) == 1700000001
    assert next_version(Versioning.AUTO, {1800000000}, clock=lambda: 1700000000.0) == 1800000001


def test_sequential():
    assert next_version(Versioning.SEQUENTIAL, set(), clock=lambda: 1e9) == 1
    assert next_version(Versioning.SEQUENTIAL, {1, 2, 7}, clock=lambda: 1e9) == 8
