"""Shared setup for the unit tests; manifest builders live in ``tests.unit.manifests``."""

from __future__ import annotations

import optuna
import pytest
from hypothesis import HealthCheck, settings

# No example database on disk (xdist workers would share it) and no wall-clock deadline
# (a loaded CI machine must not turn a slow example into a failure).
settings.register_profile(
    "kubetune-unit",
    database=None,
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("kubetune-unit")

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture
def storage() -> optuna.storages.BaseStorage:
    """A fresh, private Optuna storage: nothing on disk, nothing shared between tests."""
    return optuna.storages.InMemoryStorage()
