"""The command line as a newcomer meets it (issue 18): a bad command line is one line naming what
is wrong, on/off options work bare, and messages name inputs the way the user's interface does."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from component import __version__
from tests.support.blessings import blessing
from tests.support.command import REPO, refused, run_cli, start_cli, tree
from tests.support.executor_inputs import artifact, executor_input


@pytest.mark.parametrize("args, fragment", [
    ((), "--push-destination is required"),
    (("--push-destination", "/tmp/x", "--bogus"), "unrecognized arguments: --bogus"),
    (("--push-destination", "/tmp/x", "--keep-versions"), "argument --keep-versions"),
    (("--push-destination", "/tmp/x", "--force-new-version", "maybe"), "--force-new-version: expected 1/0 or true/false"),
    (("list",), "the following arguments are required: --push-destination"),
    (("rollback", "--push-destination", "/tmp/x", "--to", "latest"), "argument --to: invalid int value"),
])
def test_a_bad_command_line_is_one_line_without_the_usage(args, fragment):
    result = run_cli(*args)
    refused(result, fragment)
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stdout == ""


def test_on_off_options_work_bare_and_with_true_or_false(saved_model, tmp_path):
    base = tmp_path / "serving"
    common = ("--model", str(saved_model), "--push-destination", str(base), "--versioning", "SEQUENTIAL")
    assert run_cli(*common).returncode == 0
    reused = run_cli(*common, "--force-new-version", "false")
    assert json.loads(reused.stdout)["pushed_version"] == "1"
    assert "(--force-new-version publishes a new one)" in reused.stderr
    bare = run_cli(*common, "--force-new-version")
    assert bare.returncode == 0, bare.stderr
    assert json.loads(bare.stdout)["pushed_version"] == "2"
    spelled = run_cli(*common, "--force-new-version", "true", "--keep-versions", "2")
    assert json.loads(spelled.stdout)["pushed_version"] == "3"
    assert sorted(p.name for p in base.iterdir()) == [".high-water", "2", "3"]


def test_messages_name_options_as_each_interface_does(saved_model, tmp_path):
    base = tmp_path / "serving"
    flags = run_cli("--model", str(saved_model), "--push-destination", str(base), "--keep-versions", "-1")
    refused(flags, "--keep-versions: must be 0 (keep all) or more, got -1")
    doc = executor_input(tmp_path, {"model": artifact(saved_model)}, {"push_destination": str(base)})
    doc["inputs"]["parameterValues"]["keep_versions"] = -1
    kfp = run_cli("--executor-input", json.dumps(doc))
    line = refused(kfp, "keep_versions: must be 0 (keep all) or more, got -1")
    assert "--keep-versions" not in line
    assert not base.exists() or tree(base) == {}


@pytest.mark.parametrize("destination, fragments", [
    ('{"filesystem": {"base_dir": "/srv/models"}}',
     ("unknown field(s) ['base_dir']", "base_directory (required) and versioning (AUTO, UNIX_TIMESTAMP, SEQUENTIAL)",
      '{"filesystem": {"base_directory": ..., "versioning": "AUTO"}}')),
    ('{"filesytem": {"base_directory": "/srv/models"}}',
     ("got keys ['filesytem']", "base_directory (required) and versioning (AUTO, UNIX_TIMESTAMP, SEQUENTIAL)",
      '{"filesystem": {"base_directory": ..., "versioning": "AUTO"}}')),
])
def test_a_malformed_destination_shows_the_expected_fields(saved_model, destination, fragments):
    refused(run_cli("--model", str(saved_model), "--push-destination", destination), *fragments)


def test_help_shows_the_subcommands_first_and_groups_the_options():
    result = run_cli("--help")
    assert result.returncode == 0
    head = result.stdout.splitlines()[:4]
    assert any(" list --push-destination" in line for line in head), head
    assert any(" rollback --push-destination" in line for line in head), head
    sections = [line for line in result.stdout.splitlines() if line and not line[0].isspace() and line.endswith(":")]
    assert sections[:4] == ["options:", "what to push, and where:",
                            "Vertex AI Model Registry and endpoints (with --vertex-model):", "where to record the push:"]
    assert "vertex_" not in result.stdout.split("examples:")[0]


def test_sizes_and_removed_versions_read_the_same_in_the_log_and_in_list(saved_model, tmp_path):
    base = tmp_path / "serving"
    common = ("--model", str(saved_model), "--push-destination", str(base), "--versioning", "SEQUENTIAL")
    assert run_cli(*common).returncode == 0
    second = run_cli(*common, "--force-new-version", "--keep-versions", "1")
    assert "removed version 1 from" in second.stderr and "removed versions" not in second.stderr
    listed = run_cli("list", "--push-destination", str(base))
    megabytes = listed.stdout.splitlines()[1].split()[4]
    assert f"files, {megabytes} MB in" in second.stderr
    assert listed.stderr == ""  # a listing is its own answer: no "Done in" line after it


def test_the_installed_command_runs_the_command():
    """setup.py's console script, called as pip's wrapper calls it."""
    module, function = re.search(r'"model-pusher=([\w.]+):(\w+)"', (REPO / "setup.py").read_text()).groups()
    code = (f"import sys; sys.argv = ['/venv/bin/model-pusher', '--version']; "
            f"from {module} import {function}; raise SystemExit({function}())")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout.strip()) == (0, f"model-pusher {__version__}"), result.stderr


def run_in(cwd, *args: str) -> subprocess.CompletedProcess:
    """The command run from `cwd`, where relative paths the user gives are resolved."""
    return subprocess.run([sys.executable, "-m", "component", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})


def test_what_the_user_gave_is_never_renamed_into_flags(saved_model, tmp_path):
    """Only names the program wrote become flags: paths, values and JSON keys the user typed that
    happen to spell an option's name stay as typed."""
    shutil.copytree(saved_model, tmp_path / "model")
    refused(run_in(tmp_path, "--model", "model_blessing", "--push-destination", "serving"),
            "--model: ", "model_blessing")
    assert "--model-blessing" not in run_in(tmp_path, "--model", "model_blessing", "--push-destination", "x").stderr
    line = refused(run_in(tmp_path, "--model", "model", "--push-destination", "serving",
                          "--keep-versions", "force_new_version=true"), "--keep-versions")
    assert "'force_new_version=true'" in line
    bad_key = '{"filesystem": {"base_directory": "serving", "keep_versions": 1}}'
    refused(run_in(tmp_path, "--model", "model", "--push-destination", bad_key), "unknown field(s) ['keep_versions']")
    # A short value shields only itself, not every name it is part of.
    refused(run_in(tmp_path, "--model", "model", "--push-destination", "serving", "--vertex-model", "m",
                   "--vertex-region", "e"), "but --push-destination is serving")
    archived = run_in(tmp_path, "--model", "model", "--push-destination", "serving", "--pushed-model", "pushed_model")
    assert archived.returncode == 0, archived.stderr
    assert "in the --pushed-model artifact at pushed_model" in archived.stderr
    assert (tmp_path / "pushed_model" / "saved_model.pb").is_file()


