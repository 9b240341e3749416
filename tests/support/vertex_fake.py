"""A fake Vertex AI API (Model Registry and endpoints) on 127.0.0.1 that speaks the real REST protocol.

There is no Vertex emulator. This server answers the REST routes that the `google.api.http`
annotations of google.cloud.aiplatform.v1 give the methods the pusher uses, and parses and writes
every body with the real aiplatform_v1 proto-plus messages (`from_json` / `to_json`) and the real
google.longrunning Operation, so the generated clients talk to it exactly as to Vertex:

    POST /v1/{parent=projects/*/locations/*}/models:upload                 UploadModel (operation)
    GET  /v1/{name=projects/*/locations/*/models/*}                        GetModel (ID, ID@VERSION, ID@ALIAS)
    GET  /v1/{name=projects/*/locations/*/models/*}:listVersions           ListModelVersions (paged)
    POST /v1/{name=projects/*/locations/*/models/*}:mergeVersionAliases    MergeVersionAliases
    PATCH /v1/{model.name=projects/*/locations/*/models/*}                 UpdateModel (updateMask)
    POST /v1/{parent=projects/*/locations/*}/endpoints                     CreateEndpoint (operation)
    GET  /v1/{name=projects/*/locations/*/endpoints/*}                     GetEndpoint
    PATCH /v1/{endpoint.name=projects/*/locations/*/endpoints/*}           UpdateEndpoint (updateMask)
    POST /v1/{endpoint=projects/*/locations/*/endpoints/*}:deployModel     DeployModel (operation)
    POST /v1/{endpoint=projects/*/locations/*/endpoints/*}:undeployModel   UndeployModel (operation)
    POST /v1/{endpoint=projects/*/locations/*/endpoints/*}:mutateDeployedModel  MutateDeployedModel (operation)
    GET  /v1/ or /ui/{name=projects/*/locations/*/**/operations/*}         GetOperation (the REST
         operations client of aiplatform_v1 polls with the /ui/ prefix)
    GET  /v1/ or /ui/{name=projects/*/locations/*/models/*}/operations     ListOperations (paged), and
         the same under endpoints/*

Service behaviours it assumes (from Vertex's API reference; where the real service differs, the
pusher must not depend on the difference):
- UploadModel with model_id creates the model (409 ALREADY_EXISTS if it exists); with parent_model
  it adds the next version (404 if the model does not exist). The operation is done at the first
  poll (`polls_to_finish`). Whether a version shows before its upload is done is not documented,
  so both are served: with `list_unfinished=False` the version (and a new model) exists only once
  the operation is done; with `list_unfinished=True` it is listed (GetModel, ListModelVersions)
  from the upload on, and MergeVersionAliases and DeployModel refuse it (400 FAILED_PRECONDITION)
  until it is done. Either way a model ID being created is taken: a second create answers 409.
  `artifact_uri` must be a gs:// directory holding saved_model.pb directly: with a GCS emulator
  given, the fake checks that object exists, and fails the operation (FAILED_PRECONDITION) if not.
  A container image is required (400).
- An operation is named under the resource it works on (`models/ID/operations/N`, also while
  the model is being created; `endpoints/ID/operations/N`), and ListOperations on that resource
  lists it, done or not, with its metadata's type (UploadModelOperationMetadata, ...). Nothing
  finishes an operation but polling it: one whose caller gave up or died stays unfinished until
  someone polls it (GetOperation), which is how a retried step finds it. ListOperations on a
  model or endpoint that does not exist and has no operations answers 404.
- The first version of a model gets the alias `default`; later versions get none by themselves.
- An alias lives on one version: MergeVersionAliases (or upload's version_aliases) moves it from
  the version that held it; `-alias` removes it; `default` cannot be removed (400).
- A version's `version_create_time` (and a new model's `create_time`) is when its upload was accepted.
- UpdateModel on `ID@VERSION` with updateMask `labels` replaces that version's labels (other mask
  fields are ignored; the fake keeps no model-level labels apart from the versions').
- MutateDeployedModel changes only `dedicated_resources.min_replica_count` and `.max_replica_count`
  (the fields its docs list that the pusher sets), as named in updateMask; min must stay >= 1 (400);
  404 for a deployed model not on the endpoint. It is an operation.
- GetModel on a model name answers its `default` version; on `ID@VERSION` or `ID@ALIAS`, that one.
  Every version's `name` is the model's name (without @), its `version_id` a decimal string.
- DeployModel: `dedicated_resources.min_replica_count` must be >= 1 (400). In `traffic_split` the
  key "0" means the model being deployed, the other keys must be deployed model IDs and the values
  must sum to 100 (400). An empty split gives the model 100% on an endpoint with no models and
  leaves the split unchanged otherwise. The deployed model's `model` is the model name without
  `@VERSION`, and `model_version_id` says the version. The version's `deployed_models` lists
  where it is deployed (ListModelVersions and GetModel show it).
- UpdateEndpoint with updateMask `traffic_split` replaces the split (the Vertex SDK's
  Endpoint.update): keys must be deployed model IDs and the values sum to 100 (400); other fields
  of the mask are ignored.
- UndeployModel fails (400 FAILED_PRECONDITION) while the deployed model has traffic, unless the
  request's traffic_split takes it away; undeploying the last model empties the split.
- Resource names are answered with the project as the client gave it (Vertex may answer with the
  project's number instead; the pusher compares names without their project).

Injected faults: `fail(rpc, status, message)` answers the next call(s) of an RPC with an HTTP
error in Google's JSON error format; `fail_operation(rpc, status, message)` makes the next
operation of that RPC end with that error; `stall(rpc)` makes its operations never finish until
`unstall(rpc)`.
`calls` lists every request (RPC name, path) for tests to count, `bodies` their bodies.
"""

