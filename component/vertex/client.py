"""Reach Vertex AI: the generated aiplatform_v1 clients, bounded waits on long-running operations,
and one-line errors that say what to do (and never show a token).

Imported only when a push registers a model: the clients are slow to load and take much memory. They speak REST, with Application Default Credentials to the regional endpoint, or with
anonymous credentials to MODEL_PUSHER_VERTEX_API_ENDPOINT when it is set (tests, private endpoints).
"""

import concurrent.futures
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from google.api_core import exceptions as api_exceptions
from google.api_core import retry as api_retry
from google.api_core.client_options import ClientOptions
from google.api_core.future import polling
from google.auth import exceptions as auth_exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud.aiplatform_v1 import EndpointServiceClient, ModelServiceClient

from component.errors import PublishError
from component.runtime.redact import redacted
from component.vertex.target import VertexTarget

# Every operation wait is bounded; a deployment may take a quarter of an hour on Vertex.
OPERATION_SECONDS_ENV = "MODEL_PUSHER_VERTEX_OPERATION_SECONDS"
DEFAULT_OPERATION_SECONDS = 1800.0
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


@dataclass(frozen=True)
class Clients:
    models: ModelServiceClient
    endpoints: EndpointServiceClient
    where: str  # for messages: the URL or the regional host


def clients(target: VertexTarget) -> Clients:
    # REST everywhere: the transport the tests exercise against the fake is the one used on Vertex.
    if target.api_endpoint:
        where = target.api_endpoint
        options = {"credentials": AnonymousCredentials()}
    else:
        where = f"https://{target.region}-aiplatform.googleapis.com"
        options = {}  # Application Default Credentials
    options.update(transport="rest", client_options=ClientOptions(api_endpoint=where))
    with vertex_errors(f"connecting to Vertex AI at {where}", target):
        return Clients(ModelServiceClient(**options), EndpointServiceClient(**options), where)


def operation_seconds() -> float:
    return float(os.environ.get(OPERATION_SECONDS_ENV, DEFAULT_OPERATION_SECONDS))


def wait(operation: Any, what: str) -> Any:
    """The operation's result, or a PublishError when it fails or outlasts the bound."""
    bound = operation_seconds()
    try:
        return operation.result(timeout=bound, polling=polling.DEFAULT_POLLING.with_timeout(bound))
    except concurrent.futures.TimeoutError:
        raise PublishError(
            f"{what} did not finish within {bound:.0f} s (operation {operation.operation.name}); it may "
            f"still finish, and a retried step will find what it made (${OPERATION_SECONDS_ENV} sets the bound)"
        ) from None


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
            f"region mismatch: the model's region is {target.region} (vertex_region); its bucket and "
            f"endpoint must be there too (Vertex AI said: {said})"
        )
    status = exc.grpc_status_code.name if exc.grpc_status_code is not None else exc.code
    return f"Vertex AI answered {status} (Vertex AI said: {said})"


# REST errors start with the request ("GET https://...: "); Vertex's own words follow.
_REQUEST_LINE = re.compile(r"^[A-Z]+ \S+: ")
