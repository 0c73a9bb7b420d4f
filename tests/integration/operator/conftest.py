"""One emulated cluster with the CRD installed and one operator process per test module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.chart.support import unpermitted_operator_calls
from tests.kubesim.harness import KubeSim

from .harness import CRD, Cluster, OperatorProcess


@pytest.fixture(scope="module")
def sim(
    tmp_path_factory: pytest.TempPathFactory, kube_binaries: dict[str, Path]
) -> Iterator[KubeSim]:
    with KubeSim(controllers=True, work_dir=tmp_path_factory.mktemp("kubesim")) as emulator:
        yield emulator
        # Whatever the module's tests made the operator do, the Helm chart's RBAC must allow.
        missing = unpermitted_operator_calls(kube_binaries["helm"], emulator.requests())
        assert not missing, (
            "the operator made calls the chart's RBAC does not permit; add them to "
            "charts/kubetune/templates/_helpers.tpl:\n" + "\n".join(map(str, missing))
        )


@pytest.fixture(scope="module")
def cluster(sim: KubeSim, kube_binaries: dict[str, Path]) -> Cluster:
    cluster = Cluster(sim, kube_binaries["kubectl"])
    cluster.kubectl("apply", "-f", str(CRD))
    cluster.kubectl(
        "wait", "--for=condition=Established", "crd/tuningjobs.kubetune.io", "--timeout=30s"
    )
    # Every operator here runs as the chart's ServiceAccount under the chart's RBAC (the
    # default, cluster-wide install; modules of namespaced operators re-install it scoped).
    cluster.install_operator_rbac(kube_binaries["helm"])
    return cluster


@pytest.fixture(scope="module")
def operator(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    process = OperatorProcess(cluster.sim, tmp_path_factory.mktemp("operator")).start()
    yield process
    process.stop()
