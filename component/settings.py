"""Every environment variable the package itself reads, read once per process and checked: a bad
value is an InputError naming the variable (exit 2), raised when the command starts, before
anything is written. Libraries read their own variables too (boto3 its AWS_* credentials,
google-auth the ADC chain); only what the package acts on is here."""

import functools
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from component.errors import InputError

# Tests (and unusual clusters) can move KFP's /gcs, /s3, /minio mount root; in a pipeline it is "/".
MOUNT_ROOT_ENV = "MODEL_PUSHER_MOUNT_ROOT"
# A bucket push whose lease was not renewed for this long is dead: far above the renewal interval plus
# the longest retried request, so a slow push is never mistaken for a dead one. The second name is
# the older one, still read.
LEASE_SECONDS_ENVS = ("MODEL_PUSHER_LEASE_SECONDS", "MODEL_PUSHER_GCS_LEASE_SECONDS")
GCS_RETRY_SECONDS_ENV = "MODEL_PUSHER_GCS_RETRY_SECONDS"
GCS_EMULATOR_ENV = "STORAGE_EMULATOR_HOST"  # set: anonymous credentials (the storage client reads the URL)
S3_ENDPOINT_ENVS = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
S3_REGION_ENVS = ("AWS_REGION", "AWS_DEFAULT_REGION")
S3_RETRY_SECONDS_ENV = "MODEL_PUSHER_S3_RETRY_SECONDS"
VERTEX_OPERATION_SECONDS_ENV = "MODEL_PUSHER_VERTEX_OPERATION_SECONDS"
# Tests and private endpoints: the Vertex clients speak REST to this URL with anonymous credentials.
VERTEX_API_ENDPOINT_ENV = "MODEL_PUSHER_VERTEX_API_ENDPOINT"
# Vertex AI Pipelines puts the run's labels here (a JSON object); they go on each registered version.
VERTEX_RUN_LABELS_ENV = "VERTEX_AI_PIPELINES_RUN_LABELS"
PROJECT_ENVS = ("GOOGLE_CLOUD_PROJECT", "CLOUD_ML_PROJECT_ID")
REGION_ENVS = ("CLOUD_ML_REGION",)

DEFAULT_LEASE_SECONDS = 300.0
DEFAULT_RETRY_SECONDS = 120.0
DEFAULT_VERTEX_OPERATION_SECONDS = 1800.0  # a deployment may take a quarter of an hour on Vertex

_URL = re.compile(r"https?://[^/\s]+(/\S*)?")
# What botocore accepts as a region name (it builds the endpoint's host name from it).
_REGION = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?")


@dataclass(frozen=True)
class Settings:
    mount_root: Path
    lease_seconds: float
    gcs_retry_seconds: float
    gcs_emulator: bool
    s3_endpoint: str | None  # None: AWS itself
    s3_region: str | None  # None: from the AWS configuration
    s3_retry_seconds: float
    vertex_operation_seconds: float
    vertex_api_endpoint: str  # empty: the regional endpoint
    # The run's labels as Vertex AI Pipelines sets them (JSON). Not the user's input: vertex.target
    # drops, with a warning, whatever Vertex would refuse, as GCPC does, instead of failing the step.
    vertex_run_labels: str
    project: str  # empty: not set
    region: str


@functools.cache
def current() -> Settings:
    """This process's settings (tests that change the environment in-process call
    `current.cache_clear()`)."""
    return read(os.environ)


def read(environ: Mapping[str, str]) -> Settings:
    def first(names: tuple[str, ...]) -> tuple[str, str]:
        return next(((n, environ[n].strip()) for n in names if environ.get(n, "").strip()), (names[0], ""))

    vertex_api = environ.get(VERTEX_API_ENDPOINT_ENV, "").strip().rstrip("/")
    if vertex_api and not re.fullmatch(r"https?://[^/\s]+", vertex_api):
        raise InputError(f"${VERTEX_API_ENDPOINT_ENV}: expected http(s)://HOST:PORT, got {vertex_api!r}")
    s3_name, s3_endpoint = first(S3_ENDPOINT_ENVS)
    if s3_endpoint and not _URL.fullmatch(s3_endpoint):
        raise InputError(f"${s3_name}: expected an http(s)://HOST:PORT URL, got {s3_endpoint!r}")
    # The storage client takes it as its endpoint, scheme included.
    gcs_emulator = environ.get(GCS_EMULATOR_ENV, "").strip()
    if gcs_emulator and not _URL.fullmatch(gcs_emulator):
        raise InputError(f"${GCS_EMULATOR_ENV}: expected an http(s)://HOST:PORT URL, got {gcs_emulator!r}")
    region_name, s3_region = first(S3_REGION_ENVS)
    if s3_region and not _REGION.fullmatch(s3_region):
        raise InputError(f"${region_name}: expected an AWS region name such as eu-west-1, got {s3_region!r}")
    return Settings(
        mount_root=_mount_root(environ.get(MOUNT_ROOT_ENV, "")),
        lease_seconds=_seconds(*first(LEASE_SECONDS_ENVS), DEFAULT_LEASE_SECONDS),
        gcs_retry_seconds=_seconds(GCS_RETRY_SECONDS_ENV, environ.get(GCS_RETRY_SECONDS_ENV, ""), DEFAULT_RETRY_SECONDS),
        gcs_emulator=bool(gcs_emulator),
        s3_endpoint=s3_endpoint or None,
        s3_region=s3_region or None,
        s3_retry_seconds=_seconds(S3_RETRY_SECONDS_ENV, environ.get(S3_RETRY_SECONDS_ENV, ""), DEFAULT_RETRY_SECONDS),
        vertex_operation_seconds=_seconds(
            VERTEX_OPERATION_SECONDS_ENV, environ.get(VERTEX_OPERATION_SECONDS_ENV, ""), DEFAULT_VERTEX_OPERATION_SECONDS
        ),
        vertex_api_endpoint=vertex_api,
        vertex_run_labels=environ.get(VERTEX_RUN_LABELS_ENV, "").strip(),
        project=first(PROJECT_ENVS)[1],
        region=first(REGION_ENVS)[1],
    )


def _seconds(name: str, text: str, default: float) -> float:
    text = text.strip()
    if not text:
        return default
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise InputError(f"${name}: expected a number of seconds above 0, got {text!r}")
    return seconds


def _mount_root(text: str) -> Path:
    if not text:
        return Path("/")
    if not text.startswith("/") or "\x00" in text:
        raise InputError(f"${MOUNT_ROOT_ENV}: expected an absolute directory path, got {text!r}")
    return Path(text)
