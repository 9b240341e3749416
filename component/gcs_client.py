"""Reach Google Cloud Storage: one shared client and connection pool, the retry policy, listings,
and one-line errors that never show a token or a signed URL.

Credentials are Application Default Credentials (Workload Identity on GKE and Vertex AI, a key
file, or gcloud's login on a laptop); with STORAGE_EMULATOR_HOST set, anonymous ones for the
emulator. Imported only when a gs:// location is involved.
"""

import functools
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import google.auth
import requests
from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions
from google.auth.credentials import AnonymousCredentials
from google.auth.transport.requests import AuthorizedSession
from google.cloud import storage
from google.cloud.storage.exceptions import DataCorruption
from google.cloud.storage.retry import DEFAULT_RETRY

from .errors import PublishError, PusherError

EMULATOR_ENV = "STORAGE_EMULATOR_HOST"
RETRY_SECONDS_ENV = "MODEL_PUSHER_GCS_RETRY_SECONDS"
SCOPES = ("https://www.googleapis.com/auth/devstorage.read_write",)
# Connections kept open: every transfer thread plus the lease heartbeat gets one without waiting.
POOL_SIZE = 32
TIMEOUT = (20, 120)  # seconds to connect; to wait for an answer or to send one block

# 429, 5xx, resets and timeouts (google-cloud-storage's list of transient failures), retried with
# exponential backoff for at most this long in all. Writes stay safe to repeat because they carry
# preconditions (ifGenerationMatch) or go to names no other push uses.
RETRY = DEFAULT_RETRY.with_delay(initial=0.5, maximum=16.0, multiplier=2.0).with_timeout(
    float(os.environ.get(RETRY_SECONDS_ENV, "120"))
)


def split_uri(uri: str) -> tuple[str, str]:
    """gs://bucket/a/b/ -> ("bucket", "a/b")."""
    bucket, _, path = uri[len("gs://"):].partition("/")
    return bucket, path.strip("/")


def folder(*parts: str) -> str:
    """The object-name prefix of a directory: "a/b/", or "" for a bucket's top."""
    path = "/".join(p.strip("/") for p in parts if p.strip("/"))
    return f"{path}/" if path else ""


@functools.cache
def client() -> storage.Client:
    """The one client of this process; its session keeps POOL_SIZE connections open."""
    if os.environ.get(EMULATOR_ENV):
        credentials, project = AnonymousCredentials(), None
    else:
        credentials, project = google.auth.default(scopes=SCOPES)
    session = AuthorizedSession(credentials)
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return storage.Client(project=project, credentials=credentials, _http=session)


def session() -> AuthorizedSession:
    """The authorized, pooled HTTP session, for the JSON API calls the library has no fast form of."""
    return client()._http


@dataclass(frozen=True)
class Listing:
    objects: list[storage.Blob]  # with size, crc32c, updated and metadata filled in
    folders: list[str]  # names of the sub-directories (only with a delimiter)


def list_objects(bucket: str, prefix: str, recursive: bool = True) -> Listing:
    """Every object under `prefix`, or only its direct children and sub-directories."""
    try:
        pages = client().list_blobs(
            bucket, prefix=prefix, delimiter=None if recursive else "/", retry=RETRY, timeout=TIMEOUT
        )
        objects = list(pages)
    except api_exceptions.NotFound:
        # Listing never misses in a bucket that exists, so this can only mean the bucket.
        raise api_exceptions.NotFound(f"bucket gs://{bucket} does not exist") from None
    folders = [p[len(prefix):].rstrip("/") for p in sorted(pages.prefixes)]
    return Listing(objects, folders)


def any_object(bucket: str, prefix: str) -> bool:
    return any(client().list_blobs(bucket, prefix=prefix, max_results=1, retry=RETRY, timeout=TIMEOUT))


@contextmanager
def gcs_errors(what: str, error: type[PusherError] = PublishError, outcome: str = "") -> Iterator[None]:
    """Turn what google-cloud-storage, google-auth and requests raise into one line of `error`:
    "<what>: <reason>[; <outcome>]"."""
    try:
        yield
    except PusherError:
        raise
    except (api_exceptions.GoogleAPIError, auth_exceptions.GoogleAuthError, requests.RequestException,
            DataCorruption) as exc:
        text = f"{what}: {_reason(exc)}"
        raise error(f"{text}; {outcome}" if outcome else text) from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, auth_exceptions.DefaultCredentialsError):
        return (
            f"no usable Google Cloud credentials ({_clean(exc)[:200]}); set GOOGLE_APPLICATION_CREDENTIALS, "
            "run `gcloud auth application-default login`, or run with a service account (Workload "
            "Identity on GKE, Vertex AI)"
        )
    if isinstance(exc, auth_exceptions.RefreshError):
        return f"the Google Cloud credentials found could not get an access token ({_clean(exc)})"
    if isinstance(exc, api_exceptions.RetryError):
        cause = _reason(exc.cause) if exc.cause is not None else "no answer"
        return f"Google Cloud Storage kept failing for {RETRY.timeout:.0f} s; last error: {cause}"
    if isinstance(exc, api_exceptions.Unauthorized):
        return f"Google Cloud Storage rejected the credentials ({_api_message(exc)})"
    if isinstance(exc, api_exceptions.Forbidden):
        return f"permission denied ({_api_message(exc)})"
    if isinstance(exc, api_exceptions.NotFound):
        return _api_message(exc)
    if isinstance(exc, api_exceptions.GoogleAPICallError):
        return f"Google Cloud Storage answered {exc.code} ({_api_message(exc)})"
    if isinstance(exc, DataCorruption):
        return "the bytes received do not match the object's checksum"
    return f"cannot reach Google Cloud Storage ({_clean(exc)})"


def _api_message(exc: api_exceptions.GoogleAPICallError) -> str:
    """GCS's own words ("x@p.iam.gserviceaccount.com does not have storage.objects.create access
    ..."), without the request URL the library prefixes them with."""
    errors = [e.get("message") for e in exc.errors or () if isinstance(e, dict) and e.get("message")]
    if not errors and isinstance(exc.response, requests.Response):
        try:
            errors = [exc.response.json()["error"]["message"]]
        except (ValueError, KeyError, TypeError):
            pass  # not GCS's JSON error document
    return _clean(errors[0] if errors else exc.message)


_QUERY = re.compile(r"\?[^\s'\"()]+")


def _clean(value: object) -> str:
    """One line, without URL query strings: a resumable upload's session id or a signed URL's
    signature there is as good as a password."""
    return _QUERY.sub("?...", " ".join(str(value).split()))[:400]
