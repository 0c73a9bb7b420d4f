"""Per-module emulated cluster (API server + these controllers) and official-client handles."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client, config

from tests.kubesim.harness import KubeSim


@pytest.fixture(scope="module")
def sim(kubesim_cluster: KubeSim) -> KubeSim:
    """The module's own kubesim subprocess, started with port 0 (xdist-safe)."""
    return kubesim_cluster


@pytest.fixture(scope="module")
def api_client(sim: KubeSim) -> Iterator[client.ApiClient]:
    api = config.new_client_from_config(config_file=str(sim.kubeconfig))
    yield api
    api.close()


@pytest.fixture(scope="module")
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture(scope="module")
def batch(api_client: client.ApiClient) -> client.BatchV1Api:
    return client.BatchV1Api(api_client)


@pytest.fixture
def ns(core: client.CoreV1Api) -> str:
    """A fresh namespace per test, so tests never see each other's Jobs, pods or events."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    core.create_namespace({"metadata": {"name": name}})
    return name
