"""Finished trial Jobs are deleted once their results are recorded; the best one stays."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.tools import ensure_kube_binaries

from .harness import Cluster, OperatorProcess, eventually, tuningjob

TRIALS = 8


def operator_for(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory, namespace: str, *flags: str
) -> Iterator[OperatorProcess]:
    cluster.kubectl("create", "namespace", namespace)
    cluster.install_operator_rbac(ensure_kube_binaries()["helm"], {"watchNamespaces": [namespace]})
    process = OperatorProcess(
        cluster.sim,
        tmp_path_factory.mktemp(namespace),
        "--namespace",
        namespace,
        "--finished-job-retention",
        "0",
        *flags,
    ).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def keeping_best(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    yield from operator_for(cluster, tmp_path_factory, "keep-best")


@pytest.fixture(scope="module")
def keeping_none(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    yield from operator_for(cluster, tmp_path_factory, "keep-none", "--no-keep-best-job")


def run(cluster: Cluster, name: str, namespace: str) -> dict[str, object]:
    manifest = tuningjob(name, max_trials=TRIALS, parallel=2)
    manifest["metadata"]["namespace"] = namespace
    cluster.apply(manifest)
    cluster.wait_condition(name, "Complete", namespace=namespace, timeout=180)
    status: dict[str, object] = cluster.tuningjob(name, namespace)["status"]
    return status


def job_creates(cluster: Cluster, namespace: str) -> list[str]:
    return [
        r["name"] or r["path"]
        for r in cluster.sim.requests(verb="create", resource="jobs", namespace=namespace)
        if r["userAgent"] == "kubetune-operator" and r["code"] in (200, 201)
    ]


def test_finished_jobs_go_and_the_best_one_stays(
    cluster: Cluster, keeping_best: OperatorProcess
) -> None:
    status = run(cluster, "retained", "keep-best")

    assert status["trials"] == {
        "active": 0,
        "queued": 0,
        "succeeded": TRIALS,
        "failed": 0,
        "pruned": 0,
        "retried": 0,
        "total": TRIALS,
    }
    best = status["bestTrial"]
    assert isinstance(best, dict)
    names = eventually(
        lambda: (
            names
            if (names := [j["metadata"]["name"] for j in cluster.jobs("retained", "keep-best")])
            == [best["jobName"]]
            else None
        ),
        timeout=30,
        message=f"only the best trial's Job {best['jobName']} left",
    )
    assert names == [best["jobName"]]
    # Every trial's Job was created exactly once: no recorded trial was relaunched.
    assert len(job_creates(cluster, "keep-best")) == TRIALS
    # And nothing about the result changed once the Jobs were gone.
    after = cluster.tuningjob("retained", "keep-best")["status"]
    assert after["trials"] == status["trials"]
    assert after["bestTrial"] == best


def test_without_keep_best_every_finished_job_goes(
    cluster: Cluster, keeping_none: OperatorProcess
) -> None:
    status = run(cluster, "unretained", "keep-none")

    assert status["trials"]["succeeded"] == TRIALS  # type: ignore[index]
    eventually(
        lambda: cluster.jobs("unretained", "keep-none") == [],
        timeout=30,
        message="every trial Job deleted",
    )
    assert len(job_creates(cluster, "keep-none")) == TRIALS

    def pods_left() -> list[str]:
        return [p.metadata.name for p in cluster.core.list_namespaced_pod("keep-none").items]

    eventually(
        lambda: pods_left() == [],
        timeout=30,
        message=lambda: f"trial pods deleted with their Jobs (left: {pods_left()})",
    )