import itertools
from datetime import datetime, timezone
import json
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from google.cloud.aiplatform_v1 import types
from google.longrunning import operations_pb2
from google.protobuf import any_pb2, json_format
from google.rpc import code_pb2, status_pb2

_SEG = r"[^/:]+"
_LOC = rf"projects/{_SEG}/locations/{_SEG}"
ROUTES = [  # (HTTP method, path regex, RPC)
    ("POST", rf"/v1/(?P<parent>{_LOC})/models:upload", "UploadModel"),
    ("GET", rf"/v1/(?P<name>{_LOC}/models/{_SEG}):listVersions", "ListModelVersions"),
    ("POST", rf"/v1/(?P<name>{_LOC}/models/{_SEG}):mergeVersionAliases", "MergeVersionAliases"),
    ("GET", rf"/v1/(?P<name>{_LOC}/models/{_SEG})", "GetModel"),
    ("PATCH", rf"/v1/(?P<name>{_LOC}/models/{_SEG})", "UpdateModel"),
    ("POST", rf"/v1/(?P<parent>{_LOC})/endpoints", "CreateEndpoint"),
    ("POST", rf"/v1/(?P<endpoint>{_LOC}/endpoints/{_SEG}):deployModel", "DeployModel"),
    ("POST", rf"/v1/(?P<endpoint>{_LOC}/endpoints/{_SEG}):undeployModel", "UndeployModel"),
    ("POST", rf"/v1/(?P<endpoint>{_LOC}/endpoints/{_SEG}):mutateDeployedModel", "MutateDeployedModel"),
    ("GET", rf"/v1/(?P<name>{_LOC}/endpoints/{_SEG})", "GetEndpoint"),
    ("PATCH", rf"/v1/(?P<name>{_LOC}/endpoints/{_SEG})", "UpdateEndpoint"),
    ("GET", rf"/(?:v1|ui)/(?P<name>{_LOC}/(?:models|endpoints)/{_SEG})/operations", "ListOperations"),
    ("GET", rf"/(?:v1|ui)/(?P<name>{_LOC}(?:/{_SEG}/{_SEG})?/operations/{_SEG})", "GetOperation"),
]
HTTP_OF = {"INVALID_ARGUMENT": 400, "FAILED_PRECONDITION": 400, "PERMISSION_DENIED": 403, "NOT_FOUND": 404,
           "ALREADY_EXISTS": 409, "RESOURCE_EXHAUSTED": 429, "UNAUTHENTICATED": 401, "INTERNAL": 500}


