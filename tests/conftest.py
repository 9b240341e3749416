"""Shared fixtures: real SavedModels made by TensorFlow once per session, and the real command."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from savedmodels import make_keras_model, make_module_model

REPO = Path(__file__).resolve().parent.parent

# The image tests need the image: `make check-image` builds it and runs them with it named (and
# kfp.local's DockerRunner with podman's Docker API service).
collect_ignore = [] if os.environ.get("MODEL_PUSHER_IMAGE") else ["test_image.py", "test_kfp_local.py"]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(scope="session")
def _models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {"module": make_module_model(root / "module"), "keras": make_keras_model(root / "keras")}


@pytest.fixture
def saved_model(_models, tmp_path) -> Path:
    """A fresh copy of a tf.Module SavedModel with a serving_default signature."""
    return Path(shutil.copytree(_models["module"], tmp_path / "saved_model"))


@pytest.fixture
def keras_saved_model(_models, tmp_path) -> Path:
    """A fresh copy of a Keras 3 `model.export` SavedModel."""
    return Path(shutil.copytree(_models["keras"], tmp_path / "keras_saved_model"))


def run_cli(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `python -m component` as a user (or KFP) would: a separate process."""
    return subprocess.run(
        [sys.executable, "-m", "component", *args],
        cwd=REPO, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )


# --- GCS emulator ---


@pytest.fixture(scope="session")
def gcs_emulator():
    """fake-gcs-server for the whole session (tests/gcs_emulator.py); each test takes its own bucket."""
    from gcs_emulator import Emulator

    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def gcs_bucket(gcs_emulator) -> str:
    """A new, empty bucket in the session's emulator."""
    import uuid

    name = f"test-{uuid.uuid4().hex[:16]}"
    gcs_emulator.create_bucket(name)
    return name


# --- S3 (moto's server) ---


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 server for the whole session (tests/s3_server.py), reset by each test's s3_bucket."""
    from s3_server import S3Server

    with S3Server() as server:
        yield server


@pytest.fixture
def s3_bucket(s3_server) -> str:
    """A new, empty bucket in a freshly reset server."""
    import uuid

    s3_server.reset()
    name = f"test-{uuid.uuid4().hex[:16]}"
    s3_server.create_bucket(name)
    return name


# --- S3 (ministack: a second, independent implementation) ---


@pytest.fixture(scope="session")
def ministack_server():
    """ministack for the whole session (tests/ministack_server.py), installed on first use."""
    from ministack_server import MinistackServer

    with MinistackServer() as server:
        yield server


@pytest.fixture
def ministack_bucket(ministack_server) -> str:
    """A new, empty bucket in a freshly reset ministack."""
    import uuid

    ministack_server.reset()
    name = f"test-{uuid.uuid4().hex[:16]}"
    ministack_server.create_bucket(name)
    return name
