"""Hostile and careless inputs (issue 8): each gives one line naming the input and exit 2, with
nothing written; whatever else lives in a base directory never crashes a push, list or rollback."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.command import REPO, error_lines, refused, run_cli, tree
from component.push.local_base import LocalBase
from component.push.versioning import MAX_VERSION


def executor_input(model: Path | str, base: Path, tmp_path: Path, **artifacts) -> dict:
    return {
        "inputs": {
            "artifacts": {"model": {"artifacts": [{"uri": str(model), "metadata": {}}]}, **artifacts},
            "parameterValues": {"push_destination": str(base)},
        },
        "outputs": {
            "artifacts": {"pushed_model": {"artifacts": [{"name": "a", "uri": str(tmp_path / "pushed_model")}]}},
            "parameters": {"pushed": {"outputFile": str(tmp_path / "params" / "pushed")}},
            "outputFile": str(tmp_path / "out.json"),
        },
    }


# --- 1. artifact URIs that would leave the mount roots; names that cannot be object names ---


@pytest.mark.parametrize("scheme", ["gs", "s3", "minio"])
def test_artifact_uri_climbing_out_of_its_mount_is_refused(saved_model, tmp_path, scheme):
    root = tmp_path / "root"
    (root / "gcs").mkdir(parents=True)
    outside = saved_model.rename(tmp_path / "outside_model")
    # root/<mount>/bucket/../../../outside_model is tmp_path/outside_model: a model there would be pushed.
    doc = executor_input(f"{scheme}://bucket/../../../outside_model", tmp_path / "serving", tmp_path)
    result = run_cli("--executor-input", json.dumps(doc), env={"MODEL_PUSHER_MOUNT_ROOT": str(root)})
    refused(result, f"model: uri '{scheme}://bucket/../../../outside_model'", "'..' segment")
    assert not (tmp_path / "serving").exists() and not (tmp_path / "pushed_model").exists()
    assert outside.is_dir()


def test_artifact_uri_with_an_empty_bucket_is_an_absolute_path_and_refused(saved_model, tmp_path):
    doc = executor_input(f"minio://{saved_model}", tmp_path / "serving", tmp_path)  # minio:///tmp/...
    result = run_cli("--executor-input", json.dumps(doc), env={"MODEL_PUSHER_MOUNT_ROOT": str(tmp_path / "root")})
    refused(result, "model: uri", "empty bucket name")
    assert not (tmp_path / "serving").exists()


def test_output_artifact_uri_climbing_out_of_its_mount_is_refused(saved_model, tmp_path):
    root = tmp_path / "root"
    (root / "gcs").mkdir(parents=True)
    doc = executor_input(saved_model, tmp_path / "serving", tmp_path)
    doc["outputs"]["artifacts"]["pushed_model"]["artifacts"][0]["uri"] = "gs://bucket/../../../escaped"
    result = run_cli("--executor-input", json.dumps(doc), env={"MODEL_PUSHER_MOUNT_ROOT": str(root)})
    refused(result, "pushed_model: uri 'gs://bucket/../../../escaped'")
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "serving").exists()


def test_flag_uri_climbing_out_of_its_mount_is_refused(tmp_path):
    result = run_cli("--model", "gs://bucket/../../etc", "--push-destination", str(tmp_path / "serving"))
    refused(result, "model: uri 'gs://bucket/../../etc'")


def test_model_file_name_that_is_not_utf8_is_refused_before_anything_is_written(saved_model, tmp_path):
    (saved_model / "assets").mkdir(exist_ok=True)
    with open(os.path.join(os.fsencode(saved_model / "assets"), b"vocab\xff.txt"), "wb") as f:
        f.write(b"x")
    result = run_cli("--model", str(saved_model), "--push-destination", str(tmp_path / "serving"),
                     "--pushed-model", str(tmp_path / "pushed_model"))
    refused(result, "model: file name 'assets/vocab\\\\xff.txt' is not valid UTF-8")
    assert not (tmp_path / "serving").exists() and not (tmp_path / "pushed_model").exists()


# --- 3. whatever else lives in a base directory ---


def odd_base(tmp_path: Path, saved_model: Path) -> tuple[Path, Path]:
    """A base holding numeric things that are not version directories of ours."""
    base = tmp_path / "serving"
    base.mkdir()
    outside = Path(shutil.copytree(saved_model, tmp_path / "elsewhere"))  # a complete model, not ours
    (base / "5").write_text("a numeric file")
    os.symlink(tmp_path / "nowhere", base / "6")  # dangling
    os.symlink("7", base / "7")  # a loop
    os.symlink(outside, base / "8")  # to a model outside the base
    for name in ("\u00b2", "\u0661", "\u0663\u0664", str(MAX_VERSION + 1), "0010"):
        (base / name).mkdir()
    return base, outside


def test_odd_numeric_entries_never_crash_push_list_or_rollback(saved_model, tmp_path):
    base, outside = odd_base(tmp_path, saved_model)
    before_outside = tree(outside)
    common = ("--model", str(saved_model), "--push-destination", str(base), "--versioning", "SEQUENTIAL")

    first = run_cli(*common)
    assert first.returncode == 0, first.stderr
    # "0010" is version 10 to TF Serving, so ours goes above it; 2**63 and '²' are no versions.
    assert json.loads(first.stdout)["pushed_version"] == "11"
    second = run_cli(*common, "--force-new-version", "true")
    assert json.loads(second.stdout)["pushed_version"] == "12"

    listed = run_cli("list", "--push-destination", str(base), "--json")
    assert listed.returncode == 0 and not error_lines(listed)
    rows = {v["version"]: (v["files"], v["complete"]) for v in json.loads(listed.stdout)}
    assert set(rows) == {5, 6, 7, 8, 10, 11, 12}
    assert all(rows[v] == (0, False) for v in (5, 6, 7, 8, 10))  # taken numbers, never read through
    table = run_cli("list", "--push-destination", str(base))
    assert table.returncode == 0 and not error_lines(table)

    refused(run_cli("rollback", "--push-destination", str(base), "--to", "8"), "rollback: version 8 is not a complete version")
    sequential = json.dumps({"filesystem": {"base_directory": str(base), "versioning": "SEQUENTIAL"}})
    back = run_cli("rollback", "--push-destination", sequential)
    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout)["pushed_version"] == "13"

    # Retention removes complete versions of ours only; it never follows or renames a symlink.
    kept = run_cli(*common, "--force-new-version", "true", "--keep-versions", "1")
    assert kept.returncode == 0 and not error_lines(kept), kept.stderr
    assert json.loads(kept.stdout)["removed_versions"] == [13, 12, 11]
    assert sorted(os.listdir(base)) == sorted(
        [".high-water", "14", "5", "6", "7", "8", "0010", "\u00b2", "\u0661", "\u0663\u0664", str(MAX_VERSION + 1)])
    assert os.readlink(base / "8") == str(outside) and tree(outside) == before_outside


def test_a_symlinked_version_is_never_followed_for_deletion(saved_model, tmp_path):
    base, outside = odd_base(tmp_path, saved_model)
    before = tree(outside)
    store = LocalBase(base)
    for version in (5, 6, 7, 8):
        store.delete_version(version)
    assert {"5", "6", "7", "8"} <= set(os.listdir(base))
    assert os.readlink(base / "8") == str(outside) and tree(outside) == before


def test_no_version_beyond_int64(saved_model, tmp_path):
    base = tmp_path / "serving"
    (base / str(MAX_VERSION)).mkdir(parents=True)
    result = run_cli("--model", str(saved_model), "--push-destination", str(base), "--versioning", "SEQUENTIAL")
    refused(result, f"above {MAX_VERSION}, the highest number a model server reads")
    assert os.listdir(base) == [str(MAX_VERSION)]  # no version, no staging left behind


@pytest.mark.parametrize("command", ["push", "list", "rollback"])
@pytest.mark.parametrize("kind", ["symlink loop", "file", "under a file", "under a dangling symlink"])
def test_base_that_is_not_a_directory_is_a_bad_input(saved_model, tmp_path, command, kind):
    message = "is not a directory"
    if kind == "symlink loop":
        base = tmp_path / "loop"
        os.symlink("loop", base)
    elif kind == "under a dangling symlink":
        os.symlink(tmp_path / "nowhere", tmp_path / "dangling")
        base = tmp_path / "dangling" / "serving"
        message = f"cannot be made: {tmp_path / 'dangling'} is not a directory"
    elif kind == "file":
        base = tmp_path / "a_file"
        base.write_text("")
    else:
        (tmp_path / "a_file").write_text("")
        base = tmp_path / "a_file" / "serving"
    before = tree(tmp_path)
    args = ["--push-destination", str(base)]
    if command == "push":
        args += ["--model", str(saved_model), "--pushed-model", str(tmp_path / "pushed_model")]
    else:
        args.insert(0, command)
    refused(run_cli(*args), f"--push-destination: {base} {message}")
    assert tree(tmp_path) == before


def test_pushed_model_inside_the_base_is_refused(saved_model, tmp_path):
    base = tmp_path / "serving"
    first = run_cli("--model", str(saved_model), "--push-destination", str(base), "--versioning", "SEQUENTIAL")
    assert first.returncode == 0
    live = tree(base)
    for flag, where in [("--pushed-model", base / "1"), ("--pushed-model", base / "archive"),
                        ("--push-report", base / "1" / "report.md"), ("--pushed-model", base)]:
        result = run_cli("--model", str(saved_model), "--push-destination", str(base), flag, str(where))
        refused(result, f"{flag}: {where} is inside the destination base {base}")
    # The base inside the archive copy: the copy would be written around the live versions.
    result = run_cli("--model", str(saved_model), "--push-destination", str(base), "--pushed-model", str(tmp_path))
    refused(result, f"--push-destination: {base} is inside the --pushed-model location {tmp_path}")
    assert tree(base) == live



@pytest.mark.parametrize("above", ["art", "art/sub"])
def test_an_archive_location_that_holds_the_model_is_refused(saved_model, tmp_path, above):
    # The archive copy empties its location first: there, it would delete the model it copies.
    model = tmp_path / "art" / "sub" / "m"
    shutil.copytree(saved_model, model)
    source = tree(tmp_path / "art")
    result = run_cli("--model", str(model), "--push-destination", str(tmp_path / "serving"),
                     "--pushed-model", str(tmp_path / above))
    refused(result, f"--pushed-model: {tmp_path / above} holds the model directory {model}")
    assert tree(tmp_path / "art") == source and not (tmp_path / "serving").exists()


def test_an_old_archive_holding_links_is_replaced_never_written_through(saved_model, keras_saved_model, tmp_path):
    base = tmp_path / "serving"
    first = run_cli("--model", str(saved_model), "--push-destination", str(base), "--versioning", "SEQUENTIAL")
    assert first.returncode == 0, first.stderr
    live, source = tree(base / "1"), tree(keras_saved_model)
    old = tmp_path / "pushed_model"
    (old / "variables").mkdir(parents=True)
    # Links into live version 1 (symlink and hard link) and into the model being pushed.
    (old / "saved_model.pb").symlink_to(base / "1" / "saved_model.pb")
    os.link(base / "1" / "variables" / "variables.index", old / "variables" / "variables.index")
    data = next((keras_saved_model / "variables").glob("variables.data-*"))
    os.link(data, old / "variables" / data.name)
    (old / "fingerprint.pb").symlink_to(keras_saved_model / "saved_model.pb")
    result = run_cli("--model", str(keras_saved_model), "--push-destination", str(base), "--versioning", "SEQUENTIAL",
                     "--pushed-model", str(old))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["pushed_version"] == "2"
    assert tree(base / "1") == live and tree(keras_saved_model) == source
    assert tree(base / "2") == source and tree(old) == source  # real files, no links
    assert not any(p.is_symlink() or p.stat().st_nlink > 1 for p in old.rglob("*") if p.is_file())


def test_a_push_refused_by_the_base_writes_no_archive(saved_model, tmp_path):
    base = tmp_path / "serving"
    (base / str(MAX_VERSION)).mkdir(parents=True)
    result = run_cli("--model", str(saved_model), "--push-destination", str(base), "--versioning", "SEQUENTIAL",
                     "--pushed-model", str(tmp_path / "pushed_model"))
    refused(result, f"above {MAX_VERSION}, the highest number a model server reads")
    assert not (tmp_path / "pushed_model").exists()


@pytest.mark.parametrize("flag, inside", [("--pushed-model", ""), ("--push-report", "/report.md")])
def test_an_output_at_the_gcs_uri_of_a_model_read_from_the_mount_by_a_relative_path_is_refused(
        saved_model, tmp_path, flag, inside):
    root = tmp_path / "root"
    model = root / "gcs" / "bkt" / "m"
    shutil.copytree(saved_model, model)
    source = tree(model)
    relative = os.path.relpath(model, REPO)  # the command runs in the repository
    result = run_cli("--model", relative, "--push-destination", str(tmp_path / "serving"), flag, "gs://bkt/m" + inside,
                     env={"MODEL_PUSHER_MOUNT_ROOT": str(root)})
    refused(result, f"{flag}: gs://bkt/m{inside} is inside the model directory")
    assert tree(model) == source and not (tmp_path / "serving").exists()


def test_kfp_output_files_pointing_into_the_base_or_the_model_are_refused(saved_model, tmp_path):
    base = tmp_path / "serving"
    first = run_cli("--model", str(saved_model), "--push-destination", str(base), "--versioning", "SEQUENTIAL")
    assert first.returncode == 0, first.stderr
    live, source = tree(base), tree(saved_model)
    (tmp_path / "params").mkdir()
    for key, target in [("outputFile", base / "1" / "saved_model.pb"), ("pushed", saved_model / "saved_model.pb")]:
        doc = executor_input(saved_model, base, tmp_path)
        doc["inputs"]["parameterValues"]["force_new_version"] = True
        link = tmp_path / f"link-{key}"
        link.symlink_to(target)
        if key == "outputFile":
            doc["outputs"]["outputFile"] = str(link)
        else:
            doc["outputs"]["parameters"]["pushed"]["outputFile"] = str(link)
        result = run_cli("--executor-input", json.dumps(doc))
        refused(result, str(link), "is inside the")
    assert tree(base) == live and tree(saved_model) == source
    assert not (tmp_path / "pushed_model").exists()


def test_a_push_report_that_is_a_fifo_is_refused(saved_model, tmp_path):
    os.mkfifo(tmp_path / "fifo")
    result = run_cli("--model", str(saved_model), "--push-destination", str(tmp_path / "serving"),
                     "--push-report", str(tmp_path / "fifo"), timeout=60)
    refused(result, "push_report", "is a FIFO, socket or device")
    assert not (tmp_path / "serving").exists()


def test_odd_things_under_our_hidden_names_never_block_or_hang_a_push(saved_model, tmp_path):
    base = tmp_path / "serving"
    base.mkdir()
    outside = Path(shutil.copytree(saved_model, tmp_path / "elsewhere"))
    before_outside = tree(outside)
    os.symlink(outside, base / ".deleting-1-link")
    (base / ".deleting-2-file").write_text("x")
    os.mkfifo(base / ".deleting-3-fifo")
    (base / ".pushing-abc.lock").mkdir()
    os.mkfifo(base / ".pushing-def.lock")
    result = run_cli("--model", str(saved_model), "--push-destination", str(base), timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Leaving" in result.stderr and ".pushing-abc.lock alone" in result.stderr
    assert tree(outside) == before_outside
    assert not [n for n in os.listdir(base) if n.startswith(".deleting-")]


def test_a_version_holding_links_or_a_fifo_is_skipped_unless_it_is_the_one_needed(saved_model, tmp_path):
    base = tmp_path / "serving"
    common = ("--push-destination", str(base))
    for _ in range(3):
        pushed = run_cli("--model", str(saved_model), *common, "--versioning", "SEQUENTIAL", "--force-new-version", "true")
        assert pushed.returncode == 0, pushed.stderr
    os.mkfifo(base / "3" / "a-fifo")
    os.symlink(tmp_path, base / "2" / "a-dir-link")
    newer = run_cli("--model", str(saved_model), *common, "--versioning", "SEQUENTIAL", timeout=60)
    assert newer.returncode == 0, newer.stderr
    assert json.loads(newer.stdout)["pushed_version"] == "4"  # 3 cannot be read, so not reused
    assert "Version 3 cannot be reused" in newer.stderr
    listed = run_cli("list", *common, "--json", timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert [v["version"] for v in json.loads(listed.stdout)] == [1, 4]
    assert all(f"Version {v} at {base} cannot be read as a model, so it is skipped" in listed.stderr for v in (2, 3))
    back = run_cli("rollback", *common, timeout=60)
    assert back.returncode == 0, back.stderr
    assert int(json.loads(back.stdout)["pushed_version"]) > 4  # version 1 republished above 4
    refused(run_cli("rollback", *common, "--to", "3", timeout=60), "rollback: version 3")


@pytest.mark.parametrize("stdout", ["/dev/full", "closed", "non-UTF-8 names"])
def test_a_record_that_cannot_be_written_after_publishing_says_which_version_stands(saved_model, tmp_path, stdout):
    base = tmp_path / "serving"
    args = [sys.executable, "-m", "component", "--model", str(saved_model), "--versioning", "SEQUENTIAL"]
    if stdout == "non-UTF-8 names":
        base = Path(os.fsdecode(os.fsencode(tmp_path) + b"/serving\xff"))
        args += ["--push-report", os.fsdecode(os.fsencode(tmp_path) + b"/report\xff.md")]
    args += ["--push-destination", str(base)]
    with open("/dev/full", "w") as full:
        out = {"/dev/full": full, "closed": subprocess.DEVNULL, "non-UTF-8 names": subprocess.PIPE}[stdout]
        if stdout == "closed":
            args = ["sh", "-c", 'exec "$@" >&-', "sh", *args]
        result = subprocess.run(args, cwd=REPO, stdout=out, stderr=subprocess.PIPE, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    [line] = error_lines(result)
    assert "version 1 was published at" in line and "but recording it" in line
    assert (base / "1" / "saved_model.pb").is_file()


def test_a_stop_once_the_push_is_recorded_changes_nothing(saved_model, tmp_path, capsys):
    from component.kfp import cli

    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        assert cli.main(["--model", str(saved_model), "--push-destination", str(tmp_path / "serving")]) == 0
        os.kill(os.getpid(), signal.SIGTERM)  # the last instant before the process exits
        time.sleep(0.2)
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    assert json.loads(capsys.readouterr().out)["pushed"] == 1


# --- 4. malformed executor input ---


def test_malformed_blessing_is_never_read_as_no_blessing(saved_model, tmp_path):
    doc = executor_input(saved_model, tmp_path / "serving", tmp_path, model_blessing="oops")
    refused(run_cli("--executor-input", json.dumps(doc)),
            "executor_input: inputs.artifacts.model_blessing is a string, expected an object")
    assert not (tmp_path / "serving").exists() and not (tmp_path / "out.json").exists()


MALFORMED = [
    (["inputs", "artifacts", "model_blessing"], {"artifacts": ["oops"]},
     "inputs.artifacts.model_blessing.artifacts[0] is a string, expected an object"),
    (["inputs", "artifacts", "model_blessing"], {"artifacts": [None]},
     "inputs.artifacts.model_blessing.artifacts[0] is null, expected an object"),
    (["inputs", "artifacts", "model_blessing"], {"artifacts": [{}]}, "inputs.artifacts.model_blessing.artifacts[0] has no uri"),
    (["inputs", "artifacts", "model_blessing"], {"artifacts": {"uri": "/x"}},
     "inputs.artifacts.model_blessing.artifacts is an object, expected an array"),
    (["inputs", "artifacts", "model_blessing"], {"artifacts": [{"uri": "/x", "metadata": ["blessed"]}]},
     "inputs.artifacts.model_blessing.artifacts[0].metadata is an array, expected an object"),
    (["inputs", "artifacts", "model_blessing"], None, "inputs.artifacts.model_blessing is null, expected an object"),
    (["inputs", "parameterValues"], "push_destination", "inputs.parameterValues is a string, expected an object"),
    (["inputs", "parameterValues", "keep_versions"], [5],
     "inputs.parameterValues.keep_versions is an array, expected a number or a string"),
    (["inputs", "parameterValues", "required_signatures"], None,
     "inputs.parameterValues.required_signatures is null, expected a string"),
    (["outputs", "outputFile"], 7, "outputs.outputFile is a number, expected a string"),
    (["outputs", "artifacts", "pushed_model", "artifacts", 0, "name"], {},
     "outputs.artifacts.pushed_model.artifacts[0].name is an object, expected a string"),
    (["outputs", "parameters"], {"pushed": {"outputFile": False}}, "outputs.parameters.pushed.outputFile is a boolean"),
    (["inputs"], [], "inputs is an array, expected an object"),
]


@pytest.mark.parametrize("path, value, message", MALFORMED, ids=[m[2].split(" is ")[0].split(" has ")[0] for m in MALFORMED])
def test_malformed_executor_input_names_the_json_path(saved_model, tmp_path, path, value, message):
    doc = executor_input(saved_model, tmp_path / "serving", tmp_path)
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    refused(run_cli("--executor-input", json.dumps(doc)), f"executor_input: {message}")
    assert sorted(os.listdir(tmp_path)) == ["saved_model"]  # nothing written: no version, no outputs


# Found by tests/kfp/test_executor_input_fuzz.py: each was a traceback, some after the version was published.
@pytest.mark.parametrize("path, value, message", [
    (["outputs", "parameters", "pushed", "outputFile"], "/", "executor_input: outputs.parameters.pushed.outputFile: '/' cannot be written as a file"),
    (["outputs", "outputFile"], "minio://b/../..", "executor_input: outputs.outputFile: 'minio://b/../..' cannot be written as a file"),
    (["outputs", "artifacts", "push_report", "artifacts"], [{"uri": "/"}], "push_report: '/' cannot be written as a file"),
    (["inputs", "artifacts", "model", "artifacts", 0, "uri"], "\u0000", "model: '\\x00' is not a usable path"),
    (["inputs", "parameterValues", "push_destination"], "\ud800", "push_destination: '\\ud800' is not a usable path"),
    (["inputs", "parameterValues", "push_destination"], "gs://bucket/../x", "push_destination: 'gs://bucket/../x' has a '..' segment"),
])
def test_paths_that_cannot_be_written_are_refused_before_pushing(saved_model, tmp_path, path, value, message):
    doc = executor_input(saved_model, tmp_path / "serving", tmp_path)
    doc["outputs"]["artifacts"]["push_report"] = {"artifacts": [{"uri": str(tmp_path / "report.md")}]}
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    refused(run_cli("--executor-input", json.dumps(doc)), message)
    assert sorted(os.listdir(tmp_path)) == ["saved_model"]


# --- 5. directory symlinks inside a model ---


def test_directory_symlink_lattice_is_refused_at_once(saved_model, tmp_path):
    # Followed, each level triples the paths: 3**40 copies of one file; the walk would never end.
    level = saved_model / "assets"
    for _ in range(40):
        (level / "next").mkdir(parents=True)
        (level / "file.txt").write_text("x")
        os.symlink("next", level / "a")
        os.symlink("next", level / "b")
        level = level / "next"
    result = run_cli("--model", str(saved_model), "--push-destination", str(tmp_path / "serving"), timeout=60)
    refused(result, "model: assets/a is a symlink to a directory")
    assert not (tmp_path / "serving").exists()


def test_model_without_directory_symlinks_is_pushed_file_for_file(saved_model, tmp_path):
    level = saved_model / "assets"
    for _ in range(40):
        level.mkdir(parents=True, exist_ok=True)
        (level / "file.txt").write_text("x")
        level = level / "next"
    result = run_cli("--model", str(saved_model), "--push-destination", str(tmp_path / "serving"))
    assert result.returncode == 0, result.stderr
    version = tmp_path / "serving" / json.loads(result.stdout)["pushed_version"]
    pushed = [p for p in version.rglob("*") if p.is_file()]
    assert len(pushed) == len([p for p in saved_model.rglob("*") if p.is_file()])


# --- 8. destinations that are JSON but not an object ---


@pytest.mark.parametrize("text, kind", [("[]", "array"), ('""', "string"), ("5", "number"), ("null", "null"),
                                        ("true", "boolean"), ('"serving"', "string")])
def test_destination_that_is_json_but_not_an_object_is_refused(saved_model, tmp_path, text, kind):
    # Run in an empty directory: read as a bare path, it used to become a directory there.
    work = tmp_path / "work"
    work.mkdir()
    result = subprocess.run([sys.executable, "-m", "component", "--model", str(saved_model), "--push-destination", text],
                            cwd=work, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    refused(result, f"--push-destination: {text!r} is a JSON {kind}, not a PushDestination object")
    assert os.listdir(work) == []


def test_a_report_hard_linked_into_a_live_version_replaces_the_link_never_writes_through(saved_model, tmp_path):
    base = tmp_path / "serving"
    first = run_cli("--model", str(saved_model), "--push-destination", str(base))
    assert first.returncode == 0, first.stderr
    [version] = [p for p in base.iterdir() if p.name.isdigit()]
    live = (version / "saved_model.pb").read_bytes()
    report = tmp_path / "out" / "report.md"
    report.parent.mkdir()
    os.link(version / "saved_model.pb", report)  # realpath cannot see a hard link: only the write can
    again = run_cli("--model", str(saved_model), "--push-destination", str(base), "--force-new-version",
                    "--push-report", str(report))
    assert again.returncode == 0, again.stderr
    assert (version / "saved_model.pb").read_bytes() == live
    assert report.read_text().startswith("# Model push")


def test_a_location_too_deep_for_the_models_paths_is_refused_before_anything_is_written(saved_model, tmp_path):
    deep = tmp_path.joinpath(*["d" * 249] * 16)  # every name fits; the whole path does not
    result = run_cli("--model", str(saved_model), "--push-destination", str(deep),
                     "--pushed-model", str(tmp_path / "pushed_model"))
    refused(result, "--push-destination:", "is too deep for this model")
    assert not (tmp_path / "pushed_model").exists() and not (tmp_path / ("d" * 249)).exists()
