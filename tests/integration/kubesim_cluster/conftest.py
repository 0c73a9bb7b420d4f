"""Per-module emulated cluster (API server + these controllers); the official-client fixtures
(`api_client`, `core`, `batch`, `ns`, ...) come from tests/kubesim/fixtures.py."""

from __future__ import annotations

import pytest

from tests.kubesim.harness import KubeSim


@pytest.fixture(scope="module")
def sim(kubesim_cluster: KubeSim) -> KubeSim:
    """The module's own kubesim subprocess, started with port 0 (xdist-safe)."""
    return kubesim_cluster