def test_the_reason_names_inputs_as_the_interface_does(saved_model, tmp_path):
    blessed = blessing(tmp_path / "blessing", "BLESSED")
    flags = run_cli("--model", str(saved_model), "--model-blessing", str(blessed),
                    "--push-destination", str(tmp_path / "a"), "--push-report", str(tmp_path / "report.md"))
    assert json.loads(flags.stdout)["reason"] == "--model-blessing blessed the model"
    assert "--model-blessing" in (tmp_path / "report.md").read_text()
    doc = executor_input(tmp_path, {"model": artifact(saved_model), "model_blessing": artifact(blessed)},
                         {"push_destination": str(tmp_path / "b")})
    kfp = run_cli("--executor-input", json.dumps(doc))
    assert kfp.returncode == 0, kfp.stderr
    assert ": model_blessing blessed the model" in kfp.stderr and "--model-blessing" not in kfp.stderr


@pytest.mark.parametrize("args, fragment", [
    (("--push-destination", "/tmp/e1", "--push-destination", "/tmp/e2"), "--push-destination is given more than once"),
    (("--push-destination", "/tmp/e1", "--keep-versions", "1", "--keep-versions=2"), "--keep-versions is given more than once"),
    (("--push-destination", "/tmp/e1", "--force-new-version", "--force-new-version", "false"),
     "--force-new-version is given more than once"),
    (("rollback", "--push-destination", "/tmp/e1", "--to", "5", "--to", "6"), "--to is given more than once"),
    (("list", "--push-destination", "/tmp/e1", "--push-destination", "/tmp/e2"), "--push-destination is given more than once"),
    (("--executor-input", "{}", "--push-destination", "/tmp/e1"),
     "--executor-input replaces every other flag; remove --push-destination"),
])
def test_an_option_given_twice_or_beside_the_executor_input_is_refused(args, fragment):
    result = run_cli(*args)
    refused(result, fragment)
    assert result.stdout == ""


def test_help_is_short_and_names_each_default_once():
    text = run_cli("--help").stdout
    assert len(text.splitlines()) <= 110, len(text.splitlines())
    flat = text.replace("\n", "").replace(" ", "")
    for default in ("(default:serving_default)", "(default:100)", "(default:n1-standard-2)"):
        assert flat.count(default) == 1, default
    usage = text.split("\n\n")[0]
    assert "--push-destination DEST" in usage and "  --push-destination DEST" in text


def test_a_listing_read_only_in_part_ends_quietly(tmp_path):
    base = tmp_path / "serving"
    for version in range(1, 3001):  # more than a pipe holds
        (base / str(version)).mkdir(parents=True)
    for json_flag in ((), ("--json",)):
        listing = start_cli("list", "--push-destination", str(base), *json_flag)
        listing.stdout.readline()
        listing.stdout.close()  # what `| head -1` does once it has its line
        stderr = listing.stderr.read()
        assert listing.wait(timeout=60) == 0, stderr
        assert stderr == ""


def test_list_says_when_the_base_does_not_exist(tmp_path):
    result = run_cli("list", "--push-destination", str(tmp_path / "mistyped"))
    assert result.returncode == 0
    assert f"WARNING {tmp_path / 'mistyped'} does not exist" in result.stderr
