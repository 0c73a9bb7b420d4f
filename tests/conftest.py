"""Fixtures shared by every test directory, and the test tiers.

Tiers: ``tests/unit`` and ``tests/docs`` are the fast tier; the rest (emulated clusters, real
binaries, subprocesses, benchmarks) is marked ``slow``, so ``bash tests/run.sh -m "not slow"``
runs the fast tier alone while CI runs everything.
"""

from pathlib import Path

import pytest

from tests.kubesim.fixtures import (
    api_client,
    apiext,
    batch,
    core,
    custom,
    kube_binaries,
    kubesim_api,
    kubesim_cluster,
    ns,
)
from tests.prometheus_stack import prometheus, prometheus_names

__all__ = [
    "api_client",
    "apiext",
    "batch",
    "core",
    "custom",
    "kube_binaries",
    "kubesim_api",
    "kubesim_cluster",
    "ns",
    "prometheus",
    "prometheus_names",
]

FAST_TIER = (Path(__file__).parent / "unit", Path(__file__).parent / "docs")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not any(item.path.is_relative_to(directory) for directory in FAST_TIER):
            item.add_marker(pytest.mark.slow)
