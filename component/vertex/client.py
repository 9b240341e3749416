"""Reach Vertex AI: the generated aiplatform_v1 clients, bounded waits on long-running operations,
and one-line errors that say what to do (and never show a token).

Imported only when a push registers a model: the clients are slow to load and take much memory. They speak REST, with Application Default Credentials to the regional endpoint, or with
anonymous credentials to MODEL_PUSHER_VERTEX_API_ENDPOINT when it is set (tests, private endpoints).
"""

import concurrent.futures
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from google.api_core import exceptions as api_exceptions
from google.api_core import operation as api_operation
from google.api_core import retry as api_retry
from google.api_core.client_options import ClientOptions
from google.api_core.future import polling
from google.auth import exceptions as auth_exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud.aiplatform_v1 import EndpointServiceClient, ModelServiceClient, types
from google.longrunning import operations_pb2

from component import settings
from component.errors import PublishError
from component.runtime import stopping
from component.runtime.redact import redacted
from component.vertex.target import VertexTarget

CALL_TIMEOUT = 60.0  # one request
# Reads (and alias merges, which are idempotent) are retried on transient failures; uploads and
# deployments are not: a retried step finds what an earlier attempt made instead.
READ_RETRY = api_retry.Retry(
    predicate=api_retry.if_exception_type(
        api_exceptions.ServiceUnavailable, api_exceptions.InternalServerError, api_exceptions.DeadlineExceeded
    ),
    initial=0.5, maximum=8.0, multiplier=2.0, timeout=60.0,
)
USER_ROLE = "roles/aiplatform.user"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Clients:
    models: ModelServiceClient
    endpoints: EndpointServiceClient
    where: str  # for messages: the URL or the regional host


def clients(target: VertexTarget) -> Clients:
    # REST everywhere: the transport the tests exercise against the fake is the one used on Vertex.
    # Each service is asked in the region of what it serves: an endpoint may be in another region
    # than the model.
    def options(region: str) -> dict[str, Any]:
        if target.api_endpoint:
            return {"credentials": AnonymousCredentials(), "transport": "rest",
                    "client_options": ClientOptions(api_endpoint=target.api_endpoint)}
        return {"transport": "rest",  # Application Default Credentials
                "client_options": ClientOptions(api_endpoint=f"https://{region}-aiplatform.googleapis.com")}

    where = target.api_endpoint or f"https://{target.region}-aiplatform.googleapis.com"
    endpoint_region = target.endpoint_name.split("/")[3] if target.endpoint_name else target.region
    with vertex_errors(f"connecting to Vertex AI at {where}", target):
        return Clients(ModelServiceClient(**options(target.region)), EndpointServiceClient(**options(endpoint_region)), where)


def operation_seconds() -> float:
    return settings.current().vertex_operation_seconds


def wait(operation: Any, what: str, bound: float | None = None) -> Any:
    """The operation's result, or a PublishError when it fails or outlasts `bound` seconds (default:
    the operation bound)."""
    bound = operation_seconds() if bound is None else max(bound, 0.0)
    try:
        return operation.result(timeout=bound, polling=polling.DEFAULT_POLLING.with_timeout(bound))
    except concurrent.futures.TimeoutError:
        raise PublishError(
            f"{what} did not finish within {operation_seconds():.0f} s (operation {operation.operation.name}); it "
            f"may still finish, and a retried step will find what it made (${settings.VERTEX_OPERATION_SECONDS_ENV} sets the bound)"
        ) from None


def wait_for_earlier(client: ModelServiceClient | EndpointServiceClient, name: str, *rpcs: str) -> int:
    """Wait for the unfinished `rpcs` operations (UploadModel, DeployModel, UndeployModel) on the
    resource `name`: an earlier attempt of this step may have given up on one, or died, while it
    kept running, and what it makes must be found, not made (or undone) twice. Their metadata does
    not say what they upload or deploy, so every such operation on the resource is waited for, all
    within one operation bound. Returns how many there were."""
    running = [op for op in _operations(client, name) if not op.done and _rpc_of(op) in rpcs]
    deadline = time.monotonic() + operation_seconds()
    for op in running:
        rpc = _rpc_of(op)
        log.info("Vertex AI: waiting for %s operation %s on %s, started earlier (by an earlier attempt of this "
                 "step, or another push), before looking for what it did.", rpc, op.name, name)
        future = api_operation.from_gapic(op, client.transport.operations_client, getattr(types, f"{rpc}Response"))
        try:
            wait(future, f"the earlier {rpc}", deadline - time.monotonic())
        except api_exceptions.GoogleAPICallError as exc:  # that attempt failed: this one tries again
            log.info("Vertex AI: the earlier %s operation %s failed (%s).", rpc, op.name, redacted(exc.message))
    return len(running)


