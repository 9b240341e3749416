"""Fixtures only (helpers live in tests/support/): real SavedModels made by TensorFlow once per
session, and the session's storage servers."""

import os
import shutil
from pathlib import Path

import pytest

from tests.support.buckets import new_bucket
from tests.support.destinations import Destination, gcs_at, local_at, s3_at
from tests.support.savedmodels import make_keras_model, make_module_model

# The image tests need the image: `make check-image` builds it and runs them with it named (and
# kfp.local's DockerRunner with podman's Docker API service).
collect_ignore = [] if os.environ.get("MODEL_PUSHER_IMAGE") else ["image"]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(autouse=True)
def _fresh_settings():
    """The package reads its environment once per process; a test that changes it in-process
    (monkeypatch.setenv) gets it read again."""
    from component import settings

    settings.current.cache_clear()
    yield
    settings.current.cache_clear()


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



# --- GCS emulator ---


@pytest.fixture(scope="session")
def gcs_emulator():
    """fake-gcs-server for the whole session (tests/support/gcs_emulator.py); each test takes its own bucket."""
    from tests.support.gcs_emulator import Emulator

    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def gcs_bucket(gcs_emulator) -> str:
    """A new, empty bucket in the session's emulator."""
    return new_bucket(gcs_emulator)


# --- S3 (moto's server) ---


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 server for the whole session (tests/support/s3_server.py), reset by each test's s3_bucket."""
    from tests.support.s3_server import S3Server

    with S3Server() as server:
        yield server


@pytest.fixture
def s3_bucket(s3_server) -> str:
    """A new, empty bucket in a freshly reset server."""
    return new_bucket(s3_server, reset=s3_server.reset)


# --- S3 (ministack: a second, independent implementation) ---


@pytest.fixture(scope="session")
def ministack_server():
    """ministack for the whole session (tests/support/ministack_server.py), installed on first use."""
    from tests.support.ministack_server import MinistackServer

    with MinistackServer() as server:
        yield server


@pytest.fixture
def ministack_bucket(ministack_server) -> str:
    """A new, empty bucket in a freshly reset ministack."""
    return new_bucket(ministack_server, reset=ministack_server.reset)


# --- Destinations (tests/support/destinations.py): where pushes go, and how tests look at them ---


@pytest.fixture
def gcs_destination(gcs_emulator, gcs_bucket) -> Destination:
    return gcs_at(gcs_emulator, gcs_bucket)


@pytest.fixture
def s3_destination(s3_server, s3_bucket) -> Destination:
    return s3_at(s3_server, s3_bucket)


@pytest.fixture
def ministack_destination(ministack_server, ministack_bucket) -> Destination:
    return s3_at(ministack_server, ministack_bucket)


def _destination(request, tmp_path) -> Destination:
    # By name, so that a test on one store starts no other store's server.
    if request.param == "local":
        return local_at(tmp_path / "store")
    return request.getfixturevalue({"gs": "gcs_destination", "s3": "s3_destination",
                                    "s3-ministack": "ministack_destination"}[request.param])


@pytest.fixture(params=["local", "gs", "s3", "s3-ministack"])
def destination(request, tmp_path) -> Destination:
    """Every store in turn: a local directory, gs:// on fake-gcs-server, s3:// on moto and on
    ministack (a second, independent S3 implementation, which verifies checksums)."""
    return _destination(request, tmp_path)


@pytest.fixture(params=["gs", "s3", "s3-ministack"])
def remote_destination(request, tmp_path) -> Destination:
    """Every bucket store in turn."""
    return _destination(request, tmp_path)
