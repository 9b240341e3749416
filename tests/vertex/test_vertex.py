"""Registering pushed versions in the Vertex AI Model Registry and deploying them, through the real
command, against fake-gcs-server and the fake Vertex API (tests/support/vertex_fake.py), which speaks the
real REST protocol with the real aiplatform_v1 messages."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud.aiplatform_v1 import EndpointServiceClient, types

from tests.support.blessings import blessing
from component.vertex.target import default_serving_image
from component.vertex.deploy import split_traffic
from tests.support.command import REPO, run_cli, start_cli, stop_when, wait_until
from tests.support.destinations import push, pushed
from tests.support.executor_inputs import artifact, executor_input
from tests.support.vertex_fake import FakeVertex

PROJECT, REGION = "test-project", "us-central1"
LOCATION = f"projects/{PROJECT}/locations/{REGION}"
MODEL = f"{LOCATION}/models/taxi"


@pytest.fixture
def vertex(gcs_emulator):
    with FakeVertex(gcs_emulator.url) as fake:
        yield fake


@pytest.fixture
def endpoint(vertex) -> str:
    """An endpoint made through the real client, as a user would before the first deployment."""
    client = EndpointServiceClient(transport="rest", credentials=AnonymousCredentials(),
                                   client_options=ClientOptions(api_endpoint=vertex.url))
    made = client.create_endpoint(parent=LOCATION, endpoint=types.Endpoint(display_name="taxi"), endpoint_id="4242")
    name = made.result(timeout=10).name
    vertex.calls.clear()
    return name


def env_for(vertex, **extra: str) -> dict:
    return {"STORAGE_EMULATOR_HOST": vertex.gcs_url, "MODEL_PUSHER_VERTEX_API_ENDPOINT": vertex.url,
            "GOOGLE_CLOUD_PROJECT": PROJECT, "CLOUD_ML_REGION": REGION, **extra}


def register(model, bucket: str, vertex, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """A push to gs://BUCKET/serving/taxi that registers the version as the Vertex model `taxi`
    (unless `args` name another model)."""
    named = () if "--vertex-model" in args else ("--vertex-model", "taxi")
    return push(model, f"gs://{bucket}/serving/taxi", *named, *args, env=env_for(vertex, **(env or {})))


def _popen(model, bucket: str, vertex, *args: str, env: dict | None = None) -> subprocess.Popen:
    """A push to gs://BUCKET/serving/taxi registered as `taxi`, started in the background for a test
    that acts while it runs."""
    return start_cli("--model", str(model), "--push-destination", f"gs://{bucket}/serving/taxi", "--vertex-model", "taxi",
                     *args, env=env_for(vertex, **(env or {})))


def aliases(vertex) -> dict[str, list[str]]:
    return {v.version_id: sorted(v.version_aliases) for v in vertex.versions(MODEL)}


def deployed(vertex, endpoint: str) -> dict[str, tuple[str, int]]:
    """version ID -> (deployed model ID, traffic percent) on the endpoint."""
    ep = vertex.endpoints[endpoint]
    return {d.model_version_id: (d.id, ep.traffic_split.get(d.id, 0)) for d in ep.deployed_models}


# --- registering --------------------------------------------------------------------------------

def test_first_push_creates_the_model_with_the_version_directory(saved_model, gcs_bucket, vertex):
    run_labels = json.dumps({"vertex-ai-pipelines-run-billing-id": "1234"})
    record = pushed(register(saved_model, gcs_bucket, vertex, "--vertex-version-aliases", "champion",
                         "--vertex-labels", "team=search", env={"VERTEX_AI_PIPELINES_RUN_LABELS": run_labels}))
    (version,) = vertex.versions(MODEL)
    assert version.artifact_uri == record["pushed_destination"] == f"gs://{gcs_bucket}/serving/taxi/{record['pushed_version']}"
    assert version.container_spec.image_uri == default_serving_image(REGION) == "us-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest"
    assert dict(version.labels) == {"team": "search", "vertex-ai-pipelines-run-billing-id": "1234"}
    assert sorted(version.version_aliases) == ["champion", "default"]
    assert record["vertex"]["model_version"] == f"{MODEL}@1" and record["vertex"]["reused"] is False
    assert sorted(record["vertex"]["aliases"]) == ["champion", "default"]
    assert vertex.count("UploadModel") == 1 and vertex.count("DeployModel") == 0


def test_a_retried_step_reuses_the_registered_version_and_does_not_deploy_twice(saved_model, gcs_bucket, vertex, endpoint):
    first = pushed(register(saved_model, gcs_bucket, vertex, "--vertex-endpoint", "4242", "--vertex-version-aliases", "champion"))
    # The alias moved away meanwhile (by hand, or another push): the retry applies it again.
    vertex.models[MODEL][0].version_aliases = ["default"]
    again = pushed(register(saved_model, gcs_bucket, vertex, "--vertex-endpoint", "4242", "--vertex-version-aliases", "champion"))
    assert again["reused"] == 1 and again["pushed_version"] == first["pushed_version"]
    assert again["vertex"]["reused"] is True and again["vertex"]["model_version"] == first["vertex"]["model_version"]
    assert again["vertex"]["deployed_now"] is False
    assert again["vertex"]["deployed_model_id"] == first["vertex"]["deployed_model_id"]
    assert vertex.count("UploadModel") == 1 and vertex.count("DeployModel") == 1
    assert aliases(vertex) == {"1": ["champion", "default"]}
    assert deployed(vertex, endpoint) == {"1": (first["vertex"]["deployed_model_id"], 100)}


def test_a_second_version_takes_the_alias_from_the_first(saved_model, keras_saved_model, gcs_bucket, vertex):
    pushed(register(saved_model, gcs_bucket, vertex, "--vertex-version-aliases", "champion"))
    record = pushed(register(keras_saved_model, gcs_bucket, vertex, "--vertex-version-aliases", "champion,candidate"))
    assert record["vertex"]["model_version"] == f"{MODEL}@2"
    # `default` follows the newest version, as the Vertex SDK's upload moves it.
    assert aliases(vertex) == {"1": [], "2": ["candidate", "champion", "default"]}
    first, second = vertex.versions(MODEL)
    assert first.artifact_uri != second.artifact_uri == record["pushed_destination"]
    assert vertex.count("UploadModel") == 2


def test_resource_name_and_options_name_the_same_model(saved_model, gcs_bucket, vertex):
    result = run_cli("--model", str(saved_model), "--push-destination", f"gs://{gcs_bucket}/serving/taxi",
                     "--vertex-model", MODEL, "--vertex-serving-image", "europe-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest",
                     env={"STORAGE_EMULATOR_HOST": vertex.gcs_url, "MODEL_PUSHER_VERTEX_API_ENDPOINT": vertex.url})
    assert pushed(result)["vertex"]["model_version"] == f"{MODEL}@1"
    assert vertex.versions(MODEL)[0].container_spec.image_uri.startswith("europe-docker.pkg.dev/")


# --- deploying ----------------------------------------------------------------------------------

def test_canary_gets_its_share_and_the_old_version_keeps_the_rest(saved_model, keras_saved_model, gcs_bucket, vertex, endpoint):
    first = pushed(register(saved_model, gcs_bucket, vertex, "--vertex-endpoint", endpoint))
    second = pushed(register(keras_saved_model, gcs_bucket, vertex, "--vertex-endpoint", "4242",
                         "--vertex-traffic-percentage", "10", "--vertex-undeploy-previous", "true"))
    old_id, new_id = first["vertex"]["deployed_model_id"], second["vertex"]["deployed_model_id"]
    assert deployed(vertex, endpoint) == {"1": (old_id, 90), "2": (new_id, 10)}
    assert second["vertex"]["traffic_split"] == {old_id: 90, new_id: 10}
    assert second["vertex"]["undeployed"] == []  # the old version still serves 90%: it stays
    d = vertex.endpoints[endpoint].deployed_models[1]
    assert d.dedicated_resources.machine_spec.machine_type == "n1-standard-2"
    assert (d.dedicated_resources.min_replica_count, d.dedicated_resources.max_replica_count) == (1, 0)


def test_full_rollout_undeploys_the_previous_version(saved_model, keras_saved_model, gcs_bucket, vertex, endpoint):
    first = pushed(register(saved_model, gcs_bucket, vertex, "--vertex-endpoint", endpoint))
    second = pushed(register(keras_saved_model, gcs_bucket, vertex, "--vertex-endpoint", endpoint,
                         "--vertex-undeploy-previous", "true", "--vertex-machine-type", "n1-standard-4",
                         "--vertex-min-replicas", "2", "--vertex-max-replicas", "3"))
    assert second["vertex"]["undeployed"] == [first["vertex"]["deployed_model_id"]]
    assert deployed(vertex, endpoint) == {"2": (second["vertex"]["deployed_model_id"], 100)}
    d = vertex.endpoints[endpoint].deployed_models[0]
    assert d.dedicated_resources.machine_spec.machine_type == "n1-standard-4"
    assert (d.dedicated_resources.min_replica_count, d.dedicated_resources.max_replica_count) == (2, 3)
    assert vertex.count("UndeployModel") == 1


def test_other_models_on_the_endpoint_keep_their_proportions():
    assert split_traffic({"a": 60, "b": 40}, 10) == {"a": 54, "b": 36, "0": 10}
    assert split_traffic({"a": 50, "b": 25, "c": 25}, 10) == {"a": 45, "b": 23, "c": 22, "0": 10}  # sums to 100
    assert split_traffic({"a": 100, "idle": 0}, 100) == {"0": 100}
    assert split_traffic({"a": 100}, 0) == {"a": 100, "0": 0}
    assert split_traffic({}, 10) == {"0": 100}  # nothing else serves: the new version gets everything


# --- not blessed, and bad inputs ------------------------------------------------------------------

def test_not_blessed_never_calls_vertex(saved_model, gcs_bucket, vertex, endpoint, tmp_path):
    result = register(saved_model, gcs_bucket, vertex, "--vertex-endpoint", endpoint,
                  "--model-blessing", str(blessing(tmp_path / "blessing", "NOT_BLESSED")))
    record = pushed(result)
    assert record["pushed"] == 0 and "vertex" not in record
    assert vertex.calls == []


@pytest.mark.parametrize("args, message", [
    (["--vertex-version-aliases", "Champion"], "--vertex-version-aliases: 'Champion' is not an alias"),
    (["--vertex-labels", "team"], "--vertex-labels: 'team' is not key=value"),
    (["--vertex-labels", "Team=x"], "--vertex-labels: Team=x is not a label"),
    (["--vertex-traffic-percentage", "101", "--vertex-endpoint", "4242"], "--vertex-traffic-percentage: must be 0 to 100"),
    (["--vertex-min-replicas", "0", "--vertex-endpoint", "4242"], "--vertex-min-replicas: must be 1 or more"),
    (["--vertex-max-replicas", "1", "--vertex-min-replicas", "2", "--vertex-endpoint", "4242"], "--vertex-max-replicas: 1 is below"),
    (["--vertex-undeploy-previous", "true"], "--vertex-undeploy-previous: is set to 'true' but --vertex-endpoint is empty"),
    (["--vertex-region", "europe-west4", "--vertex-model", "projects/test-project/locations/us-central1/models/taxi"],
     "--vertex-region: europe-west4 differs from the us-central1"),
    (["--vertex-model", "Taxi!"], "--vertex-model: 'Taxi!' is not a model ID"),
    (["--vertex-endpoint", "projects/test-project/locations/evil.example#/endpoints/1"],
     "--vertex-endpoint: 'projects/test-project/locations/evil.example#/endpoints/1' does not name"),
    (["--vertex-region", "moon"], "--vertex-region: 'moon' is not a Vertex AI region"),
])
def test_bad_vertex_options_are_refused_before_anything_is_written(saved_model, gcs_bucket, vertex, gcs_emulator, args, message):
    if "--vertex-model" in args:  # an option is given once: these name their own model
        result = push(saved_model, f"gs://{gcs_bucket}/serving/taxi", *args, env=env_for(vertex))
    else:
        result = register(saved_model, gcs_bucket, vertex, *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert json.loads(_list(gcs_bucket, vertex)) == [] and vertex.calls == []


def _list(bucket: str, vertex) -> str:
    return run_cli("list", "--json", "--push-destination", f"gs://{bucket}/serving/taxi",
                   env={"STORAGE_EMULATOR_HOST": vertex.gcs_url}).stdout


def test_registering_needs_a_gs_destination(saved_model, tmp_path, vertex):
    result = run_cli("--model", str(saved_model), "--push-destination", str(tmp_path / "serving"),
                     "--vertex-model", "taxi", env=env_for(vertex))
    assert result.returncode == 2
    assert "--vertex-model: Vertex AI registers models from Cloud Storage" in result.stderr
    assert not (tmp_path / "serving").exists() and vertex.calls == []


def test_a_malformed_api_endpoint_is_refused_before_anything_is_written(saved_model, gcs_bucket, vertex):
    result = register(saved_model, gcs_bucket, vertex, env={"MODEL_PUSHER_VERTEX_API_ENDPOINT": "127.0.0.1:8080/v1"})
    assert result.returncode == 2 and "$MODEL_PUSHER_VERTEX_API_ENDPOINT: expected http(s)://HOST:PORT" in result.stderr
    assert json.loads(_list(gcs_bucket, vertex)) == [] and vertex.calls == []


def test_no_project_anywhere(saved_model, gcs_bucket, vertex):
    result = register(saved_model, gcs_bucket, vertex, env={"GOOGLE_CLOUD_PROJECT": "", "CLOUD_ML_PROJECT_ID": ""})
    assert result.returncode == 2 and "--vertex-project: not given" in result.stderr


# --- Vertex failing after the push ------------------------------------------------------------------

SERVICE_AGENT = ("Service account service-123@gcp-sa-aiplatform.iam.gserviceaccount.com does not have "
                 "[storage.objects.get] access to the Google Cloud Storage object.")


def fault_upload_403(v):
    v.fail("UploadModel", "PERMISSION_DENIED", "Permission 'aiplatform.models.upload' denied on resource.")


def fault_service_agent(v):
    v.fail_operation("UploadModel", "FAILED_PRECONDITION", SERVICE_AGENT)


def fault_quota(v):
    v.fail("UploadModel", "RESOURCE_EXHAUSTED", "Quota exceeded for aiplatform.googleapis.com/upload_model_requests.")


def fault_region(v):
    v.fail("UploadModel", "FAILED_PRECONDITION", "The model's region us-central1 differs from the region of gs://b (EU).")


def fault_deploy_operation(v):
    v.fail_operation("DeployModel", "INTERNAL", "Model server never became ready.")


def fault_stalled_upload(v):
    v.stall("UploadModel")


def fault_secret_in_message(v):
    v.fail("MergeVersionAliases", "PERMISSION_DENIED", "Denied for https://x.googleapis.com/v1/m?access_token=ya29.SECRET1 "
           "(Authorization: Bearer ya29.SECRET2).")


@pytest.mark.parametrize("fault, says", [
    (fault_upload_403, "permission denied: the pipeline's service account (or your credentials) needs roles/aiplatform.user"),
    (fault_service_agent, "the Vertex AI Service Agent (service-PROJECT_NUMBER@gcp-sa-aiplatform.iam.gserviceaccount.com) cannot read"),
    (fault_quota, "quota exceeded in project test-project, region us-central1"),
    (fault_region, "Vertex AI refused a location in this request (the model's region, vertex_region, is us-central1; "
                   "vertex_endpoint's is us-central1"),
    (fault_deploy_operation, "Vertex AI answered INTERNAL (Vertex AI said: Model server never became ready.)"),
    (fault_stalled_upload, "did not finish within 2 s"),
    (fault_secret_in_message, "permission denied"),
])
def test_a_vertex_failure_after_the_push_leaves_the_push_standing(saved_model, gcs_bucket, vertex, fault, says):
    vertex.endpoints[f"{LOCATION}/endpoints/4242"] = types.Endpoint(name=f"{LOCATION}/endpoints/4242")
    fault(vertex)
    result = register(saved_model, gcs_bucket, vertex, "--vertex-endpoint", "4242",
                  env={"MODEL_PUSHER_VERTEX_OPERATION_SECONDS": "2"})
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "SECRET" not in result.stderr + result.stdout  # never a token
    record = json.loads(result.stdout)  # the push is recorded like any push
    version, uri = record["pushed_version"], record["pushed_destination"]
    assert record["pushed"] == 1 and version
    assert says in errors[0]
    assert f"version {version} WAS published at {uri} and stays published" in errors[0]
    assert [v["version"] for v in json.loads(_list(gcs_bucket, vertex))] == [int(version)]


def test_a_retry_after_a_failed_registration_registers_the_published_version(saved_model, gcs_bucket, vertex):
    fault_quota(vertex)
    failed = register(saved_model, gcs_bucket, vertex)
    assert failed.returncode == 1 and vertex.versions(MODEL) == []
    record = pushed(register(saved_model, gcs_bucket, vertex))
    assert record["reused"] == 1 and record["vertex"]["model_version"] == f"{MODEL}@1"
    assert vertex.versions(MODEL)[0].artifact_uri == json.loads(failed.stdout)["pushed_destination"]


# --- the pipeline front ---------------------------------------------------------------------------

def kfp_doc(tmp_path, saved_model, bucket: str, **params) -> dict:
    doc = executor_input(tmp_path, {"model": artifact(saved_model)},
                         {"push_destination": f"gs://{bucket}/serving/taxi", "vertex_model": "taxi", **params})
    doc["inputs"]["parameterValues"]["vertex_traffic_percentage"] = 100.0  # KFP sends numbers as doubles
    doc["outputs"]["artifacts"]["registered_model"] = {"artifacts": [{
        "name": "projects/p/artifacts/43", "uri": str(tmp_path / "registered_model"), "metadata": {},
        "type": {"schemaTitle": "google.VertexModel"}}]}
    doc["outputs"]["parameters"].update({name: {"outputFile": str(tmp_path / "params" / name)}
                                         for name in ("vertex_model_version", "vertex_deployed_endpoint")})
    return doc


def test_executor_input_writes_the_vertex_outputs(saved_model, gcs_bucket, vertex, endpoint, tmp_path):
    doc = kfp_doc(tmp_path, saved_model, gcs_bucket, vertex_endpoint=endpoint)
    result = run_cli("--executor-input", json.dumps(doc), env=env_for(vertex))
    assert result.returncode == 0, result.stderr
    out = json.loads((tmp_path / "executor_output.json").read_text())
    art = out["artifacts"]["registered_model"]["artifacts"][0]
    # GCPC's convention: the uri is the version's REST URL (KFP's launcher uploads nothing for it).
    assert art == {"name": "projects/p/artifacts/43", "uri": f"https://{REGION}-aiplatform.googleapis.com/v1/{MODEL}@1",
                   "metadata": {"resourceName": f"{MODEL}@1"}}
    assert out["parameterValues"]["vertex_model_version"] == f"{MODEL}@1"
    assert out["parameterValues"]["vertex_deployed_endpoint"] == endpoint
    assert (tmp_path / "params" / "vertex_model_version").read_text() == f"{MODEL}@1"
    assert (tmp_path / "params" / "vertex_deployed_endpoint").read_text() == endpoint
    assert (tmp_path / "registered_model").is_dir()  # KFP's launcher uploads every output path


def test_executor_input_after_a_failed_registration_still_records_the_push(saved_model, gcs_bucket, vertex, tmp_path):
    fault_upload_403(vertex)
    result = run_cli("--executor-input", json.dumps(kfp_doc(tmp_path, saved_model, gcs_bucket)), env=env_for(vertex))
    assert result.returncode == 1
    out = json.loads((tmp_path / "executor_output.json").read_text())
    meta = out["artifacts"]["pushed_model"]["artifacts"][0]["metadata"]
    assert meta["pushed"] == 1 and meta["pushed_version"] == out["parameterValues"]["pushed_version"] != ""
    assert out["artifacts"]["registered_model"]["artifacts"][0]["metadata"] == {}
    assert out["parameterValues"]["vertex_model_version"] == ""
    assert (tmp_path / "params" / "pushed").read_text() == "true"


# --- the push path without Vertex ----------------------------------------------------------------

def test_a_push_without_vertex_options_never_imports_the_vertex_clients(saved_model, gcs_bucket, vertex):
    # With the client package made unimportable, a gs:// push (the path that could pull it in) still works.
    code = ("import sys, runpy; sys.modules['google.cloud.aiplatform_v1'] = None; sys.modules['google.cloud.aiplatform'] = None; "
            "runpy.run_module('component', run_name='__main__', alter_sys=True)")
    result = subprocess.run(
        [sys.executable, "-c", code, "--model", str(saved_model), "--push-destination", f"gs://{gcs_bucket}/serving/taxi"],
        cwd=REPO, capture_output=True, text=True, timeout=120, env={**os.environ, **env_for(vertex)},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["pushed"] == 1


def test_the_registered_version_is_found_beyond_the_first_page_of_versions(saved_model, gcs_bucket, vertex):
    vertex.models[MODEL] = [types.Model(name=MODEL, version_id=str(i), artifact_uri=f"gs://{gcs_bucket}/old/{i}",
                                        version_aliases=["default"] if i == 1 else [])
                            for i in range(1, 12)]
    first = pushed(register(saved_model, gcs_bucket, vertex))
    again = pushed(register(saved_model, gcs_bucket, vertex))
    assert first["vertex"]["model_version"] == again["vertex"]["model_version"] == f"{MODEL}@12"
    assert again["vertex"]["reused"] is True and vertex.count("UploadModel") == 1
    assert vertex.count("ListModelVersions") == 2 + 2  # two pages each time: the fake answers 10 a page


def test_a_stop_while_waiting_for_vertex_says_the_version_was_published(saved_model, gcs_bucket, vertex):
    vertex.stall("UploadModel")
    process = _popen(saved_model, gcs_bucket, vertex)
    try:
        for line in process.stderr:
            if "Registering version" in line:
                break
        deadline = time.monotonic() + 30
        while vertex.count("GetOperation") == 0 and time.monotonic() < deadline:
            time.sleep(0.05)  # the upload is under way and being polled
        process.send_signal(signal.SIGTERM)
        rest = process.stderr.read()
        assert process.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        process.kill()
    assert re.search(r"stopped by SIGTERM while registering or deploying it in Vertex AI; version \d+ WAS published", rest), rest
    assert "Traceback" not in rest
    assert len(json.loads(_list(gcs_bucket, vertex))) == 1  # the version stands


# --- a retry while the first attempt's operation still runs (issue 17, item 1) ----------------------

@pytest.mark.parametrize("listed", [False, True], ids=["unfinished-version-not-listed", "unfinished-version-listed"])
@pytest.mark.parametrize("existing_versions", [0, 1], ids=["first-push", "second-version"])
def test_a_retry_waits_for_the_upload_the_first_attempt_gave_up_on(saved_model, keras_saved_model, gcs_bucket,
                                                                    gcs_emulator, listed, existing_versions):
    with FakeVertex(gcs_emulator.url, list_unfinished=listed) as vertex:
        if existing_versions:
            pushed(register(keras_saved_model, gcs_bucket, vertex))
        vertex.stall("UploadModel")
        first = register(saved_model, gcs_bucket, vertex, env={"MODEL_PUSHER_VERTEX_OPERATION_SECONDS": "2"})
        assert first.returncode == 1 and "did not finish within 2 s" in first.stderr
        vertex.unstall("UploadModel")  # the upload keeps running after the attempt gave up, then finishes
        again = pushed(register(saved_model, gcs_bucket, vertex))
        uri = json.loads(first.stdout)["pushed_destination"]
        assert again["pushed_destination"] == uri and again["vertex"]["reused"] is True
        assert [v.artifact_uri for v in vertex.versions(MODEL)].count(uri) == 1  # one directory, one version
        assert vertex.count("UploadModel") == existing_versions + 1
        assert again["vertex"]["model_version"] == f"{MODEL}@{existing_versions + 1}"
        assert "default" in aliases(vertex)[str(existing_versions + 1)]


def test_a_create_answered_already_exists_looks_for_the_directory_before_adding_a_version(saved_model, gcs_bucket, vertex):
    first = pushed(register(saved_model, gcs_bucket, vertex))
    # A service that does not show the model yet: the retry creates it, and is told it exists.
    vertex.fail("GetModel", "NOT_FOUND", f"Model {MODEL} not found.", times=2)
    again = pushed(register(saved_model, gcs_bucket, vertex))
    assert again["vertex"]["reused"] is True and again["vertex"]["model_version"] == first["vertex"]["model_version"]
    assert [v.version_id for v in vertex.versions(MODEL)] == ["1"] and vertex.count("UploadModel") == 2


def test_a_retry_waits_for_the_deployment_the_first_attempt_gave_up_on(saved_model, gcs_bucket, vertex, endpoint):
    vertex.stall("DeployModel")
    first = register(saved_model, gcs_bucket, vertex, "--vertex-endpoint", endpoint,
                 env={"MODEL_PUSHER_VERTEX_OPERATION_SECONDS": "2"})
    assert first.returncode == 1 and "did not finish within 2 s" in first.stderr
    vertex.unstall("DeployModel")
    again = pushed(register(saved_model, gcs_bucket, vertex, "--vertex-endpoint", endpoint))
    assert vertex.count("DeployModel") == 1 and again["vertex"]["deployed_now"] is False
    assert deployed(vertex, endpoint) == {"1": (again["vertex"]["deployed_model_id"], 100)}


# --- re-running changes what the user changed (item 2) -----------------------------------------------

def test_a_rerun_promotes_a_canary_and_undeploys_the_previous_version(saved_model, keras_saved_model, gcs_bucket, vertex, endpoint):
    first = pushed(register(saved_model, gcs_bucket, vertex, "--vertex-endpoint", endpoint))
    canary = pushed(register(keras_saved_model, gcs_bucket, vertex, "--vertex-endpoint", endpoint,
                         "--vertex-traffic-percentage", "10"))
    promoted = pushed(register(keras_saved_model, gcs_bucket, vertex, "--vertex-endpoint", endpoint,
                           "--vertex-traffic-percentage", "100", "--vertex-undeploy-previous", "true"))
    new_id = canary["vertex"]["deployed_model_id"]
    assert promoted["reused"] == 1 and promoted["vertex"]["deployed_model_id"] == new_id
    assert promoted["vertex"]["traffic_split"] == {new_id: 100}
    assert promoted["vertex"]["undeployed"] == [first["vertex"]["deployed_model_id"]]
    assert deployed(vertex, endpoint) == {"2": (new_id, 100)}
    assert vertex.count("DeployModel") == 2 and vertex.count("UpdateEndpoint") == 1


def test_a_retry_with_the_same_share_leaves_the_split_alone(saved_model, keras_saved_model, gcs_bucket, vertex, endpoint):
    pushed(register(saved_model, gcs_bucket, vertex, "--vertex-endpoint", endpoint))
    for _ in range(2):
        pushed(register(keras_saved_model, gcs_bucket, vertex, "--vertex-endpoint", endpoint, "--vertex-traffic-percentage", "10"))
    assert sorted(share for _, share in deployed(vertex, endpoint).values()) == [10, 90]
    assert vertex.count("UpdateEndpoint") == 0


# --- `default` follows the newest version (item 3) ---------------------------------------------------

def test_default_stays_where_it_is_when_asked(saved_model, keras_saved_model, gcs_bucket, vertex):
    pushed(register(saved_model, gcs_bucket, vertex))
    record = pushed(register(keras_saved_model, gcs_bucket, vertex, "--vertex-default-version", "false"))
    assert aliases(vertex) == {"1": ["default"], "2": []} and record["vertex"]["aliases"] == []


# --- retention and the registry (item 4) --------------------------------------------------------------

def test_retention_keeps_the_directories_of_versions_vertex_uses(saved_model, keras_saved_model, gcs_bucket, vertex, endpoint):
    def listed() -> list[int]:
        return sorted(v["version"] for v in json.loads(_list(gcs_bucket, vertex)))

    first = pushed(register(saved_model, gcs_bucket, vertex, "--vertex-endpoint", endpoint))
    canary = pushed(register(keras_saved_model, gcs_bucket, vertex, "--vertex-endpoint", endpoint,
                         "--vertex-traffic-percentage", "10", "--keep-versions", "1"))
    assert canary["removed_versions"] == [] and len(listed()) == 2  # version 1 still serves 90%: it stays
    _age(vertex)  # pushed long ago: no push of theirs may still be deploying them
    promoted = pushed(register(keras_saved_model, gcs_bucket, vertex, "--vertex-endpoint", endpoint,
                           "--vertex-undeploy-previous", "true", "--keep-versions", "1"))
    # Undeployed, and `default` moved to version 2: nothing in Vertex reads version 1 any more.
    assert promoted["removed_versions"] == [int(first["pushed_version"])] and listed() == [int(canary["pushed_version"])]


def test_retention_keeps_a_version_holding_an_alias(saved_model, keras_saved_model, gcs_bucket, vertex):
    first = pushed(register(saved_model, gcs_bucket, vertex, "--vertex-version-aliases", "champion"))
    _age(vertex)
    second = pushed(register(keras_saved_model, gcs_bucket, vertex, "--keep-versions", "1"))
    assert second["removed_versions"] == []
    versions = [v["version"] for v in json.loads(_list(gcs_bucket, vertex))]
    assert int(first["pushed_version"]) in versions and len(versions) == 2


# --- checked before pushing (item 5) ---------------------------------------------------------------

def test_labels_as_vertex_states_them(saved_model, gcs_bucket, vertex):
    record = pushed(register(saved_model, gcs_bucket, vertex, "--vertex-labels", f"équipe=recherche,note={'x' * 63},チーム=検索"))
    assert dict(vertex.versions(MODEL)[0].labels) == {"équipe": "recherche", "note": "x" * 63, "チーム": "検索"}
    assert record["vertex"]["model_version"] == f"{MODEL}@1"


@pytest.mark.parametrize("args, env, message", [
    (["--vertex-labels", f"note={'x' * 64}"], {}, "--vertex-labels: note=" + "x" * 64 + " is not a label: a value has at most 63"),
    (["--vertex-labels", "a=1,b=2,c=3,d=4,e=5"], {"VERTEX_AI_PIPELINES_RUN_LABELS": json.dumps({f"run-{i}": "x" for i in range(60)})},
     "the version would have 65 labels; Vertex AI allows 64"),
])
def test_labels_vertex_would_refuse_are_refused_before_the_push(saved_model, gcs_bucket, vertex, args, env, message):
    result = register(saved_model, gcs_bucket, vertex, *args, env=env)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert json.loads(_list(gcs_bucket, vertex)) == [] and vertex.calls == []


def test_a_malformed_run_label_is_dropped_with_a_warning(saved_model, gcs_bucket, vertex):
    run_labels = json.dumps({"vertex-ai-pipelines-run-billing-id": "1234", "Bad Key": "x", "ok": 5})
    pushed(register(saved_model, gcs_bucket, vertex, env={"VERTEX_AI_PIPELINES_RUN_LABELS": run_labels}))
    assert dict(vertex.versions(MODEL)[0].labels) == {"vertex-ai-pipelines-run-billing-id": "1234"}


def test_a_numeric_model_that_does_not_exist_is_refused_before_the_push(saved_model, gcs_bucket, vertex):
    result = register(saved_model, gcs_bucket, vertex, "--vertex-model", "1234567")
    assert result.returncode == 2, result.stderr
    assert "--vertex-model: there is no model 1234567 in projects/test-project/locations/us-central1" in result.stderr
    assert json.loads(_list(gcs_bucket, vertex)) == [] and vertex.count("UploadModel") == 0


def fault_model_403(v):
    v.fail("GetModel", "PERMISSION_DENIED", "Permission 'aiplatform.models.get' denied.")


def fault_endpoint_403(v):
    v.fail("GetEndpoint", "PERMISSION_DENIED", "Permission 'aiplatform.endpoints.get' denied.")


def fault_no_endpoint(v):
    del v.endpoints[f"{LOCATION}/endpoints/4242"]


@pytest.mark.parametrize("fault, code, says", [
    (fault_model_403, 1, "--vertex-model: reading projects/test-project/locations/us-central1/models/taxi before pushing "
                         "failed: permission denied"),
    (fault_endpoint_403, 1, "--vertex-endpoint: reading projects/test-project/locations/us-central1/endpoints/4242 before "
                            "pushing failed: permission denied"),
    (fault_no_endpoint, 2, "--vertex-endpoint: there is no endpoint projects/test-project/locations/us-central1/endpoints/4242"),
])
def test_what_vertex_refuses_to_read_fails_the_step_before_the_push(saved_model, gcs_bucket, vertex, endpoint, fault, code, says):
    fault(vertex)
    result = register(saved_model, gcs_bucket, vertex, "--vertex-endpoint", endpoint)
    assert result.returncode == code, result.stderr
    errors = [line for line in result.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and says in errors[0] and "Traceback" not in result.stderr, result.stderr
    if code == 1:
        assert "nothing was published" in errors[0]
    assert json.loads(_list(gcs_bucket, vertex)) == [] and vertex.count("UploadModel") == 0


@pytest.mark.parametrize("other", [
    "projects/test-project/locations/europe-west4/endpoints/77",  # the docs allow a model in another location
    "projects/123456789/locations/us-central1/endpoints/77",  # the project's number may be the same project
])
def test_an_endpoint_named_with_another_region_or_project_is_asked_not_refused(saved_model, gcs_bucket, vertex, other):
    vertex.endpoints[other] = types.Endpoint(name=other)
    record = pushed(register(saved_model, gcs_bucket, vertex, "--vertex-endpoint", other))
    assert record["vertex"]["endpoint"] == other and deployed(vertex, other) == {"1": (record["vertex"]["deployed_model_id"], 100)}


# --- defaults (item 6) -------------------------------------------------------------------------------

def test_the_default_serving_image_comes_from_the_registry_of_the_region(saved_model, gcs_bucket, vertex):
    result = register(saved_model, gcs_bucket, vertex, "--vertex-region", "europe-west4")
    pushed(result)
    (version,) = vertex.versions("projects/test-project/locations/europe-west4/models/taxi")
    assert version.container_spec.image_uri == "europe-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest"
    # The test models are written by a newer TensorFlow than the prebuilt image runs.
    assert "but the serving image europe-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest runs TensorFlow 2.15" in result.stderr


def test_no_tensorflow_warning_for_another_image(saved_model, gcs_bucket, vertex):
    result = register(saved_model, gcs_bucket, vertex, "--vertex-serving-image", "example.com/my/server:1")
    pushed(result)
    assert "runs TensorFlow" not in result.stderr


# --- what a hostile review found (issue 17) ------------------------------------------------------------

def _versions_at_base(bucket: str, vertex) -> list[int]:
    return sorted(v["version"] for v in json.loads(_list(bucket, vertex)))


def _age(vertex, model: str = MODEL, seconds: float = 7200) -> None:
    """Make every version of `model` look created `seconds` ago (pushed long before this push)."""
    for version in vertex.versions(model):
        version.version_create_time = version.create_time = datetime.now(timezone.utc) - timedelta(seconds=seconds)


def test_retention_says_it_asks_only_about_vertex_model_in_its_region(saved_model, keras_saved_model, gcs_bucket, vertex, endpoint):
    first = pushed(register(saved_model, gcs_bucket, vertex, "--vertex-endpoint", endpoint))
    result = register(keras_saved_model, gcs_bucket, vertex, "--vertex-model", "taxi2", "--keep-versions", "1")
    second = pushed(result)
    # Another registry model fed from the same base is not asked: its deployed version's directory goes,
    # and the log says so instead of claiming every use is checked.
    assert second["removed_versions"] == [int(first["pushed_version"])]
    assert (f"Retention keeps the directories of the registry versions of {LOCATION}/models/taxi2 that are deployed, "
            "hold an alias or were created in the last 1800 s; other registry models, and this model in other regions, "
            "are not asked") in result.stderr
    assert "which Vertex AI still uses" not in result.stderr


def test_retention_keeps_a_version_whose_own_push_may_still_be_deploying_it(saved_model, keras_saved_model, gcs_bucket,
                                                                            vertex, endpoint):
    vertex.stall("DeployModel")
    deploying = _popen(saved_model, gcs_bucket, vertex, "--vertex-endpoint", endpoint)
    try:
        wait_until(lambda: vertex.count("DeployModel") == 1)
        # Another push moves `default` away from version 1, which the registry does not yet show deployed.
        other = pushed(register(keras_saved_model, gcs_bucket, vertex, "--keep-versions", "1"))
        assert other["removed_versions"] == [] and len(_versions_at_base(gcs_bucket, vertex)) == 2
        vertex.unstall("DeployModel")
        out, err = deploying.communicate(timeout=60)
    finally:
        deploying.kill()
    assert deploying.returncode == 0, err
    assert [v.artifact_uri for v in vertex.versions(MODEL)][0] == json.loads(out)["pushed_destination"]
    assert int(json.loads(out)["pushed_version"]) in _versions_at_base(gcs_bucket, vertex)


def test_a_retry_waits_for_the_undeploy_the_first_attempt_gave_up_on(saved_model, keras_saved_model, gcs_bucket, vertex, endpoint):
    pushed(register(saved_model, gcs_bucket, vertex, "--vertex-endpoint", endpoint))
    vertex.stall("UndeployModel")
    first = register(keras_saved_model, gcs_bucket, vertex, "--vertex-endpoint", endpoint, "--vertex-undeploy-previous", "true",
                 env={"MODEL_PUSHER_VERTEX_OPERATION_SECONDS": "2"})
    assert first.returncode == 1 and "did not finish within 2 s" in first.stderr
    vertex.unstall("UndeployModel")  # it keeps running after the attempt gave up, then finishes
    result = register(keras_saved_model, gcs_bucket, vertex, "--vertex-endpoint", endpoint, "--vertex-undeploy-previous", "true")
    again = pushed(result)
    assert "waiting for UndeployModel operation" in result.stderr
    assert vertex.count("UndeployModel") == 1
    assert deployed(vertex, endpoint) == {"2": (again["vertex"]["deployed_model_id"], 100)}


def _hanging_server() -> tuple[socket.socket, list[socket.socket]]:
    """A Vertex AI that accepts connections and never answers; and the connections it accepted."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(50)
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    return server, accepted