class ApiError(Exception):
    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class FakeVertex:
    """`with FakeVertex(gcs_url) as vertex:` set MODEL_PUSHER_VERTEX_API_ENDPOINT to `vertex.url`."""

    def __init__(self, gcs_url: str | None = None, polls_to_finish: int = 1, list_unfinished: bool = False) -> None:
        self.gcs_url = gcs_url
        self.polls_to_finish = polls_to_finish
        self.list_unfinished = list_unfinished
        self.models: dict[str, list[types.Model]] = {}  # model name -> its versions, oldest first
        self.endpoints: dict[str, types.Endpoint] = {}
        self.calls: list[tuple[str, str]] = []
        self.bodies: list[tuple[str, str]] = []  # (RPC name, request body) in the order of `calls`
        self._operations: dict[str, dict[str, Any]] = {}
        self._faults: dict[str, list[tuple[str, str]]] = {}
        self._operation_faults: dict[str, list[tuple[str, str]]] = {}
        self._stalled: set[str] = set()
        self._creating: set[str] = set()  # model names whose first upload is running
        self._unfinished: set[tuple[str, str]] = set()  # (model name, version ID) still uploading
        self._ids = itertools.count(1001)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    # --- test controls ---

    def __enter__(self) -> "FakeVertex":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail(self, rpc: str, status: str, message: str, times: int = 1) -> None:
        self._faults.setdefault(rpc, []).extend([(status, message)] * times)

    def fail_operation(self, rpc: str, status: str, message: str) -> None:
        self._operation_faults.setdefault(rpc, []).append((status, message))

    def stall(self, rpc: str) -> None:
        self._stalled.add(rpc)

    def unstall(self, rpc: str) -> None:
        self._stalled.discard(rpc)

    def count(self, rpc: str) -> int:
        return sum(1 for name, _ in self.calls if name == rpc)

    def versions(self, model: str) -> list[types.Model]:
        return self.models.get(model, [])

    # --- dispatch ---

    def handle(self, method: str, path: str, query: dict[str, str], body: str) -> tuple[int, str]:
        for verb, pattern, rpc in ROUTES:
            match = re.fullmatch(pattern, path)
            if verb == method and match:
                break
        else:
            return 404, _error_json("NOT_FOUND", f"no route for {method} {path}")
        with self._lock:
            self.calls.append((rpc, path))
            self.bodies.append((rpc, body))
            try:
                if self._faults.get(rpc):
                    raise ApiError(*self._faults[rpc].pop(0))
                result = getattr(self, f"_{rpc}")(match.groupdict(), query, body)
            except ApiError as exc:
                return HTTP_OF[exc.status], _error_json(exc.status, exc.message)
        return 200, result

    def _operation(self, resource: str, rpc: str, finish: Callable[[], Any], metadata: Any) -> str:
        name = f"{resource}/operations/{next(self._ids)}"
        fault = self._operation_faults[rpc].pop(0) if self._operation_faults.get(rpc) else None
        self._operations[name] = {"rpc": rpc, "finish": finish, "metadata": metadata, "polls": 0,
                                  "fault": fault, "done": None}
        return json_format.MessageToJson(self._operation_pb(name))

    def _operation_pb(self, name: str) -> operations_pb2.Operation:
        op = self._operations[name]
        pb = operations_pb2.Operation(name=name)
        meta = any_pb2.Any()
        meta.Pack(type(op["metadata"]).pb(op["metadata"]))
        pb.metadata.CopyFrom(meta)
        if op["done"] is not None:
            pb.done = True
            if isinstance(op["done"], status_pb2.Status):
                pb.error.CopyFrom(op["done"])
            else:
                result = any_pb2.Any()
                result.Pack(type(op["done"]).pb(op["done"]))
                pb.response.CopyFrom(result)
        return pb

    def _GetOperation(self, p, query, body) -> str:
        op = self._operations.get(p["name"])
        if op is None:
            raise ApiError("NOT_FOUND", f"Operation {p['name']} not found.")
        op["polls"] += 1
        if op["done"] is None and op["rpc"] not in self._stalled and op["polls"] >= self.polls_to_finish:
            if op["fault"]:
                status, message = op["fault"]
                op["done"] = status_pb2.Status(code=code_pb2.Code.Value(status), message=message)
            else:
                try:
                    op["done"] = op["finish"]()
                except ApiError as exc:
                    op["done"] = status_pb2.Status(code=code_pb2.Code.Value(exc.status), message=exc.message)
        return json_format.MessageToJson(self._operation_pb(p["name"]))

    # --- models ---

    def _UploadModel(self, p, query, body) -> str:
        request = types.UploadModelRequest.from_json(body)
        parent, model = p["parent"], request.model
        if not model.container_spec.image_uri:
            raise ApiError("INVALID_ARGUMENT", "Model.container_spec.image_uri is required.")
        if not model.artifact_uri.startswith("gs://"):
            raise ApiError("INVALID_ARGUMENT", f"artifact_uri {model.artifact_uri} is not a Cloud Storage URI.")
        if request.model_id:
            name = f"{parent}/models/{request.model_id}"
            if name in self.models or name in self._creating:
                raise ApiError("ALREADY_EXISTS", f"Model {name} already exists.")
            self._creating.add(name)
        elif request.parent_model:
            name = request.parent_model
            if name not in self.models or not name.startswith(parent + "/"):
                raise ApiError("NOT_FOUND", f"Parent model {name} not found.")
        else:
            name = f"{parent}/models/{next(self._ids)}"

        accepted = datetime.now(timezone.utc)

        def add_version() -> types.Model:
            versions = self.models.setdefault(name, [])
            version = types.Model.deserialize(types.Model.serialize(model))
            version.name = name
            version.version_id = str(len(versions) + 1)
            version.version_create_time = version.create_time = accepted
            version.version_aliases = ["default"] if not versions else []
            versions.append(version)
            self._add_aliases(name, version, list(model.version_aliases))
            return version

        listed = None
        if self.list_unfinished:
            listed = add_version()
            self._unfinished.add((name, listed.version_id))

        def finish() -> types.UploadModelResponse:
            self._creating.discard(name)
            try:
                self._check_saved_model(model.artifact_uri)
            except ApiError:
                if listed is not None:
                    self.models[name].remove(listed)
                    self._unfinished.discard((name, listed.version_id))
                    if not self.models[name]:
                        del self.models[name]
                raise
            version = listed or add_version()
            self._unfinished.discard((name, version.version_id))
            return types.UploadModelResponse(model=name, model_version_id=version.version_id)

        return self._operation(name, "UploadModel", finish, types.UploadModelOperationMetadata())

    def _check_saved_model(self, uri: str) -> None:
        if not self.gcs_url:
            return
        bucket, _, prefix = uri[len("gs://"):].partition("/")
        obj = urllib.parse.quote(f"{prefix.rstrip('/')}/saved_model.pb", safe="")
        try:
            urllib.request.urlopen(f"{self.gcs_url}/storage/v1/b/{bucket}/o/{obj}", timeout=10).close()
        except urllib.error.HTTPError:
            raise ApiError("FAILED_PRECONDITION", f"There is no saved_model.pb at the top of {uri}.") from None

    def _version(self, ref: str) -> tuple[str, types.Model]:
        name, _, which = ref.partition("@")
        versions = self.models.get(name)
        if not versions:
            raise ApiError("NOT_FOUND", f"Model {name} not found.")
        which = which or "default"
        for v in versions:
            if v.version_id == which or which in v.version_aliases:
                return name, v
        raise ApiError("NOT_FOUND", f"Model {ref} not found.")

    def _ready(self, name: str, version: types.Model) -> None:
        if (name, version.version_id) in self._unfinished:
            raise ApiError("FAILED_PRECONDITION", f"Model {name}@{version.version_id} is still being uploaded.")

    def _GetModel(self, p, query, body) -> str:
        return types.Model.to_json(self._version(p["name"])[1])

    def _ListModelVersions(self, p, query, body) -> str:
        if p["name"] not in self.models:
            raise ApiError("NOT_FOUND", f"Model {p['name']} not found.")
        size = int(query.get("pageSize") or 10)
        start = int(query.get("pageToken") or 0)
        versions = self.models[p["name"]]
        page = types.ListModelVersionsResponse(models=versions[start:start + size])
        if start + size < len(versions):
            page.next_page_token = str(start + size)
        return types.ListModelVersionsResponse.to_json(page)

    def _MergeVersionAliases(self, p, query, body) -> str:
        request = types.MergeVersionAliasesRequest.from_json(body)
        name, version = self._version(p["name"])
        self._ready(name, version)
        self._add_aliases(name, version, list(request.version_aliases))
        return types.Model.to_json(version)

    def _UpdateModel(self, p, query, body) -> str:
        update = types.Model.from_json(body)
        name, version = self._version(p["name"])
        if "labels" in query.get("updateMask", "").split(","):
            version.labels = dict(update.labels)
        return types.Model.to_json(version)

    def _add_aliases(self, name: str, version: types.Model, aliases: list[str]) -> None:
        for alias in aliases:
            if alias.startswith("-"):
                if alias == "-default":
                    raise ApiError("INVALID_ARGUMENT", "The default alias cannot be removed.")
                version.version_aliases = [a for a in version.version_aliases if a != alias[1:]]
                continue
            for other in self.models[name]:  # an alias lives on one version: it moves
                other.version_aliases = [a for a in other.version_aliases if a != alias]
            version.version_aliases = [*version.version_aliases, alias]

    # --- endpoints ---

    def _CreateEndpoint(self, p, query, body) -> str:
        endpoint = types.Endpoint.from_json(body)
        name = f"{p['parent']}/endpoints/{query.get('endpointId') or next(self._ids)}"
        if name in self.endpoints:
            raise ApiError("ALREADY_EXISTS", f"Endpoint {name} already exists.")

        def finish() -> types.Endpoint:
            endpoint.name = name
            self.endpoints[name] = endpoint
            return endpoint

        return self._operation(name, "CreateEndpoint", finish, types.CreateEndpointOperationMetadata())

    def _endpoint(self, name: str) -> types.Endpoint:
        if name not in self.endpoints:
            raise ApiError("NOT_FOUND", f"Endpoint {name} not found.")
        return self.endpoints[name]

    def _GetEndpoint(self, p, query, body) -> str:
        return types.Endpoint.to_json(self._endpoint(p["name"]))

    def _UpdateEndpoint(self, p, query, body) -> str:
        endpoint = self._endpoint(p["name"])
        update = types.Endpoint.from_json(body)
        if "traffic_split" in query.get("updateMask", "").replace("trafficSplit", "traffic_split").split(","):
            split = dict(update.traffic_split)
            unknown = set(split) - {d.id for d in endpoint.deployed_models}
            if unknown or (split and sum(split.values()) != 100):
                raise ApiError("INVALID_ARGUMENT", f"Invalid traffic split {split} (unknown: {sorted(unknown)}).")
            endpoint.traffic_split = {k: v for k, v in split.items() if v}
        return types.Endpoint.to_json(endpoint)

    def _ListOperations(self, p, query, body) -> str:
        prefix = p["name"] + "/operations/"
        names = [n for n in self._operations if n.startswith(prefix)]
        if not names and p["name"] not in self.models and p["name"] not in self.endpoints:
            raise ApiError("NOT_FOUND", f"{p['name']} not found.")
        size = int(query.get("pageSize") or 10)
        start = int(query.get("pageToken") or 0)
        page = operations_pb2.ListOperationsResponse(operations=[self._operation_pb(n) for n in names[start:start + size]])
        if start + size < len(names):
            page.next_page_token = str(start + size)
        return json_format.MessageToJson(page)

    def _DeployModel(self, p, query, body) -> str:
        request = types.DeployModelRequest.from_json(body)
        endpoint = self._endpoint(p["endpoint"])
        model_name, version = self._version(request.deployed_model.model)
        self._ready(model_name, version)
        if request.deployed_model.dedicated_resources.min_replica_count < 1:
            raise ApiError("INVALID_ARGUMENT", "dedicated_resources.min_replica_count must be at least 1.")
        split = dict(request.traffic_split)
        if split:
            unknown = set(split) - {"0"} - {d.id for d in endpoint.deployed_models}
            if unknown or sum(split.values()) != 100:
                raise ApiError("INVALID_ARGUMENT", f"Invalid traffic split {split}: the percentages must sum "
                               f"to 100 over the deployed models and 0 (unknown: {sorted(unknown)}).")
        deployed_id = str(next(self._ids))

        def finish() -> types.DeployModelResponse:
            deployed = types.DeployedModel.deserialize(types.DeployedModel.serialize(request.deployed_model))
            deployed.id, deployed.model, deployed.model_version_id = deployed_id, model_name, version.version_id
            endpoint.deployed_models = [*endpoint.deployed_models, deployed]
            version.deployed_models = [*version.deployed_models,
                                       types.DeployedModelRef(endpoint=p["endpoint"], deployed_model_id=deployed_id)]
            if split:
                new_split = {(deployed_id if k == "0" else k): v for k, v in split.items()}
            elif len(endpoint.deployed_models) == 1:
                new_split = {deployed_id: 100}
            else:
                new_split = dict(endpoint.traffic_split)
            endpoint.traffic_split = {k: v for k, v in new_split.items() if v}
            return types.DeployModelResponse(deployed_model=deployed)

        return self._operation(p["endpoint"], "DeployModel", finish, types.DeployModelOperationMetadata())

    def _MutateDeployedModel(self, p, query, body) -> str:
        request = types.MutateDeployedModelRequest.from_json(body)
        endpoint = self._endpoint(p["endpoint"])
        deployed = next((d for d in endpoint.deployed_models if d.id == request.deployed_model.id), None)
        if deployed is None:
            raise ApiError("NOT_FOUND", f"Deployed model {request.deployed_model.id} not found on {p['endpoint']}.")
        paths = set(request.update_mask.paths)
        wanted = request.deployed_model.dedicated_resources
        if "dedicated_resources.min_replica_count" in paths and wanted.min_replica_count < 1:
            raise ApiError("INVALID_ARGUMENT", "dedicated_resources.min_replica_count must be at least 1.")

        def finish() -> types.MutateDeployedModelResponse:
            for field in ("min_replica_count", "max_replica_count"):
                if f"dedicated_resources.{field}" in paths:
                    setattr(deployed.dedicated_resources, field, getattr(wanted, field))
            return types.MutateDeployedModelResponse(deployed_model=deployed)

        return self._operation(p["endpoint"], "MutateDeployedModel", finish, types.MutateDeployedModelOperationMetadata())

    def _UndeployModel(self, p, query, body) -> str:
        request = types.UndeployModelRequest.from_json(body)
        endpoint = self._endpoint(p["endpoint"])
        if request.deployed_model_id not in {d.id for d in endpoint.deployed_models}:
            raise ApiError("NOT_FOUND", f"Deployed model {request.deployed_model_id} not found on {p['endpoint']}.")
        split = dict(request.traffic_split) if request.traffic_split else dict(endpoint.traffic_split)
        if split.get(request.deployed_model_id, 0):
            raise ApiError("FAILED_PRECONDITION", f"Deployed model {request.deployed_model_id} still has "
                           f"{split[request.deployed_model_id]}% of the traffic.")

        def finish() -> types.UndeployModelResponse:
            for versions in self.models.values():
                for version in versions:
                    version.deployed_models = [r for r in version.deployed_models
                                               if r.deployed_model_id != request.deployed_model_id]
            endpoint.deployed_models = [d for d in endpoint.deployed_models if d.id != request.deployed_model_id]
            endpoint.traffic_split = {k: v for k, v in split.items() if v} if endpoint.deployed_models else {}
            return types.UndeployModelResponse()

        return self._operation(p["endpoint"], "UndeployModel", finish, types.UndeployModelOperationMetadata())


def _error_json(status: str, message: str) -> str:
    return json.dumps({"error": {"code": HTTP_OF[status], "message": message, "status": status}})


def _handler(fake: FakeVertex) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode() or "{}"
            status, text = fake.handle(self.command, urllib.parse.unquote(url.path), query, body)
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _serve

        def log_message(self, *args) -> None:  # the tests read `calls`, not a log
            pass

    return Handler
