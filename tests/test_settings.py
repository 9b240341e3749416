"""The environment variables the package reads (component/settings.py): read once per process,
and a bad value is one line naming the variable, exit 2, with nothing written."""

import json

import pytest

from tests.support.command import refused, run_cli, tree
from component import settings
from component.errors import InputError


@pytest.mark.parametrize("name, value", [
    ("MODEL_PUSHER_MOUNT_ROOT", "relative/root"),
    ("MODEL_PUSHER_LEASE_SECONDS", "five minutes"),
    ("MODEL_PUSHER_GCS_LEASE_SECONDS", "-1"),
    ("MODEL_PUSHER_GCS_RETRY_SECONDS", "nan"),
    ("MODEL_PUSHER_S3_RETRY_SECONDS", "0"),
    ("MODEL_PUSHER_VERTEX_OPERATION_SECONDS", "soon"),
    ("MODEL_PUSHER_VERTEX_API_ENDPOINT", "ftp://vertex.example"),
    ("AWS_ENDPOINT_URL", "minio-service.kubeflow:9000"),
    ("STORAGE_EMULATOR_HOST", "garbage"),
    ("AWS_REGION", "bad region!"),
])
def test_a_bad_setting_is_one_line_naming_it_and_nothing_is_written(saved_model, tmp_path, name, value):
    base = tmp_path / "serving"
    base.mkdir()
    env = {"AWS_ENDPOINT_URL_S3": ""} if name == "AWS_ENDPOINT_URL" else {}
    result = run_cli("--model", str(saved_model), "--push-destination", str(base),
                     "--pushed-model", str(tmp_path / "pushed"), env={**env, name: value})
    refused(result, f"${name}", repr(value))
    assert result.stdout == ""
    assert tree(base) == {} and not (tmp_path / "pushed").exists()


def test_a_bad_setting_stops_list_and_rollback_too(tmp_path):
    for command in ("list", "rollback"):
        result = run_cli(command, "--push-destination", str(tmp_path),
                         env={"MODEL_PUSHER_LEASE_SECONDS": "x"})
        refused(result, "$MODEL_PUSHER_LEASE_SECONDS")


@pytest.mark.parametrize("args", [("--help",), ("--version",), ("list", "--help"), ("rollback", "--help")])
def test_help_and_version_answer_whatever_the_environment(args):
    result = run_cli(*args, env={"MODEL_PUSHER_LEASE_SECONDS": "x", "AWS_REGION": "bad region!"})
    assert result.returncode == 0 and result.stdout, result.stderr


def test_defaults_when_unset():
    read = settings.read({})
    assert read.mount_root.as_posix() == "/"
    assert (read.lease_seconds, read.gcs_retry_seconds, read.s3_retry_seconds) == (300, 120, 120)
    assert read.vertex_operation_seconds == 1800
    assert (read.s3_endpoint, read.s3_region, read.vertex_api_endpoint, read.project, read.region) == (None, None, "", "", "")
    assert not read.gcs_emulator and read.vertex_run_labels == ""


def test_the_first_of_each_group_of_names_wins_and_empty_counts_as_unset():
    read = settings.read({
        "MODEL_PUSHER_LEASE_SECONDS": " ", "MODEL_PUSHER_GCS_LEASE_SECONDS": "7.5",
        "AWS_ENDPOINT_URL_S3": "http://s3.local:9000", "AWS_ENDPOINT_URL": "http://other:1",
        "AWS_REGION": "", "AWS_DEFAULT_REGION": "eu-west-1",
        "GOOGLE_CLOUD_PROJECT": "", "CLOUD_ML_PROJECT_ID": "my-project", "CLOUD_ML_REGION": "europe-west4",
        "VERTEX_AI_PIPELINES_RUN_LABELS": '{"vertex-ai-pipelines-run-billing-id": "123"}',
        "MODEL_PUSHER_VERTEX_API_ENDPOINT": "http://127.0.0.1:8080/",
    })
    assert read.lease_seconds == 7.5
    assert (read.s3_endpoint, read.s3_region) == ("http://s3.local:9000", "eu-west-1")
    assert (read.project, read.region) == ("my-project", "europe-west4")
    assert json.loads(read.vertex_run_labels) == {"vertex-ai-pipelines-run-billing-id": "123"}
    assert read.vertex_api_endpoint == "http://127.0.0.1:8080"


def test_read_once_per_process(monkeypatch):
    monkeypatch.setenv("MODEL_PUSHER_S3_RETRY_SECONDS", "5")
    assert settings.current().s3_retry_seconds == 5
    monkeypatch.setenv("MODEL_PUSHER_S3_RETRY_SECONDS", "not read again")
    assert settings.current().s3_retry_seconds == 5
    settings.current.cache_clear()
    with pytest.raises(InputError, match=r"\$MODEL_PUSHER_S3_RETRY_SECONDS"):
        settings.current()