def test_a_stop_during_the_check_before_pushing_takes_effect_within_seconds(saved_model, gcs_bucket, vertex):
    server, accepted = _hanging_server()
    url = f"http://127.0.0.1:{server.getsockname()[1]}"
    process = _popen(saved_model, gcs_bucket, vertex, "--vertex-endpoint", "4242", env={"MODEL_PUSHER_VERTEX_API_ENDPOINT": url})
    # Stopped once the model and the endpoint are being read.
    seconds, _, err, _ = stop_when(process, lambda: len(accepted) >= 2, 0.5, afterwards=server.close, timeout=60)
    assert process.returncode == 128 + signal.SIGTERM and seconds < 5, (seconds, err)
    errors = [line for line in err.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "stopped by SIGTERM" in errors[0] and "nothing was published" in errors[0], err
    assert _versions_at_base(gcs_bucket, vertex) == []


def test_a_rerun_applies_labels_and_replicas_and_warns_about_what_cannot_change(saved_model, gcs_bucket, vertex, endpoint):
    first = pushed(register(saved_model, gcs_bucket, vertex, "--vertex-endpoint", endpoint, "--vertex-labels", "team=a"))
    image = "us-docker.pkg.dev/vertex-ai/prediction/tf2-gpu.2-15:latest"
    result = register(saved_model, gcs_bucket, vertex, "--vertex-endpoint", endpoint, "--vertex-labels", "team=b",
                  "--vertex-machine-type", "n1-standard-8", "--vertex-min-replicas", "3", "--vertex-max-replicas", "4",
                  "--vertex-serving-image", image)
    again = pushed(result)
    assert again["vertex"]["reused"] is True and again["vertex"]["deployed_model_id"] == first["vertex"]["deployed_model_id"]
    (version,) = vertex.versions(MODEL)
    assert dict(version.labels) == {"team": "b"}
    (d,) = vertex.endpoints[endpoint].deployed_models
    assert (d.dedicated_resources.min_replica_count, d.dedicated_resources.max_replica_count) == (3, 4)
    assert d.dedicated_resources.machine_spec.machine_type == "n1-standard-2"  # cannot change: warned
    warnings = [line for line in result.stderr.splitlines() if " WARNING " in line]
    assert any(line.split(" WARNING ")[1].startswith("--vertex-machine-type: ") and "n1-standard-8 is not used; publish a new "
               "version with --force-new-version true" in line for line in warnings), result.stderr
    assert any(line.split(" WARNING ")[1].startswith("--vertex-serving-image: ") and f"{image} is not used; publish a new "
               "version with --force-new-version true" in line for line in warnings), result.stderr
    assert vertex.count("UpdateModel") == 1 and vertex.count("MutateDeployedModel") == 1 and vertex.count("DeployModel") == 1
    # Asked the same again: nothing more changes.
    pushed(register(saved_model, gcs_bucket, vertex, "--vertex-endpoint", endpoint, "--vertex-labels", "team=b",
                "--vertex-min-replicas", "3", "--vertex-max-replicas", "4", "--vertex-serving-image", image,
                "--vertex-machine-type", "n1-standard-2"))
    assert vertex.count("UpdateModel") == 1 and vertex.count("MutateDeployedModel") == 1


@pytest.mark.parametrize("region", ["northamerica-northeast1", "me-west1", "australia-southeast1", "southamerica-east1",
                                    "africa-south1"])
def test_a_region_without_prebuilt_images_needs_a_serving_image(saved_model, gcs_bucket, vertex, region):
    result = register(saved_model, gcs_bucket, vertex, "--vertex-region", region)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "--vertex-serving-image: Vertex AI's prebuilt serving images exist only in the us, europe and " \
        f"asia registries, not for region {region}" in errors[0], result.stderr
    assert _versions_at_base(gcs_bucket, vertex) == [] and vertex.calls == []


def test_a_stop_while_a_retry_waits_for_the_earlier_upload_says_the_version_was_published(saved_model, gcs_bucket, vertex):
    vertex.stall("UploadModel")
    first = register(saved_model, gcs_bucket, vertex, env={"MODEL_PUSHER_VERTEX_OPERATION_SECONDS": "2"})
    assert first.returncode == 1
    polls = vertex.count("GetOperation")
    process = _popen(saved_model, gcs_bucket, vertex)
    # Stopped while the retry waits for the earlier upload.
    _, out, err, _ = stop_when(process, lambda: vertex.count("GetOperation") > polls, timeout=30)
    assert process.returncode == 128 + signal.SIGTERM, err
    errors = [line for line in err.splitlines() if " ERROR " in line]
    uri = json.loads(first.stdout)["pushed_destination"]
    assert len(errors) == 1 and f"WAS published at {uri} and stays published" in errors[0], err
    assert "nothing was published" not in err
    assert json.loads(out)["pushed_destination"] == uri  # recorded like any push


def test_a_location_refused_on_the_check_says_what_was_asked(saved_model, gcs_bucket, vertex):
    vertex.fail("GetModel", "INVALID_ARGUMENT", "Location us-central1 is not allowed for project test-project.")
    result = register(saved_model, gcs_bucket, vertex)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and f"--vertex-model: reading {MODEL} before pushing failed: Vertex AI refused a location in this " \
        "request (the model's region, --vertex-region, is us-central1" in errors[0], result.stderr
    assert "bucket or endpoint" not in errors[0] and "nothing was published" in errors[0]


def test_a_timeout_names_the_operation_once(saved_model, gcs_bucket, vertex):
    vertex.stall("UploadModel")
    first = register(saved_model, gcs_bucket, vertex, env={"MODEL_PUSHER_VERTEX_OPERATION_SECONDS": "2"})
    again = register(saved_model, gcs_bucket, vertex, env={"MODEL_PUSHER_VERTEX_OPERATION_SECONDS": "2"})
    for result in (first, again):
        (error,) = [line for line in result.stderr.splitlines() if " ERROR " in line]
        (operation,) = set(re.findall(r"\S+/operations/\d+", error))
        assert error.count(operation) == 1, error
    assert "the earlier UploadModel did not finish within 2 s" in again.stderr


def test_default_asked_as_an_alias_is_sent_once(saved_model, gcs_bucket, vertex):
    pushed(register(saved_model, gcs_bucket, vertex, "--vertex-version-aliases", "default,champion"))
    (body,) = [json.loads(b) for rpc, b in vertex.bodies if rpc == "MergeVersionAliases"]
    assert sorted(body["versionAliases"]) == ["champion", "default"]
