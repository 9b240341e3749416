"""Stores used in this test's process (not through the command), pointed at a test server."""

import importlib
import uuid
from collections.abc import Callable
from typing import Protocol

import pytest

from component.stores import registry


def forget_clients(module: str) -> None:
    """Drop the clients component.stores.<module> keeps per process (made from the environment on
    first use), and the buckets opened with them."""
    for value in vars(importlib.import_module(f"component.stores.{module}")).values():
        if callable(getattr(value, "cache_clear", None)):
            value.cache_clear()
    registry.bucket_of.cache_clear()


def point_at(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, environment: dict[str, str],
             module: str) -> None:
    """For one test, make component.stores.<module> reach the server `environment` names."""
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    forget_clients(module)
    request.addfinalizer(lambda: forget_clients(module))


class BucketServer(Protocol):
    def create_bucket(self, name: str) -> None: ...


def new_bucket(server: BucketServer, reset: Callable[[], None] | None = None) -> str:
    """A new, empty bucket of one test's own in a server the whole session shares (emptied first by
    `reset`, where the server can forget everything): a name no other test uses, so no test sees
    another's objects."""
    if reset is not None:
        reset()
    name = f"test-{uuid.uuid4().hex[:16]}"
    server.create_bucket(name)
    return name
