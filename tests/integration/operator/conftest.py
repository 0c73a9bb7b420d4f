"""One emulated cluster with the CRD installed and one operator process per test module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kubesim.harness import KubeSim

from .harness import CRD, Cluster, OperatorProcess


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeSim]:
    with KubeSim(controllers=True, work_dir=tmp_path_factory.mktemp("kubesim")) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def cluster(sim: KubeSim, kube_binaries: dict[str, Path]) -> Cluster:
    cluster = Cluster(sim, kube_binaries["kubectl"])
    cluster.kubectl("apply", "-f", str(CRD))
    cluster.kubectl(
        "wait", "--for=condition=Established", "crd/tuningjobs.kubetune.io", "--timeout=30s"
    )
    return cluster


@pytest.fixture(scope="module")
def operator(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    process = OperatorProcess(cluster.sim, tmp_path_factory.mktemp("operator")).start()
    yield process
    process.stop()
