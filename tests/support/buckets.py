"""Stores used in this test's process (not through the command), pointed at a test server."""

import importlib

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
