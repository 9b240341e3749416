"""Registering pushed versions in the Vertex AI Model Registry and deploying them, through the real
command, against fake-gcs-server and the fake Vertex API (tests/support/vertex_fake.py), which speaks the
real REST protocol with the real aiplatform_v1 messages."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud.aiplatform_v1 import EndpointServiceClient, types

from tests.support.blessings import blessing
from component.vertex.target import DEFAULT_SERVING_IMAGE
from component.vertex.deploy import split_traffic
from tests.support.command import REPO, run_cli
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
    """A push to gs://BUCKET/serving/taxi that registers the version as the Vertex model `taxi`."""
    return push(model, f"gs://{bucket}/serving/taxi", "--vertex-model", "taxi", *args,
                env=env_for(vertex, **(env or {})))


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
    assert version.container_spec.image_uri == DEFAULT_SERVING_IMAGE
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
    assert aliases(vertex) == {"1": ["default"], "2": ["candidate", "champion"]}
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
    (["--vertex-endpoint", "projects/test-project/locations/europe-west4/endpoints/1"], "the endpoint is in region europe-west4"),
    (["--vertex-region", "europe-west4", "--vertex-model", "projects/test-project/locations/us-central1/models/taxi"],
     "--vertex-region: europe-west4 differs from the us-central1"),
    (["--vertex-model", "Taxi!"], "--vertex-model: 'Taxi!' is not a model ID"),
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


def fault_no_endpoint(v):
    v.fail("GetEndpoint", "NOT_FOUND", "Endpoint `projects/test-project/locations/us-central1/endpoints/4242` not found.")


def fault_quota(v):
    v.fail("UploadModel", "RESOURCE_EXHAUSTED", "Quota exceeded for aiplatform.googleapis.com/upload_model_requests.")


def fault_region(v):
    v.fail("UploadModel", "FAILED_PRECONDITION", "The model's region us-central1 differs from the region of gs://b (EU).")


def fault_deploy_operation(v):
    v.fail_operation("DeployModel", "INTERNAL", "Model server never became ready.")


def fault_stalled_upload(v):
    v.stall("UploadModel")


def fault_secret_in_message(v):
    v.fail("GetModel", "PERMISSION_DENIED", "Denied for https://x.googleapis.com/v1/m?access_token=ya29.SECRET1 "
           "(Authorization: Bearer ya29.SECRET2).")


@pytest.mark.parametrize("fault, says", [
    (fault_upload_403, "permission denied: the pipeline's service account (or your credentials) needs roles/aiplatform.user"),
    (fault_service_agent, "the Vertex AI Service Agent (service-PROJECT_NUMBER@gcp-sa-aiplatform.iam.gserviceaccount.com) cannot read"),
    (fault_no_endpoint, "not found (Vertex AI said: Endpoint `projects/test-project/locations/us-central1/endpoints/4242` not found.)"),
    (fault_quota, "quota exceeded in project test-project, region us-central1"),
    (fault_region, "region mismatch: the model's region is us-central1"),
    (fault_deploy_operation, "Vertex AI answered INTERNAL (Vertex AI said: Model server never became ready.)"),
    (fault_stalled_upload, "did not finish within 2 s"),
    (fault_secret_in_message, "permission denied"),
])
def test_a_vertex_failure_after_the_push_leaves_the_push_standing(saved_model, gcs_bucket, vertex, fault, says):
    if fault is not fault_no_endpoint:
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
    assert art == {"name": "projects/p/artifacts/43", "uri": str(tmp_path / "registered_model"),
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
    process = subprocess.Popen(
        [sys.executable, "-m", "component", "--model", str(saved_model), "--push-destination",
         f"gs://{gcs_bucket}/serving/taxi", "--vertex-model", "taxi"],
        cwd=REPO, env={**os.environ, **env_for(vertex)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
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
    assert "was published; then the step was stopped by SIGTERM" in rest and "Traceback" not in rest
    assert len(json.loads(_list(gcs_bucket, vertex))) == 1  # the version stands