def in_threads(tasks: Sequence[Callable[[], None]]) -> None:
    """Run `tasks` at once and raise the first failure. The threads are daemons and the caller
    polls: a stop (Interrupted, raised in the main thread) leaves at once, without waiting for a
    request that hangs, which stores.parallel's pool would join before the process could exit."""
    failures: list[BaseException] = []

    def run(task: Callable[[], None]) -> None:
        try:
            task()
        except BaseException as exc:  # handed to the caller's thread
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(task,), daemon=True) for task in tasks]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive() and not failures:
            thread.join(0.1)
            stopping.check()
    if failures:
        raise failures[0]


def _operations(client: ModelServiceClient | EndpointServiceClient, name: str) -> Iterator[operations_pb2.Operation]:
    token = ""
    while True:
        try:
            page = client.list_operations(
                operations_pb2.ListOperationsRequest(name=name, page_token=token), retry=READ_RETRY, timeout=CALL_TIMEOUT,
            )
        except api_exceptions.NotFound:  # a model that does not exist yet has no operations
            return
        yield from page.operations
        token = page.next_page_token
        if not token:
            return


def _rpc_of(op: operations_pb2.Operation) -> str:
    # type.googleapis.com/google.cloud.aiplatform.v1.UploadModelOperationMetadata -> UploadModel
    return op.metadata.type_url.rsplit(".", 1)[-1].removesuffix("OperationMetadata")


@contextmanager
def vertex_errors(doing: str, target: VertexTarget) -> Iterator[None]:
    """Turn what the Google libraries raise into one line: `<doing> failed: <why, what to do>`."""
    try:
        yield
    except PublishError as exc:
        raise PublishError(f"{doing}: {exc}") from None
    except (api_exceptions.GoogleAPIError, auth_exceptions.GoogleAuthError, OSError) as exc:
        raise PublishError(f"{doing} failed: {_reason(exc, target)}") from None


def _reason(exc: Exception, target: VertexTarget) -> str:
    if isinstance(exc, auth_exceptions.DefaultCredentialsError):
        return "no Google Cloud credentials found (on a laptop: gcloud auth application-default login)"
    if isinstance(exc, auth_exceptions.GoogleAuthError):
        return f"the Google Cloud credentials could not get an access token ({redacted(exc)})"
    if isinstance(exc, api_exceptions.RetryError):
        return f"Vertex AI kept failing; last error: {redacted(exc.cause) if exc.cause else 'no answer'}"
    if not isinstance(exc, api_exceptions.GoogleAPICallError):
        return f"cannot reach Vertex AI ({redacted(exc)})"
    said = redacted(_REQUEST_LINE.sub("", str(exc.message)))
    if "storage.objects" in said or "gcp-sa-aiplatform" in said:
        return (
            f"the Vertex AI Service Agent (service-PROJECT_NUMBER@gcp-sa-aiplatform.iam.gserviceaccount.com) "
            f"cannot read the model's bucket; grant it roles/storage.objectViewer there (Vertex AI said: {said})"
        )
    if isinstance(exc, (api_exceptions.Forbidden, api_exceptions.PermissionDenied)):
        return (
            f"permission denied: the pipeline's service account (or your credentials) needs {USER_ROLE} "
            f"in project {target.project} (Vertex AI said: {said})"
        )
    if isinstance(exc, api_exceptions.Unauthorized):
        return f"Vertex AI rejected the credentials (Vertex AI said: {said})"
    if isinstance(exc, (api_exceptions.TooManyRequests, api_exceptions.ResourceExhausted)):
        return (
            f"quota exceeded in project {target.project}, region {target.region}; retry later or ask for a "
            f"higher quota (Vertex AI said: {said})"
        )
    if isinstance(exc, api_exceptions.NotFound):
        return f"not found (Vertex AI said: {said})"
    if re.search(r"\b(region|location)s?\b", said, re.IGNORECASE) and exc.code in (400, 412):
        return (
            f"Vertex AI refused a location in this request (the model's region, vertex_region, is {target.region}"
            f"{_endpoint_region(target)}) (Vertex AI said: {said})"
        )
    status = exc.grpc_status_code.name if exc.grpc_status_code is not None else exc.code
    return f"Vertex AI answered {status} (Vertex AI said: {said})"


def _endpoint_region(target: VertexTarget) -> str:
    return f"; vertex_endpoint's is {target.endpoint_name.split('/')[3]}" if target.endpoint_name else ""


# REST errors start with the request ("GET https://...: "); Vertex's own words follow.
_REQUEST_LINE = re.compile(r"^[A-Z]+ \S+: ")
