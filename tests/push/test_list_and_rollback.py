"""`list` and `rollback` against bases that someone else also wrote to: a note that is not what a
rollback writes, a rollback copy pushed elsewhere, an odd file in one version, a base numbered
SEQUENTIAL. Always through the real command."""

import json
import os

from component.push.rollback_note import NOTE
from tests.support.command import run_cli
from tests.support.destinations import BASE, push, pushed

SEQUENTIAL = ("--versioning", "SEQUENTIAL")

BAD_NOTES = [
    b'{"copy_of": Infinity, "rolled_back_from": 2, "at": 1}',
    b'{"copy_of": 1e400, "rolled_back_from": 2, "at": 1}',
    b'{"copy_of": 1, "rolled_back_from": 2, "at": 1e300}',
    b'{"copy_of": 1, "rolled_back_from": 2, "at": NaN}',
    b'{"copy_of": 1.5, "rolled_back_from": 2, "at": 1}',
    b'{"copy_of": 1, "rolled_back_from": 2, "at": 1, "extra": 0}',
    b"[" * 200_000,
    b'{"copy_of": 1, "rolled_back_from": 2, "at": 1}' + b" " * 5000,  # far bigger than a note
]


def listed(destination, base: str = BASE) -> tuple[list[dict], str]:
    result = run_cli("list", "--push-destination", destination.uri(base), "--json", env=destination.env)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    return json.loads(result.stdout), result.stderr


def test_a_note_that_is_not_a_rollbacks_is_ignored_with_a_warning(destination, saved_model, keras_saved_model):
    pushed(push(saved_model, destination, *SEQUENTIAL))
    pushed(push(keras_saved_model, destination, *SEQUENTIAL))
    for note in BAD_NOTES:
        destination.put(f"{BASE}/2/{NOTE}", note)
        versions, stderr = listed(destination)
        assert [(v["version"], v["complete"], v["rollback"]) for v in versions] == [(1, True, None), (2, True, None)]
        assert "rollback note that is not one this pusher wrote" in stderr, (note[:60], stderr)
    # The newest version is a push, then: a rollback undoes it.
    rolled = run_cli("rollback", "--push-destination", destination.uri(), env=destination.env)
    assert json.loads(rolled.stdout)["pushed_version"] == "3", rolled.stderr


def test_a_directory_at_the_notes_path_does_not_stop_a_rollback(saved_model, keras_saved_model, tmp_path):
    base = tmp_path / "serving"
    pushed(push(saved_model, base, *SEQUENTIAL))
    pushed(push(keras_saved_model, base, *SEQUENTIAL))
    (base / "1" / NOTE).mkdir(parents=True)
    rolled = pushed(run_cli("rollback", "--push-destination", str(base), "--to", "1"))
    assert rolled["pushed_version"] == "3"
    assert json.loads((base / "3" / NOTE).read_text())["copy_of"] == 1


def test_a_rollback_copy_pushed_to_another_base_is_a_push_there(saved_model, keras_saved_model, tmp_path):
    first, other = tmp_path / "first", tmp_path / "other"
    pushed(push(saved_model, first, *SEQUENTIAL))
    pushed(push(keras_saved_model, first, *SEQUENTIAL))
    pushed(run_cli("rollback", "--push-destination", str(first)))
    assert (first / "3" / NOTE).is_file()
    pushed(push(keras_saved_model, other, *SEQUENTIAL))
    pushed(push(first / "3", other, *SEQUENTIAL))
    assert not (other / "2" / NOTE).exists()
    table = run_cli("list", "--push-destination", str(other))
    assert [line.split()[-1] for line in table.stdout.splitlines()[1:]] == ["pushed", "pushed"]
    assert pushed(run_cli("rollback", "--push-destination", str(other)))["pushed_version"] == "3"


def test_rollback_numbers_the_copy_as_the_base_is_numbered(saved_model, keras_saved_model, tmp_path):
    base = tmp_path / "serving"
    pushed(push(saved_model, base, *SEQUENTIAL))
    pushed(push(keras_saved_model, base, *SEQUENTIAL))
    assert pushed(run_cli("rollback", "--push-destination", str(base)))["pushed_version"] == "3"
    assert pushed(push(keras_saved_model, base, *SEQUENTIAL, "--force-new-version"))["pushed_version"] == "4"
    # Asked for, the clock's numbering.
    timed = pushed(run_cli("rollback", "--push-destination", str(base), "--versioning", "UNIX_TIMESTAMP"))
    assert int(timed["pushed_version"]) > 1_000_000_000


def test_one_odd_version_does_not_hide_the_others(saved_model, keras_saved_model, tmp_path):
    base = tmp_path / "serving"
    for model in (saved_model, keras_saved_model, saved_model):
        pushed(push(model, base, *SEQUENTIAL, "--force-new-version"))
    os.mkfifo(base / "2" / "odd")
    result = run_cli("list", "--push-destination", str(base), "--json")
    assert result.returncode == 0, result.stderr
    assert [(v["version"], v["complete"]) for v in json.loads(result.stdout)] == [(1, True), (2, False), (3, True)]
    assert [line for line in result.stderr.splitlines() if "WARNING" in line and "Version 2 " in line], result.stderr
    assert pushed(run_cli("rollback", "--push-destination", str(base)))["pushed_version"] == "4"


def test_a_rollback_that_changes_nothing_says_so(saved_model, keras_saved_model, tmp_path):
    base = tmp_path / "serving"
    pushed(push(saved_model, base, *SEQUENTIAL))
    pushed(push(keras_saved_model, base, *SEQUENTIAL))
    pushed(run_cli("rollback", "--push-destination", str(base)))
    again = run_cli("rollback", "--push-destination", str(base))
    assert json.loads(again.stdout)["reused"] == 1
    assert "already there: nothing written" in again.stderr and "MB/s" not in again.stderr
